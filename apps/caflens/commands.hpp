// The subcommands of `caflens`: their options (filled by main.cpp, which
// parses the command line with CLI11) and what runs them. Each `run_*`
// returns the process's exit code (see `exit_code`).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/config.hpp"
#include "caflens/caflens.hpp"
#include "caflens/demo/pipeline.hpp"
#include "caflens/demo/scenario.hpp"

namespace caflens::cli {

/// The exit codes of every command (documented in `caflens --help`).
enum exit_code : int {
  ok = 0,
  /// The command ran and failed (no node connected, an investigation or a
  /// store that failed).
  failure = 1,
  /// Bad command line.
  usage = 2,
  /// What was asked for does not exist (an unknown trace id).
  not_found = 3,
};

/// TLS files for CAF's OpenSSL module (`openssl.*` keys).
struct tls_files {
  std::string cert, key, ca;

  bool on() const {
    return !cert.empty() || !key.empty() || !ca.empty();
  }

  /// Loads the I/O module, and the OpenSSL module when TLS is on.
  void apply(caf::actor_system_config& cfg) const;
};

// -- caflens demo -------------------------------------------------------------

struct demo_options {
  demo::scenario scenario = demo::scenario::slow_consumer;
  bool json = false;
  bool quiet = false;
  std::chrono::milliseconds warmup{2000};
  /// More than 1: the demo as that many node processes on loopback.
  int nodes = 1;
  /// Keep the investigation in this SQLite store (`caflens history`);
  /// empty: a temporary one.
  std::string store;
  /// Serve the live dashboard on the running demo (it then keeps running
  /// after the report until SIGINT or SIGTERM); a temporary store unless
  /// `store` is given.
  bool dashboard = false;
  std::string dashboard_listen = "127.0.0.1:0";
  /// Needed when `dashboard_listen` is not loopback (or
  /// CAFLENS_DASHBOARD_TOKEN).
  std::string dashboard_token;
};

int run_demo(const demo_options& opts);

/// `caflens serve`: the dashboard of the nodes given, from this process.
struct serve_options {
  std::vector<std::string> nodes;
  std::string listen = "127.0.0.1:0";
  std::string token;
  tls_files tls;
};

int run_serve(const serve_options& opts);

/// `caflens shell`: a Lua REPL on a node's skill callbacks.
struct shell_options {
  std::string node;
  /// Run this chunk and exit (its result, or its error and exit code 1).
  std::string code;
  bool json = false;
  tls_files tls;
};

int run_shell(const shell_options& opts);

/// From now on SIGINT and SIGTERM are remembered (not fatal) until
/// `wait_for_stop_signal` returns.
void install_stop_handlers();

/// Blocks until SIGINT or SIGTERM (returns at once when one came since
/// `install_stop_handlers`).
void wait_for_stop_signal();

/// Prints the scenarios with their faults.
void print_scenarios();

int run_cluster_demo(demo::scenario sc, int nodes, bool json, bool quiet);

// -- caflens node ---------------------------------------------------------------

struct node_options {
  std::string listen = "127.0.0.1:0";
  std::string name;
  demo::scenario scenario = demo::scenario::healthy;
  int64_t inject_after_ms = 1000;
  bool app = true;
  int64_t idle_actors = 0;
  tls_files tls;
};

int run_node(const node_options& opts);

// -- caflens investigate ----------------------------------------------------------

struct investigate_cli_options {
  std::vector<std::string> nodes;
  std::string reason;
  bool json = false;
  /// No progress lines on stderr.
  bool quiet = false;
  int64_t deadline_ms = 60'000;
  std::vector<std::string> skills;
  tls_files tls;
};

int run_investigate(const investigate_cli_options& opts);

/// The cluster view of `nodes`: name, state, version, skills, round trip;
/// exit 1 when one did not answer.
int run_nodes(const std::vector<std::string>& nodes, bool json,
              const tls_files& tls);

/// Waits (bounded by `timeout`) until every peer of `l` answered its
/// handshake or failed; returns how many are connected.
size_t await_peers(const caflens::lens& l, std::chrono::milliseconds timeout);

/// A lens of this process (no application: operators run on the nodes)
/// attached to `nodes` in an actor system of its own, once every node
/// answered its handshake or failed. Stopped when destroyed.
class attached_lens {
public:
  /// `role` names the process ("coordinator", "top"); an error is the
  /// lens's start error.
  static caf::expected<std::unique_ptr<attached_lens>>
  start(std::string_view role, std::vector<std::string> nodes,
        const tls_files& tls);

  ~attached_lens();

  caflens::lens& lens() {
    return *lens_;
  }

  /// How many nodes are connected.
  size_t connected() const noexcept {
    return up_;
  }

private:
  attached_lens() = default;

  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::optional<caflens::lens> lens_;
  size_t up_ = 0;
};

// -- caflens top ------------------------------------------------------------------

struct top_options {
  std::string node;
  std::chrono::milliseconds interval{1000};
  /// mailbox, rate, handler, memory or growth.
  std::string sort = "mailbox";
  /// Only actors whose name or kind contains it.
  std::string filter;
  /// One frame, then exit (also without a terminal).
  bool once = false;
  bool json = false;
  tls_files tls;
};

int run_top(const top_options& opts);

// -- caflens events, history, show ----------------------------------------------

/// The telemetry catalogue (`prefix`: only names starting with it).
int run_events(bool json, const std::string& prefix);

struct history_options {
  /// The SQLite file; empty: CAFLENS_STORE.
  std::string store;
  std::string pattern;
  std::string culprit;
  std::string min_severity;
  /// Only investigations started within the last `since_ms` (0: all).
  int64_t since_ms = 0;
  size_t limit = 20;
  bool json = false;
};

int run_history(const history_options& opts);

/// One stored investigation: its report, operators and timeline.
int run_show(const std::string& trace_id, const std::string& store,
             bool json);

/// The `--json` envelope of every read command: {"caflens_cli": 1,
/// "command": ..., "data": ...}; scripts check the version first.
constexpr int json_version = 1;

// -- shared by the demo commands -----------------------------------------------

struct demo_app {
  std::unique_ptr<demo::pipeline> pipe;
  caflens::config lens;
};

void demo_system_config(caf::actor_system_config& cfg);

caf::expected<demo_app> start_demo_app(caf::actor_system& sys);

} // namespace caflens::cli
