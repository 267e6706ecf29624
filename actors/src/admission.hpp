// Admission of investigation requests: validation, the queue behind the
// running investigation, callers that go away (private header). No actor
// code.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/error.hpp"

#include "investigation.hpp"

namespace caflens::actors {

class engine;

class admission {
public:
  explicit admission(size_t max_queue) : max_queue_(max_queue) {
  }

  /// A clear error for a request no investigation can come of: empty or
  /// huge reason, options out of range, unknown skills.
  static caf::error validate(const investigate_request& req,
                             const engine& eng);

  /// While `running` (a trace id) runs: queues `e`, or answers its waiters
  /// with `busy` (the request asked not to queue) or `queue_full`. True
  /// when queued.
  bool enqueue(request_entry e, const std::string& running);

  /// The next request to start, oldest first.
  std::optional<request_entry> next();

  /// Cancels the queued request `trace_id` (its waiters get `cancelled`).
  bool cancel(const std::string& trace_id);

  /// `caller` went away: it waits no more; a request nobody else waits for
  /// leaves the queue (automatic triggers stay).
  void drop_caller(const caf::actor_addr& caller);

  size_t size() const noexcept {
    return queue_.size();
  }

  /// The queue as the `status` view lists it.
  nlohmann::json status() const;

private:
  size_t max_queue_;
  std::deque<request_entry> queue_;
};

/// Removes `caller`'s waiters from `ws`.
void drop_waiters(std::vector<waiter>& ws, const caf::actor_addr& caller);

} // namespace caflens::actors
