// `caflens node`: the demo pipeline with a lens whose node agent listens;
// `caflens investigate --node HOST:PORT`: investigates running nodes;
// `caflens demo --nodes N`: both, as N processes on loopback.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/io/middleman.hpp"
#include "caf/openssl/manager.hpp"

#include "caflens/caflens.hpp"
#include "caflens/demo/pipeline.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/metrics.hpp"

#include "args.hpp"
#include "commands.hpp"
#include "node_process.hpp"

namespace caflens::cli {

namespace {

using namespace std::chrono_literals;

/// TLS files for CAF's OpenSSL module (`openssl.*` keys).
struct tls_files {
  std::string cert, key, ca;

  bool on() const {
    return !cert.empty() || !key.empty() || !ca.empty();
  }

  /// Loads the I/O module, and the OpenSSL module when TLS is on.
  void apply(caf::actor_system_config& cfg) const {
    cfg.load<caf::io::middleman>();
    if (!on())
      return;
    cfg.load<caf::openssl::manager>();
    if (!cert.empty())
      cfg.set("openssl.certificate", cert);
    if (!key.empty())
      cfg.set("openssl.key", key);
    if (!ca.empty())
      cfg.set("openssl.cafile", ca);
  }

  /// Reads --tls-cert/--tls-key/--tls-ca; true when the argument was one.
  bool read(arg_reader& in) {
    return in.option("--tls-cert", cert) || in.option("--tls-key", key)
           || in.option("--tls-ca", ca);
  }
};

constexpr const char* tls_help
  = "  --tls-cert FILE    TLS through CAF's OpenSSL module: this node's "
    "certificate\n"
    "  --tls-key FILE     its private key\n"
    "  --tls-ca FILE      the CA that signed the peers' certificates "
    "(verified)\n";

// -- caflens node ---------------------------------------------------------------

void node_help() {
  std::cout
    << "usage: caflens node [--listen HOST:PORT] [--name NAME] "
       "[--scenario NAME]\n"
       "                    [--inject-after-ms MS] [--tls-cert F --tls-key F "
       "--tls-ca F]\n\n"
       "Runs the demo upload pipeline with a lens whose node agent listens "
       "for\ncoordinators (caflens investigate --node, caflens demo --nodes). "
       "Prints\n\"listening HOST:PORT\" on stdout once it listens, then runs "
       "until SIGTERM or\nSIGINT. The cluster token comes from "
       "CAFLENS_CLUSTER_TOKEN (never from the\ncommand line, where ps "
       "shows it).\n\noptions:\n"
       "  --listen HOST:PORT where to listen (default 127.0.0.1:0, any free "
       "port)\n"
       "  --name NAME        the node's name (default node-<pid>)\n"
       "  --scenario NAME    the fault to inject (default healthy)\n"
       "  --inject-after-ms MS  when (default 1000)\n"
       "  --no-app           no pipeline: the lens alone (benchmarks)\n"
       "  --idle-actors N    also N idle tracked actors (benchmarks)\n"
    << tls_help << "  -h, --help         this text\n";
}

} // namespace

int node_main(const std::vector<std::string>& args) {
  constexpr std::string_view cmd = "node";
  std::string listen = "127.0.0.1:0", name, scenario_name = "healthy", value;
  int64_t inject_after = 1000;
  int64_t idle_actors = 0;
  bool app = true;
  tls_files tls;
  arg_reader in{cmd, args};
  while (in.next()) {
    auto& a = in.arg();
    if (a == "-h" || a == "--help") {
      node_help();
      return 0;
    }
    if (a == "--no-app") {
      app = false;
      continue;
    }
    if (in.option("--idle-actors", value)) {
      if (in.failed())
        return 2;
      if (!parse_integer(value, 0, 1'000'000, idle_actors))
        return usage_error(cmd, "--idle-actors takes 0..1000000");
      continue;
    }
    if (in.option("--listen", listen) || in.option("--name", name)
        || in.option("--scenario", scenario_name) || tls.read(in)) {
      if (in.failed())
        return 2;
    } else if (in.option("--inject-after-ms", value)) {
      if (in.failed())
        return 2;
      if (!parse_integer(value, 0, INT64_MAX, inject_after))
        return usage_error(cmd, "--inject-after-ms takes milliseconds >= 0");
    } else {
      return in.unexpected();
    }
  }
  demo::scenario sc;
  if (!demo::parse_scenario(scenario_name, sc))
    return usage_error(cmd, "unknown scenario '" + scenario_name + "'");
  if (name.empty())
    name = "node-" + std::to_string(::getpid());
  // SIGTERM and SIGINT end it; nothing but the port line goes to stdout.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  caf::actor_system_config cfg;
  demo_system_config(cfg);
  tls.apply(cfg);
  caf::actor_system sys{cfg};
  demo_app demo_app;
  if (app) {
    auto started = start_demo_app(sys);
    if (!started) {
      std::cerr << "caflens node: the pipeline did not start: "
                << to_string(started.error()) << '\n';
      return 1;
    }
    demo_app = std::move(*started);
  }
  auto& pipe = demo_app.pipe;
  auto& lcfg = demo_app.lens;
  lcfg.node_name = name;
  std::vector<caf::actor> idle;
  for (int64_t i = 0; i < idle_actors; ++i)
    idle.push_back(skills::spawn_tracked(
      sys, {"idle-" + std::to_string(i), "idle", 0},
      [](caf::event_based_actor*, int) {
        return caf::behavior{[](int) {}};
      },
      0));
  if (!parse_address(listen, lcfg.cluster.listen_host,
                     lcfg.cluster.listen_port))
    return usage_error(cmd, "--listen takes HOST:PORT, not '" + listen + "'");
  lcfg.cluster.listen = true;
  lcfg.cluster.tls = tls.on();
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << "caflens node: " << to_string(lens.error()) << '\n';
    if (pipe)
      pipe->stop();
    return 1;
  }
  std::cout << "listening " << lcfg.cluster.listen_host << ':'
            << lens->node_port() << std::endl;
  std::cerr << "caflens node " << name << ": listening on "
            << lcfg.cluster.listen_host << ':' << lens->node_port()
            << (tls.on() ? " (TLS)" : "") << '\n';
  // The fault, after a warm-up (baselines), from a thread of its own.
  std::thread injector{[p = pipe.get(), sc, inject_after, name] {
    if (p == nullptr)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{inject_after});
    if (sc != demo::scenario::healthy)
      std::cerr << "caflens node " << name << ": injecting "
                << demo::to_string(sc) << '\n';
    p->inject(sc);
  }};
  int sig = 0;
  sigwait(&stop_signals, &sig);
  injector.join();
  std::cerr << "caflens node " << name << ": stopping\n";
  if (pipe)
    pipe->stop();
  for (auto& a : idle)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  lens->stop();
  return 0;
}

