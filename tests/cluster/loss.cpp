#define CAF_SUITE cluster.loss
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "cluster_support.hpp"

#include <algorithm>
#include <csignal>
#include <future>
#include <mutex>

#include "caf/scoped_actor.hpp"
#include "caf/test/unit_test.hpp"

#include "caflens/supervision/reports.hpp"
#include "caflens/telemetry/bus.hpp"

using namespace caflens;
using namespace cluster_test;

namespace {

investigate_options quick(int64_t deadline_ms = 20'000) {
  investigate_options o;
  o.skills = {"actors", "memory"};
  o.deadline_ms = deadline_ms;
  return o;
}

bool mentions(const investigation_result& r, const std::string& what) {
  return errors_of(r).find(what) != std::string::npos;
}

/// The loss events this process (the coordinator's) emits, as
/// "<event> <node> <reason>".
struct loss_events : event_lines {
  loss_events()
    : event_lines("test.loss_events",
                  {telemetry::event_name{"caflens", "node", "disconnected"},
                   telemetry::event_name{"caflens", "coordinator",
                                         "node_lost"}},
                  [](const telemetry::event_name& e,
                     const telemetry::metadata& md) {
                    std::string line = e.str();
                    for (auto key : {"node", "reason"})
                      if (auto* v = md.find(key))
                        line += " " + std::string{v->as_string()};
                    return line;
                  }) {
  }
};

} // namespace

CAF_TEST(a node killed mid investigation gives a partial result naming it) {
  auto a = start_node("alpha");
  auto b = start_node("beta");
  auto c = start_node("gamma");
  CAF_REQUIRE(a.pid > 0 && b.pid > 0 && c.pid > 0);
  auto beta_port = b.port;
  coordinator co{{address(a), address(b), address(c)}};
  CAF_REQUIRE(co.wait_connected(3));
  loss_events lost;
  // Operators take two looks 400 ms apart: 200 ms in, beta's are running
  // when it is killed.
  auto t0 = std::chrono::steady_clock::now();
  auto pending = std::async(std::launch::async, [&] {
    return co.lens.investigate("check the cluster", quick());
  });
  std::this_thread::sleep_for(200ms);
  b.kill9();
  auto r = pending.get();
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_REQUIRE(r);
  CAF_MESSAGE(render_report(*r));
  CAF_CHECK(r->partial);
  CAF_CHECK(mentions(*r, "node 'beta' lost at "));
  CAF_CHECK(mentions(*r, "skills actors, memory missing")
            || mentions(*r, "skills memory, actors missing"));
  // The behaviour: a result within the deadline (timings: BENCHMARKS.md).
  CAF_CHECK(took < std::chrono::milliseconds{quick().deadline_ms});
  // The other nodes' operators finished.
  size_t done = 0;
  for (auto& o : r->operators)
    if (o.node != "beta" && o.stop_reason == "done")
      ++done;
  CAF_CHECK_EQUAL(done, 4u);
  bool noted = false;
  for (auto& n : r->notifications)
    noted |= n.anomaly_type == "node_lost" && n.node == "beta";
  CAF_CHECK(noted);
  CAF_CHECK(co.info("beta")->state != node_state::connected);
  // Both sides of the loss are events: the link's and the investigation's.
  CAF_CHECK_EQUAL(lost.count("caflens.node.disconnected beta"), 1u);
  CAF_CHECK_EQUAL(lost.count("caflens.coordinator.node_lost beta"), 1u);
  CAF_CHECK_EQUAL(lost.count("caflens.node.disconnected alpha"), 0u);
  // Restarted on its port, beta rejoins and the next investigation covers
  // it.
  auto b2 = start_node("beta", "healthy",
                       {"--listen", "127.0.0.1:" + std::to_string(beta_port)});
  CAF_REQUIRE(b2.pid > 0);
  CAF_REQUIRE(co.wait_connected(3, 15s));
  auto again = co.lens.investigate("check the cluster again", quick());
  CAF_REQUIRE(again);
  CAF_CHECK(!again->partial);
  CAF_CHECK(operator_nodes(*again)
            == (std::set<std::string>{"alpha", "beta", "gamma"}));
  co.lens.stop();
  for (auto* p : {&a, &b2, &c})
    p->stop();
}

