#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace caflens::telemetry {

/// The correlation id of the calling thread's innermost scope, or "".
std::string_view current_correlation() noexcept;

/// A fresh correlation id: a W3C trace id (32 hex), so exporters can use it
/// as one.
std::string new_correlation_id();

/// Sets the calling thread's correlation id until destroyed (then the
/// previous one is back), in the manner of DSPex's `with_correlation`:
/// every event `execute` runs on this thread meanwhile carries the
/// metadata entry `correlation_id` (unless the event names one itself).
///
/// Across actors: put `current_correlation()` into the message and open a
/// scope with it in the receiving handler, so one request's events share
/// one id on every actor and node.
class correlation_scope {
public:
  explicit correlation_scope(std::string id);
  ~correlation_scope();

  correlation_scope(const correlation_scope&) = delete;
  correlation_scope& operator=(const correlation_scope&) = delete;

  const std::string& id() const noexcept {
    return id_;
  }

private:
  std::string id_;
  const std::string* previous_;
};

/// Runs `fn` inside a correlation scope (a new id when `id` is empty) and
/// returns its result.
template <class F>
std::invoke_result_t<F> with_correlation(std::string id, F&& fn) {
  correlation_scope scope{id.empty() ? new_correlation_id() : std::move(id)};
  return std::forward<F>(fn)();
}

namespace detail {

/// The thread's innermost correlation id (initial-exec TLS: one load).
extern constinit __attribute__((tls_model("initial-exec"))) thread_local const
  std::string* tl_correlation;

/// The thread's innermost correlation id, or nullptr.
inline const std::string* correlation_slot() noexcept {
  return tl_correlation;
}

} // namespace detail

} // namespace caflens::telemetry