// -- caflens investigate ------------------------------------------------------

namespace {

void investigate_help() {
  std::cout
    << "usage: caflens investigate --node HOST:PORT [--node ...] [--json]\n"
       "                           [--deadline-ms MS] [--skills a,b] "
       "[--tls-*] REASON\n\n"
       "Connects to running caflens nodes (their node agents), runs one\n"
       "investigation across all of them and prints the report (or JSON). "
       "The\ncluster token comes from CAFLENS_CLUSTER_TOKEN.\n\n"
       "options:\n"
       "  --node HOST:PORT   a node agent (repeat for more)\n"
       "  --json             print the result as JSON\n"
       "  --deadline-ms MS   the investigation's deadline (default 60000)\n"
       "  --skills a,b       only these skills\n"
    << tls_help
    << "  -h, --help         this text\n\n"
       "exit codes: 0 a result (possibly partial), 1 no node connected or "
       "the\ninvestigation failed, 2 usage error\n";
}

std::vector<std::string> split_commas(const std::string& x) {
  std::vector<std::string> out;
  std::string cur;
  for (auto c : x + ",")
    if (c == ',') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  return out;
}

/// Runs one investigation over `nodes`; prints the result. The exit code.
int investigate_nodes(const std::vector<std::string>& nodes,
                      const std::string& reason, investigate_options opts,
                      bool json, bool quiet, const tls_files& tls) {
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  tls.apply(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  caflens::config lcfg;
  lcfg.node_name = "coordinator-" + std::to_string(::getpid());
  lcfg.cluster.peers = nodes;
  lcfg.cluster.tls = tls.on();
  // This process has no application: operators run on the nodes only.
  lcfg.cluster.local_operators = false;
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << "caflens investigate: " << to_string(lens.error()) << '\n';
    return 1;
  }
  // Wait (bounded) until every node answered the handshake, or failed.
  auto until = std::chrono::steady_clock::now()
               + lcfg.cluster.connect_timeout + 1s;
  size_t up = 0;
  for (;;) {
    up = 0;
    bool pending = false;
    for (auto& n : lens->cluster()) {
      up += n.state == node_state::connected ? 1 : 0;
      pending |= n.state == node_state::connecting;
    }
    if (!pending || std::chrono::steady_clock::now() > until)
      break;
    std::this_thread::sleep_for(20ms);
  }
  for (auto& n : lens->cluster())
    if (!quiet || n.state != node_state::connected)
      std::cerr << "caflens investigate: " << n.address << ' '
                << (n.name.empty() ? "" : "(" + n.name + ") ")
                << to_string(n.state)
                << (n.error.empty() ? "" : ": " + n.error) << '\n';
  if (up == 0) {
    std::cerr << "caflens investigate: no node connected\n";
    lens->stop();
    return 1;
  }
  auto result = lens->investigate(reason, opts);
  lens->stop();
  if (!result) {
    std::cerr << "caflens investigate: " << to_string(result.error()) << '\n';
    return 1;
  }
  if (json)
    std::cout << to_json(*result).dump(2) << '\n';
  else
    std::cout << render_report(*result);
  std::cout << std::flush;
  return 0;
}

} // namespace

