// Spawning the cluster's actors (private header).
#pragma once

#include <memory>

#include "caf/actor.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/cluster.hpp"
#include "caflens/sandbox/execute_result.hpp"

#include <nlohmann/json.hpp>

namespace caflens::actors {

class engine;

/// The modules the cluster settings need are loaded: CAF's I/O module when
/// listening or with peers, its OpenSSL module with TLS.
caf::error check_modules(caf::actor_system& sys, const cluster_config& cl);

/// One look of `skill` on this node, as a snapshot.
caf::expected<snapshot> take_snapshot(engine& eng, const std::string& skill,
                                      const std::string& trace_id = {});

/// Runs `code` in the engine's sandbox with the callbacks of every skill
/// (the first skill to name a callback wins) on the calling thread; the
/// sandbox bounds instructions, memory and wall time.
caf::expected<sandbox::execute_result>
run_lua(engine& eng, const std::string& code,
        const std::string& trace_id = {});

/// The result as JSON (duration in ms) and back.
nlohmann::json to_json(const sandbox::execute_result& r);
sandbox::execute_result execute_result_from(const nlohmann::json& j);

/// A one-shot detached actor answering one `remote_execute` (the agent
/// stays responsive while a program runs).
caf::actor spawn_executor(caf::actor_system& sys, std::shared_ptr<engine> eng);

/// A one-shot actor answering one `remote_profile` after its duration.
caf::actor spawn_profiler(caf::actor_system& sys, std::shared_ptr<engine> eng);

/// Each node's quantiles and the cluster's (the nodes' sketches merged).
message_profile merge_profiles(std::string kind, std::string pattern,
                               std::vector<node_profile> nodes);

/// Spawns the node agent and publishes it on `config.cluster.listen_host`
/// and `listen_port` (a restarted agent takes over the port of the one
/// before it); the engine learns the port.
caf::expected<caf::actor> spawn_node_agent(caf::actor_system& sys,
                                           std::shared_ptr<engine> eng);

/// Spawns the connector: it connects to `config.cluster.peers`, heartbeats
/// them, reconnects, and tells the coordinator when a node comes or goes.
caf::expected<caf::actor> spawn_connector(caf::actor_system& sys,
                                          std::shared_ptr<engine> eng);

} // namespace caflens::actors
