// caflens-chaos-nodes: investigations across nodes while whole nodes die
// and freeze.
//
//   caflens-chaos-nodes [--nodes N] [--investigations K] [--callers C]
//                       [--seed S] [--json]
//
// N `caflens node` processes (the demo pipeline and a lens each; node-1
// with an error burst) on loopback; this process is the coordinator. C
// caller threads run K investigations in all (rule brain, 4 s deadline
// each, on every connected node), while a chaos thread picks a node every
// 1–3 s and either kills it (SIGKILL; it is started again on its port
// 1–3 s later) or freezes it (SIGSTOP for 1–4 s, then SIGCONT). Every
// caller must get a result, a partial result or an error before its wait
// ends (2 deadlines + 5 s). Then every node is brought back, and the
// coordinator process's actors, threads and descriptors must be back where
// they were, its live heap at most 8 MiB above; the cluster must be whole
// again and answer one more investigation completely. Prints one summary
// (text or JSON); exits 1 when a caller waited too long, something leaked
// or the cluster did not recover.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster_support.hpp"
#include "callers.hpp"
#include "process_counts.hpp"

using namespace caflens;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct options {
  int nodes = 3;
  int investigations = 200;
  int callers = 2;
  uint64_t seed = 0;
  bool json = false;
};

int usage(const std::string& why) {
  std::cerr << "caflens-chaos-nodes: " << why
            << "\nusage: caflens-chaos-nodes [--nodes N] [--investigations K] "
               "[--callers C] [--seed S] [--json]\n";
  return 2;
}

/// One node: its process (absent while killed), its port, frozen or not.
struct node_slot {
  std::string name;
  uint16_t port = 0;
  std::optional<cli::node_process> proc;
  bool frozen = false;
  std::chrono::steady_clock::time_point back_at;
};

