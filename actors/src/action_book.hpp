// The lens's actions: what is registered and allowed, every proposal and
// its fate, the audit trail (private header). Thread-safe: the coordinator
// proposes, a user's thread approves, a helper actor runs.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/actions.hpp"

namespace caflens::actors {

/// Runs `fn` once on a detached helper actor (an action may block).
void run_detached(caf::actor_system& sys, std::function<void()> fn);

class action_book {
public:
  /// Told about every record as it changes (subscribers, telemetry).
  using listener = std::function<void(const action_record&)>;

  action_book(action_settings settings, listener on_change);

  action_mode mode() const noexcept {
    return settings_.mode;
  }

  /// The registered, allow-listed actions a brain may propose (none when
  /// read-only).
  std::vector<const action_definition*> offered() const;

  /// A proposal by `by`. Refused (a `denied` record, audited, and the
  /// error) when actions are read-only, the action is unknown or not
  /// allow-listed, or its arguments do not fit its parameters.
  caf::expected<action_record> propose(const std::string& action,
                                       const nlohmann::json& args,
                                       std::string reason,
                                       std::string trace_id,
                                       std::string insight_id,
                                       std::string by);

  /// The proposals insight `x` makes: every offered action whose patterns
  /// include its pattern and that derives arguments from it.
  std::vector<action_record>
  propose_for(const insight& x, const std::vector<notification>& evidence,
              const std::string& by);

  /// Approves proposal `id` and runs it on this thread: `executed` or
  /// `failed` (then the error).
  caf::expected<action_record> approve(const std::string& id,
                                       const std::string& who);

  /// Rejects proposal `id`.
  caf::expected<action_record> reject(const std::string& id,
                                      const std::string& who,
                                      const std::string& why);

  /// Runs proposal `id` now (autonomous mode, on a helper actor).
  caf::expected<action_record> execute(const std::string& id,
                                       const std::string& by);

  /// Every record, oldest first (at most `max_records`, the oldest decided
  /// ones dropped first).
  std::vector<action_record> records() const;

  std::optional<action_record> find(const std::string& id) const;

  static constexpr size_t max_records = 1000;

private:
  action_record& add(action_record x);
  /// The record `id`, or null (the caller holds the lock).
  action_record* locate(const std::string& id);
  /// The record `id` while it is still proposed (the caller holds the lock).
  caf::expected<action_record*> pending(const std::string& id);
  caf::expected<action_record> run(const std::string& id,
                                   const std::string& by);
  const action_definition* definition(const std::string& name) const;
  bool allowed(const std::string& name) const;
  void changed(const action_record& x);

  action_settings settings_;
  listener on_change_;
  mutable std::mutex mtx_;
  std::vector<action_record> records_;
  uint64_t next_id_ = 0;
};

} // namespace caflens::actors