int investigate_main(const std::vector<std::string>& args) {
  constexpr std::string_view cmd = "investigate";
  std::vector<std::string> nodes;
  std::string reason, value;
  bool json = false;
  investigate_options opts;
  opts.deadline_ms = 60'000;
  tls_files tls;
  arg_reader in{cmd, args};
  while (in.next()) {
    auto& a = in.arg();
    if (a == "-h" || a == "--help") {
      investigate_help();
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (in.option("--node", value)) {
      if (in.failed())
        return 2;
      std::string host;
      uint16_t port = 0;
      if (!parse_address(value, host, port) || port == 0)
        return usage_error(cmd, "--node takes HOST:PORT, not '" + value + "'");
      nodes.push_back(value);
    } else if (in.option("--deadline-ms", value)) {
      if (in.failed())
        return 2;
      if (!parse_integer(value, 1, INT64_MAX, opts.deadline_ms))
        return usage_error(cmd, "--deadline-ms takes milliseconds > 0");
    } else if (in.option("--skills", value)) {
      if (in.failed())
        return 2;
      opts.skills = split_commas(value);
    } else if (tls.read(in)) {
      if (in.failed())
        return 2;
    } else if (!a.empty() && a.front() != '-' && reason.empty()) {
      reason = a;
    } else {
      return in.unexpected();
    }
  }
  if (nodes.empty())
    return usage_error(cmd, "name at least one --node HOST:PORT");
  if (reason.empty())
    return usage_error(cmd, "say why (the investigation's reason)");
  return investigate_nodes(nodes, reason, opts, json, false, tls);
}

// -- caflens demo --nodes N -----------------------------------------------------

int run_cluster_demo(demo::scenario sc, int n, bool json, bool quiet) {
  std::vector<node_process> procs;
  auto stop_all = [&] {
    for (auto& p : procs)
      p.stop();
  };
  char exe[4096];
  auto len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) {
    std::cerr << "caflens demo: cannot find my own executable\n";
    return 1;
  }
  exe[len] = '\0';
  std::vector<std::string> peers;
  for (int i = 1; i <= n; ++i) {
    auto faulty = i == 2;
    std::vector<std::string> args{
      "--name", "node-" + std::to_string(i), "--scenario",
      faulty ? std::string{demo::to_string(sc)} : std::string{"healthy"},
      "--inject-after-ms", "1500"};
    auto p = start_node_process(exe, args);
    if (p.pid < 0) {
      std::cerr << "caflens demo: node-" << i
                << " did not start: " << p.output << '\n';
      stop_all();
      return 1;
    }
    if (!quiet)
      std::cerr << "node-" << i << " listening on 127.0.0.1:" << p.port
                << (faulty ? " (" + std::string{demo::to_string(sc)}
                               + " injected after 1.5 s)"
                           : std::string{" (healthy)"})
                << '\n';
    peers.push_back("127.0.0.1:" + std::to_string(p.port));
    procs.push_back(std::move(p));
  }
  // Let the fault take hold on node-2.
  std::this_thread::sleep_for(4s);
  investigate_options opts;
  opts.deadline_ms = 60'000;
  auto rc = investigate_nodes(peers,
                              "health check of a " + std::to_string(n)
                                + "-node upload cluster",
                              opts, json, quiet, tls_files{});
  stop_all();
  return rc;
}

} // namespace caflens::cli
