#pragma once

#include <memory>
#include <string_view>

#include "caf/actor.hpp"
#include "caf/error.hpp"

#include "caflens/supervision/child_spec.hpp"

namespace caflens::supervision {

/// Identifies a child in observer callbacks. The views are valid only during
/// the call.
struct child_event {
  std::string_view supervisor;
  caf::actor_id supervisor_actor = 0;
  std::string_view child_id;
  child_type type = child_type::worker;
  restart_type restart = restart_type::permanent;
};

/// The hook that makes supervised children tracked actors: a supervisor
/// calls its observer for every child it starts and every child exit it
/// sees. Callbacks run in the supervisor's context (one actor at a time per
/// supervisor, but different supervisors call concurrently), so
/// implementations must be thread-safe and cheap and must not block.
class child_observer {
public:
  virtual ~child_observer();

  /// `child` was started (initially, through the API or by a restart).
  virtual void child_started(const child_event& ev,
                             const caf::actor& child) = 0;

  /// The child `child` terminated with `reason` (crash, normal exit, or
  /// stopped by its supervisor).
  virtual void child_exited(const child_event& ev, caf::actor_id child,
                            const caf::error& reason) = 0;

  /// The start function failed; nothing runs. Default: does nothing.
  virtual void child_start_failed(const child_event& ev,
                                  const caf::error& reason);

  /// The supervisor itself stopped the child (its own shutdown, a sibling's
  /// restart under one_for_all / rest_for_one, `terminate_child`): not a
  /// crash of the child, whatever `reason` (e.g. `kill` after the shutdown
  /// timeout). Default: calls `child_exited`.
  virtual void child_terminated(const child_event& ev, caf::actor_id child,
                                const caf::error& reason);

  /// The child's exit (`reason`) was one restart too many: the supervisor
  /// reached its restart intensity (`restarts` within `period_ms`) and
  /// gives up — it shuts down. Default: does nothing.
  virtual void intensity_exceeded(const child_event& ev,
                                  const caf::error& reason, uint32_t restarts,
                                  uint32_t intensity, int64_t period_ms);
};

/// Sets the observer used by supervisors whose flags name none. Affects
/// supervisors spawned afterwards. Thread-safe.
void set_default_child_observer(std::shared_ptr<child_observer> observer);

/// The observer set by `set_default_child_observer`, or null. Thread-safe.
std::shared_ptr<child_observer> default_child_observer();

} // namespace caflens::supervision
