#include "caflens/skills/supervision_tracking.hpp"

#include "caf/node_id.hpp"

namespace caflens::skills {

void supervision_tracker::child_started(const supervision::child_event& ev,
                                        const caf::actor& child) {
  if (!child)
    return;
  std::string name{ev.child_id};
  if (!table_.annotate(child.id(), name, ev.supervisor_actor))
    table_.add_untracked(child.id(), child.address(),
                         {name,
                          ev.type == supervision::child_type::supervisor
                            ? "supervisor"
                            : "supervised",
                          ev.supervisor_actor},
                         to_string(child.node()));
}

void supervision_tracker::child_exited(const supervision::child_event&,
                                       caf::actor_id child,
                                       const caf::error& reason) {
  // Tracked children left the table in their own cleanup already.
  table_.remove(child, reason);
}

void supervision_tracker::child_terminated(const supervision::child_event&,
                                           caf::actor_id child,
                                           const caf::error& reason) {
  table_.mark_terminated(child);
  table_.remove(child, reason);
}

void track_supervised_children(process_table& table) {
  supervision::set_default_child_observer(
    std::make_shared<supervision_tracker>(table));
}

} // namespace caflens::skills
