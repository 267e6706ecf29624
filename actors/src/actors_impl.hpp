// Spawning the engine's actors (private header).
#pragma once

#include <memory>

#include "caf/fwd.hpp"

#include "caflens/actors/messages.hpp"

namespace caflens::actors {

class engine;

/// Spawns one operator (detached when the brain may block).
operator_actor spawn_operator(caf::actor_system& sys,
                              std::shared_ptr<engine> eng, operator_spec spec);

/// Spawns the coordinator (detached when the brain may block).
coordinator_actor spawn_coordinator(caf::actor_system& sys,
                                    std::shared_ptr<engine> eng);

} // namespace caflens::actors