cli::node_process launch(const std::string& name, uint16_t port) {
  std::vector<std::string> more;
  if (port != 0)
    more = {"--listen", "127.0.0.1:" + std::to_string(port)};
  return cluster_test::start_node(
    name, name == "node-1" ? "error_burst" : "healthy", more);
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  opts.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (a == "--nodes")
      opts.nodes = std::atoi(value().c_str());
    else if (a == "--investigations")
      opts.investigations = std::atoi(value().c_str());
    else if (a == "--callers")
      opts.callers = std::atoi(value().c_str());
    else if (a == "--seed")
      opts.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--json")
      opts.json = true;
    else
      return usage("unknown argument '" + a + "'");
  }
  if (opts.nodes < 1 || opts.investigations < 1 || opts.callers < 1)
    return usage("--nodes, --investigations and --callers must be positive");
  ::setenv("CAFLENS_BRAIN", "rule", 1);
  std::mutex nodes_mtx;
  std::vector<node_slot> nodes(static_cast<size_t>(opts.nodes));
  std::vector<std::string> peers;
  for (int i = 0; i < opts.nodes; ++i) {
    auto& n = nodes[static_cast<size_t>(i)];
    n.name = "node-" + std::to_string(i);
    n.proc = launch(n.name, 0);
    if (n.proc->pid <= 0) {
      std::cerr << "caflens-chaos-nodes: " << n.name
                << " did not start: " << n.proc->output << '\n';
      return 1;
    }
    n.port = n.proc->port;
    peers.push_back("127.0.0.1:" + std::to_string(n.port));
  }
  int rc = 0;
  json summary;
  {
    cluster_test::coordinator co{peers};
    if (co.error) {
      std::cerr << "caflens-chaos-nodes: " << render_error(co.error) << '\n';
      return 1;
    }
    auto n_nodes = static_cast<size_t>(opts.nodes);
    if (!co.wait_connected(n_nodes, 20s)) {
      std::cerr << "caflens-chaos-nodes: the nodes did not connect\n";
      return 1;
    }
    constexpr int64_t deadline_ms = 4000;
    investigate_options io;
    io.deadline_ms = deadline_ms;
    const auto bound = std::chrono::milliseconds{2 * deadline_ms} + 5s;
    // The chaos thread also starts the nodes again: it lives until the end,
    // since a node dies with the thread that started it (PR_SET_PDEATHSIG).
    std::atomic<bool> faults{false}; // on once counted
    std::atomic<bool> quit{false};
    int kills = 0, freezes = 0;
    std::set<std::string> lost_named;

    std::thread chaos{[&] {
      std::mt19937_64 rng{opts.seed};
      auto tick = std::chrono::steady_clock::now();
      while (!quit) {
        std::this_thread::sleep_for(100ms);
        auto now = std::chrono::steady_clock::now();
        std::lock_guard<std::mutex> guard{nodes_mtx};
        // Bring back what is due.
        for (auto& n : nodes) {
          if (now < n.back_at)
            continue;
          if (n.frozen) {
            n.proc->signal(SIGCONT);
            n.frozen = false;
          } else if (!n.proc) {
            auto p = launch(n.name, n.port);
            if (p.pid > 0)
              n.proc = std::move(p);
            else
              n.back_at = now + 500ms; // the port is not free yet
          }
        }
        if (!faults || now < tick)
          continue;
        tick = now + std::chrono::milliseconds{1000 + rng() % 2000};
        auto& n = nodes[rng() % nodes.size()];
        if (!n.proc || n.frozen)
          continue;
        if (rng() % 2 == 0) {
          n.proc.reset(); // SIGKILL, reaped
          n.back_at = now + std::chrono::milliseconds{1000 + rng() % 2000};
          ++kills;
        } else {
          n.proc->signal(SIGSTOP);
          n.frozen = true;
          n.back_at = now + std::chrono::milliseconds{1000 + rng() % 3000};
          ++freezes;
        }
      }
    }};

    // Warm: everything started lazily exists before counting.
    (void) co.lens.investigate("warm-up", io);
    std::this_thread::sleep_for(500ms);
    auto before = reliability::measure(*co.sys);
    faults = true;

    auto t0 = std::chrono::steady_clock::now();
    auto results = reliability::run_callers(
      opts.investigations, opts.callers, bound,
      [&](int i) {
        return co.lens.investigate("chaos across nodes #" + std::to_string(i),
                                   io, bound);
      },
      [&](const caf::expected<investigation_result>& r,
          reliability::caller_results&) {
        if (r)
          for (auto& note : r->notifications)
            if (note.anomaly_type == "node_lost")
              lost_named.insert(note.node);
      });
    auto elapsed = std::chrono::steady_clock::now() - t0;
    // Everything back: frozen nodes go on, killed ones start on their port
    // (in the chaos thread).
    faults = false;
    {
      std::lock_guard<std::mutex> guard{nodes_mtx};
      for (auto& n : nodes)
        n.back_at = std::chrono::steady_clock::now();
    }
    bool recovered = co.wait_connected(n_nodes, 30s);
    std::optional<investigation_result> last;
    if (std::getenv("CAFLENS_CHAOS_DEBUG"))
      for (auto& x : co.lens.cluster())
        std::cerr << "view: " << x.name << " " << x.address << " "
                  << to_string(x.state) << " " << x.error << '\n';
    if (recovered) {
      auto r = co.lens.investigate("after the chaos", io);
      if (r)
        last = std::move(*r);
    }
    std::this_thread::sleep_for(2s); // the last operators end
    auto after = reliability::measure(*co.sys);
    quit = true;
    chaos.join();
    bool whole = last && !last->partial
                 && cluster_test::operator_nodes(*last).size() >= n_nodes;
    auto half_heap = results.half_heap != 0 ? results.half_heap : before.heap;
    int64_t heap_growth = after.heap - half_heap;
    bool leaked = reliability::leaked(before, after, half_heap);
    summary = {
      {"nodes", opts.nodes},
      {"investigations", opts.investigations},
      {"callers", opts.callers},
      {"seed", opts.seed},
      {"seconds", std::chrono::duration<double>(elapsed).count()},
      {"outcomes", results.outcomes},
      {"late", results.late},
      {"wait_ms", reliability::percentiles(results.waits_ms)},
      {"faults", {{"killed", kills}, {"frozen", freezes}}},
      {"nodes_named_lost", lost_named},
      {"recovered", recovered},
      {"last_investigation_whole", whole},
      {"last_investigation",
       last ? json{{"partial", last->partial},
                   {"operator_nodes", cluster_test::operator_nodes(*last)},
                   {"errors", last->errors}}
            : json{}},
      {"before", reliability::to_json(before)},
      {"after", reliability::to_json(after)},
      {"heap_growth_second_half_mib", heap_growth / double(1 << 20)},
      {"fds_opened", reliability::opened_since(before, after)},
      {"leaked", leaked}};
    if (results.late > 0 || leaked || !recovered || !whole)
      rc = 1;
    co.lens.stop();
  }
  for (auto& n : nodes)
    if (n.proc)
      n.proc->stop();
  if (opts.json) {
    std::cout << summary.dump() << '\n';
  } else {
    std::cout << summary.dump(2) << '\n'
              << (rc == 0 ? "PASS" : "FAIL") << ": every caller answered "
              << (summary["late"] == 0 ? "within its bound" : "LATE") << "; "
              << (summary["leaked"] == true ? "LEAK" : "no leak") << "; "
              << (summary["last_investigation_whole"] == true
                    ? "the cluster recovered"
                    : "the cluster did NOT recover")
              << '\n';
  }
  return rc;
}
