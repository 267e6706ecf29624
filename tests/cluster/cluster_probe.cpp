// Figures for BENCHMARKS.md (never run by CI): fan-out overhead across node
// processes, a remote snapshot of 10 000 tracked actors, and the time to
// declare a frozen node lost.
//
//   build/tests/cluster/caflens-cluster-probe [runs]
#include "cluster_support.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <mutex>

#include "caf/event_based_actor.hpp"

#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

using namespace caflens;
using namespace cluster_test;
using clk = std::chrono::steady_clock;

namespace {

double ms_of(clk::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

double pct(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<size_t>(p * xs.size()))];
}

/// Coordinator-side times of one investigation's operator phase.
struct phase_clock {
  std::mutex mtx;
  int64_t invoked = 0;
  int64_t last_complete = 0;

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clk::now().time_since_epoch())
      .count();
  }
};

void fan_out(int runs) {
  std::printf("## fan-out: %d investigations per setup (skills actors, os; "
              "nodes without an application)\n",
              runs);
  std::vector<node_process> nodes;
  for (auto name : {"n1", "n2", "n3"})
    nodes.push_back(start_node(name, "healthy", {"--no-app"}));
  phase_clock pc;
  auto& bus = telemetry::bus::global();
  bus.attach("probe.invoke", {"caflens", "coordinator", "invoke_operators"},
             [&pc](auto&, auto&, auto&, const std::any&) {
               std::lock_guard<std::mutex> g{pc.mtx};
               pc.invoked = phase_clock::now_ns();
             });
  bus.attach("probe.complete", {"caflens", "coordinator", "operator_complete"},
             [&pc](auto&, auto&, auto&, const std::any&) {
               std::lock_guard<std::mutex> g{pc.mtx};
               pc.last_complete = phase_clock::now_ns();
             });
  auto measure = [&](std::vector<std::string> peers, const char* label) {
    coordinator co{std::move(peers)};
    if (!co.wait_connected(co.lens.cluster().size())) {
      std::printf("  %s: not connected\n", label);
      return;
    }
    std::vector<double> overhead, work, span;
    investigate_options o;
    o.skills = {"actors", "os"};
    for (int i = 0; i < runs + 2; ++i) {
      auto r = co.lens.investigate("probe", o);
      if (!r)
        continue;
      double max_work = 0;
      for (auto& op : r->operators)
        max_work = std::max(max_work, op.duration_us / 1000.0);
      double s;
      {
        std::lock_guard<std::mutex> g{pc.mtx};
        s = (pc.last_complete - pc.invoked) / 1e6;
      }
      if (i < 2)
        continue; // warm-up
      span.push_back(s);
      work.push_back(max_work);
      overhead.push_back(s - max_work);
    }
    std::printf("  %-18s slowest operator %.2f ms, invoke->last result "
                "%.2f ms, overhead median %.2f ms p90 %.2f ms\n",
                label, median(work), median(span), median(overhead),
                pct(overhead, 0.9));
  };
  measure({address(nodes[0])}, "1 node:");
  measure({address(nodes[0]), address(nodes[1]), address(nodes[2])},
          "3 nodes:");
  bus.detach("probe.invoke");
  bus.detach("probe.complete");
}

void snapshots(int runs) {
  std::printf("## snapshot of the actors skill, 10 000 tracked actors\n");
  auto big = start_node("big", "healthy",
                        {"--no-app", "--idle-actors", "10000"});
  coordinator co{{address(big)}};
  if (!co.wait_connected(1)) {
    std::printf("  not connected\n");
    return;
  }
  // The same look in this process, for the transfer's share.
  std::vector<caf::actor> idle;
  for (int i = 0; i < 10'000; ++i)
    idle.push_back(skills::spawn_tracked(
      *co.sys, {"idle-" + std::to_string(i), "idle", 0},
      [](caf::event_based_actor*, int) { return caf::behavior{[](int) {}}; },
      0));
  std::vector<double> remote, local;
  size_t bytes = 0;
  for (int i = 0; i < runs + 2; ++i) {
    auto t0 = clk::now();
    auto s = co.lens.snapshot_of("big", "actors");
    auto t1 = clk::now();
    auto l = co.lens.snapshot_of("coordinator", "actors");
    auto t2 = clk::now();
    if (!s || !l) {
      std::printf("  failed: %s\n",
                  render_error(s ? l.error() : s.error()).c_str());
      return;
    }
    if (i < 2)
      continue;
    bytes = s->data.size();
    remote.push_back(ms_of(t1 - t0));
    local.push_back(ms_of(t2 - t1));
  }
  std::printf("  snapshot %zu bytes of JSON (bounded by skill_limits)\n",
              bytes);
  std::printf("  remote look + transfer: median %.2f ms p90 %.2f ms; the same "
              "look in-process: median %.2f ms; transfer share ~%.2f ms\n",
              median(remote), pct(remote, 0.9), median(local),
              median(remote) - median(local));
  for (auto& a : idle)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

void frozen(int runs, std::chrono::milliseconds interval,
            std::chrono::milliseconds timeout) {
  auto n = start_node("frozen", "healthy", {"--no-app"});
  coordinator co{{address(n)}};
  // Other heartbeat settings than the fixture's.
  co.lens.stop();
  co.lens = {};
  caflens::config lcfg;
  lcfg.node_name = "probe";
  lcfg.cluster.peers = {address(n)};
  lcfg.cluster.local_operators = false;
  lcfg.cluster.heartbeat_interval = interval;
  lcfg.cluster.heartbeat_timeout = timeout;
  lcfg.cluster.reconnect_interval = std::chrono::milliseconds{200};
  auto l = caflens::start(*co.sys, lcfg);
  if (!l)
    return;
  co.lens = std::move(*l);
  std::vector<double> xs;
  for (int i = 0; i < runs; ++i) {
    if (!co.wait_connected(1, std::chrono::seconds{15}))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    n.signal(SIGSTOP);
    auto t0 = clk::now();
    co.wait_for(
      [](const std::vector<node_info>& v) {
        return !v.empty() && v[0].state == node_state::lost;
      },
      timeout * 3);
    xs.push_back(ms_of(clk::now() - t0));
    n.signal(SIGCONT);
  }
  std::printf("  heartbeat every %lld ms, lost after %lld ms of silence: "
              "declared lost after median %.0f ms, max %.0f ms (%zu runs)\n",
              static_cast<long long>(interval.count()),
              static_cast<long long>(timeout.count()), median(xs),
              pct(xs, 1.0), xs.size());
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(3, std::atoi(argv[1])) : 20;
  fan_out(runs);
  snapshots(runs);
  std::printf("## a frozen node (SIGSTOP) declared lost\n");
  frozen(5, std::chrono::milliseconds{200}, std::chrono::milliseconds{1000});
  frozen(5, std::chrono::milliseconds{500}, std::chrono::milliseconds{2000});
  return 0;
}
