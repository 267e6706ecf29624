// The subcommands of the `caflens` executable. Each one parses its own
// arguments (everything after its name) and returns the process's exit code:
// 0 success, 1 failure, 2 usage error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <memory>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/config.hpp"
#include "caflens/demo/pipeline.hpp"
#include "caflens/demo/scenario.hpp"

namespace caflens::cli {

/// One subcommand of `caflens`.
struct command {
  std::string_view name;
  /// One line for `caflens --help`.
  std::string_view summary;
  int (*run)(const std::vector<std::string>& args);
};

/// Every subcommand, in the order `caflens --help` lists them.
const std::vector<command>& commands();

/// `caflens demo`: runs the upload pipeline with one injected fault and
/// investigates it.
int demo_main(const std::vector<std::string>& args);

/// `caflens node`: the demo pipeline with a listening node agent.
int node_main(const std::vector<std::string>& args);

/// `caflens investigate --node HOST:PORT ... REASON`.
int investigate_main(const std::vector<std::string>& args);

/// `caflens demo --nodes N`: N node processes, the fault on the second.
int run_cluster_demo(demo::scenario sc, int nodes, bool json, bool quiet);

/// The demo pipeline running, and a lens configuration that watches it
/// (its logs, metrics, supervisor, thresholds).
struct demo_app {
  std::unique_ptr<demo::pipeline> pipe;
  caflens::config lens;
};

/// The actor system settings of the demo's processes (message types, four
/// scheduler threads for the blocking faults, CAF's logger quiet).
void demo_system_config(caf::actor_system_config& cfg);

/// Starts the demo pipeline in `sys` (supervised children tracked by name).
caf::expected<demo_app> start_demo_app(caf::actor_system& sys);

/// Prints "caflens <cmd>: <what>" and a hint to stderr; returns 2.
int usage_error(std::string_view cmd, const std::string& what);

} // namespace caflens::cli
