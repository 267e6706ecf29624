// `caflens node`: the demo pipeline with a lens whose node agent listens;
// `caflens investigate --node HOST:PORT`: investigates running nodes;
// `caflens demo --nodes N`: both, as N processes on loopback.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

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

#include "commands.hpp"
#include "progress.hpp"
#include "node_process.hpp"

namespace caflens::cli {

void tls_files::apply(caf::actor_system_config& cfg) const {
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

namespace {

using namespace std::chrono_literals;

// -- caflens node ---------------------------------------------------------------

} // namespace

int run_node(const node_options& opts) {
  auto name = opts.name;
  auto sc = opts.scenario;
  auto inject_after = opts.inject_after_ms;
  auto& tls = opts.tls;
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
  if (opts.app) {
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
  for (int64_t i = 0; i < opts.idle_actors; ++i)
    idle.push_back(skills::spawn_tracked(
      sys, {"idle-" + std::to_string(i), "idle", 0},
      [](caf::event_based_actor*, int) {
        return caf::behavior{[](int) {}};
      },
      0));
  if (!parse_address(opts.listen, lcfg.cluster.listen_host,
                     lcfg.cluster.listen_port)) {
    std::cerr << "caflens node: --listen takes HOST:PORT, not '"
              << opts.listen << "'\n";
    return exit_code::usage;
  }
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

/// Runs one investigation over `nodes`; prints the result. The exit code.
int investigate_nodes(const std::vector<std::string>& nodes,
                      const std::string& reason, investigate_options opts,
                      bool json, bool quiet, const tls_files& tls) {
  auto attached = attached_lens::start("coordinator", nodes, tls);
  if (!attached) {
    std::cerr << "caflens investigate: " << to_string(attached.error())
              << '\n';
    return 1;
  }
  auto* lens = &(*attached)->lens();
  auto up = (*attached)->connected();
  for (auto& n : lens->cluster())
    if (!quiet || n.state != node_state::connected)
      std::cerr << "caflens investigate: " << n.address << ' '
                << (n.name.empty() ? "" : "(" + n.name + ") ")
                << to_string(n.state)
                << (n.error.empty() ? "" : ": " + n.error) << '\n';
  if (up == 0) {
    std::cerr << "caflens investigate: no node connected\n";
    return 1;
  }
  // Progress while it runs: the coordinator is in this process.
  progress say{quiet};
  std::optional<progress_lines> lines;
  lines.emplace(say, "caflens.cli.investigate.progress");
  auto result = lens->investigate(reason, opts);
  lines.reset();
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

size_t await_peers(const caflens::lens& l, std::chrono::milliseconds timeout) {
  // The handshakes run in the background: poll the cluster view (bounded).
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t up = 0;
    bool pending = false;
    for (auto& n : l.cluster()) {
      up += n.state == node_state::connected ? 1 : 0;
      pending |= n.state == node_state::connecting;
    }
    if (!pending || std::chrono::steady_clock::now() > until)
      return up;
    std::this_thread::sleep_for(20ms);
  }
}

caf::expected<std::unique_ptr<attached_lens>>
attached_lens::start(std::string_view role, std::vector<std::string> nodes,
                     const tls_files& tls) {
  std::unique_ptr<attached_lens> x{new attached_lens};
  x->cfg_ = std::make_unique<caf::actor_system_config>();
  caflens::add_message_types(*x->cfg_);
  tls.apply(*x->cfg_);
  x->cfg_->set("logger.verbosity", caf::atom("quiet"));
  x->sys_ = std::make_unique<caf::actor_system>(*x->cfg_);
  caflens::config lcfg;
  lcfg.node_name = std::string{role} + "-" + std::to_string(::getpid());
  lcfg.cluster.peers = std::move(nodes);
  lcfg.cluster.tls = tls.on();
  // This process has no application: operators run on the nodes only.
  lcfg.cluster.local_operators = false;
  auto l = caflens::start(*x->sys_, lcfg);
  if (!l)
    return l.error();
  x->lens_ = std::move(*l);
  x->up_ = await_peers(*x->lens_, lcfg.cluster.connect_timeout + 1s);
  return x;
}

attached_lens::~attached_lens() {
  if (lens_)
    lens_->stop();
}

int run_nodes(const std::vector<std::string>& nodes, bool json_out,
              const tls_files& tls) {
  auto attached = attached_lens::start("nodes", nodes, tls);
  if (!attached) {
    std::cerr << "caflens nodes: " << to_string(attached.error()) << '\n';
    return exit_code::failure;
  }
  auto up = (*attached)->connected();
  auto view = (*attached)->lens().cluster();
  if (json_out) {
    auto xs = nlohmann::json::array();
    for (auto& n : view)
      xs.push_back({{"name", n.name},
                    {"address", n.address},
                    {"state", to_string(n.state)},
                    {"protocol_version", n.protocol_version},
                    {"version", n.version},
                    {"skills", n.skills},
                    {"last_heartbeat", n.last_heartbeat},
                    {"connected_at", n.connected_at},
                    {"rtt_us", n.rtt_us},
                    {"error", n.error}});
    std::cout << nlohmann::json{{"caflens_cli", json_version},
                                {"command", "nodes"},
                                {"data", xs}}
                   .dump(2)
              << '\n';
  } else {
    for (auto& n : view) {
      std::cout << n.address << "  " << (n.name.empty() ? "-" : n.name)
                << "  " << to_string(n.state);
      if (n.state == node_state::connected) {
        std::string skills;
        for (auto& k : n.skills)
          skills += (skills.empty() ? "" : ",") + k;
        std::cout << "  caflens " << n.version << " (protocol "
                  << n.protocol_version << ")";
        if (n.rtt_us > 0) // after the first heartbeat
          std::cout << "  rtt " << n.rtt_us << " us";
        std::cout << "  skills " << skills;
      }
      if (!n.error.empty())
        std::cout << "  " << n.error;
      std::cout << '\n';
    }
  }
  // Every node answered: 0; some did not: 1.
  return up == view.size() ? exit_code::ok : exit_code::failure;
}

int run_investigate(const investigate_cli_options& cli) {
  investigate_options opts;
  opts.deadline_ms = cli.deadline_ms;
  opts.skills = cli.skills;
  return investigate_nodes(cli.nodes, cli.reason, opts, cli.json, cli.quiet,
                           cli.tls);
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
