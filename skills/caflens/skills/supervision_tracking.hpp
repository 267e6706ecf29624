#pragma once

#include <memory>

#include "caflens/skills/process_table.hpp"
#include "caflens/supervision/observer.hpp"

namespace caflens::skills {

/// Puts supervised children into the process table: a child spawned with
/// `spawn_tracked` gets its child id as name (unless it has an explicit one)
/// and its supervisor as parent; any other child is registered without
/// counters, so trees and crash records still name it. Exits of untracked
/// children are recorded like those of tracked actors.
///
/// Thread-safe.
class supervision_tracker final : public supervision::child_observer {
public:
  explicit supervision_tracker(process_table& table) : table_(table) {
  }

  void child_started(const supervision::child_event& ev,
                     const caf::actor& child) override;

  void child_exited(const supervision::child_event& ev, caf::actor_id child,
                    const caf::error& reason) override;

  /// Stopped by the supervisor: recorded as an exit, never as a crash.
  void child_terminated(const supervision::child_event& ev,
                        caf::actor_id child,
                        const caf::error& reason) override;

private:
  process_table& table_;
};

/// Installs a `supervision_tracker` as the default child observer: every
/// supervisor spawned afterwards without an observer of its own tracks its
/// children in `table`.
void track_supervised_children(process_table& table = process_table::global());

} // namespace caflens::skills