CAF_TEST(a frozen node is declared lost by heartbeat and rejoins) {
  auto a = start_node("alpha");
  auto g = start_node("gamma");
  CAF_REQUIRE(a.pid > 0 && g.pid > 0);
  coordinator co{{address(a), address(g)}, {}, {}, 1000ms};
  CAF_REQUIRE(co.wait_connected(2));
  g.signal(SIGSTOP);
  auto t0 = std::chrono::steady_clock::now();
  auto r = co.lens.investigate("check the cluster", quick());
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_REQUIRE(r);
  CAF_MESSAGE(render_report(*r));
  CAF_CHECK(r->partial);
  CAF_CHECK(mentions(*r, "node 'gamma' lost at "));
  CAF_CHECK(mentions(*r, "no heartbeat answer within 1000 ms"));
  CAF_CHECK(took < std::chrono::milliseconds{quick().deadline_ms});
  auto* gamma = co.info("gamma");
  CAF_REQUIRE(gamma != nullptr);
  CAF_CHECK_EQUAL(gamma->state, node_state::lost);
  CAF_CHECK(gamma->error.find("no heartbeat") != std::string::npos);
  g.signal(SIGCONT);
  CAF_REQUIRE(co.wait_connected(2, 10s));
  auto again = co.lens.investigate("check the cluster again", quick());
  CAF_REQUIRE(again);
  CAF_CHECK(!again->partial);
  CAF_CHECK(operator_nodes(*again)
            == (std::set<std::string>{"alpha", "gamma"}));
  co.lens.stop();
  a.stop();
  g.stop();
}

CAF_TEST(a peer where nothing listens is unreachable and retried) {
  // A port that was free a moment ago.
  auto a = start_node("alpha");
  CAF_REQUIRE(a.pid > 0);
  auto dead = address(a);
  a.kill9();
  coordinator co{{dead}};
  CAF_REQUIRE(!co.error);
  CAF_CHECK(co.wait_for([](const std::vector<node_info>& xs) {
    return xs.size() == 1 && xs[0].state == node_state::unreachable;
  }));
  auto* n = co.info(dead);
  CAF_REQUIRE(n != nullptr);
  CAF_CHECK(n->error.find(dead) != std::string::npos);
  // An investigation with no node connected runs here (nothing else is
  // there) and ends.
  auto r = co.lens.investigate("check", quick(5'000));
  CAF_REQUIRE(r);
  CAF_CHECK(operator_nodes(*r) == std::set<std::string>{"coordinator"});
}

CAF_TEST(a subscriber on another node gets the crash reports of its supervisors) {
  // worker-3 of the node's pipeline crashes 400 ms after every start.
  auto a = start_node("alpha", "crash_loop");
  CAF_REQUIRE(a.pid > 0);
  coordinator co{{address(a)}};
  CAF_REQUIRE(co.wait_connected(1));
  caf::scoped_actor self{*co.sys};
  auto me = caf::actor_cast<caf::actor>(self);
  CAF_REQUIRE(!co.lens.subscribe("alpha", me));
  std::string child;
  uint32_t restarts = 0;
  self->receive(
    [&](supervision::child_restarted& x) {
      child = x.child_id;
      restarts = x.restarts_in_period;
    },
    caf::after(std::chrono::seconds{15}) >> [] {});
  CAF_CHECK_EQUAL(child, "worker-3");
  CAF_CHECK(restarts >= 1);
  CAF_CHECK(!co.lens.unsubscribe("alpha", me));
  auto err = co.lens.subscribe("nowhere", me);
  CAF_CHECK(render_error(err).find("node 'nowhere' is not connected")
            != std::string::npos);
  co.lens.stop();
  a.stop();
}
