#pragma once

#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/supervision/child_spec.hpp"

namespace caflens::supervision {

/// Spawns an OTP-style supervisor that starts `children` left to right.
///
/// Validation errors (see `validate`) are returned at once. Starting the
/// children happens inside the new actor: when a start fails, the already
/// started children are stopped right to left and the supervisor exits with
/// `supervision_errc::failed_to_start_child` (id, reason) — monitor or link it
/// to see that. A supervisor that gets an exit from an actor that is not one
/// of its children (its parent, or `send_exit`) stops its children right to
/// left and exits with that reason; normal exits of non-children are ignored.
///
/// The handle is an untyped `caf::actor` that answers the requests in
/// `messages.hpp`.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           supervisor_flags flags,
                                           std::vector<child_spec> children);

/// A spec that starts a nested supervisor (type supervisor, shutdown
/// infinity, as OTP recommends). Its parent waits until the nested
/// supervisor's children are started.
child_spec supervisor_child(std::string id, supervisor_flags flags,
                            std::vector<child_spec> children,
                            restart_type restart = restart_type::permanent);

/// Announces every message type of this component (requests, replies,
/// reports) and registers the `supervisor` error category with `cfg`. Call
/// it on every node that talks to supervisors: unannounced types arrive empty
/// on remote nodes.
void add_message_types(caf::actor_system_config& cfg);

} // namespace caflens::supervision
