#define CAF_SUITE cluster.attribution
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "cluster_support.hpp"

#include <algorithm>
#include <set>

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace cluster_test;

namespace {

investigate_options quick() {
  investigate_options o;
  o.skills = {"actors", "memory", "crashes"};
  o.deadline_ms = 30'000;
  return o;
}

const insight* find_pattern(const investigation_result& r,
                            const std::string& pattern) {
  for (auto& i : r.insights)
    if (i.pattern == pattern)
      return &i;
  return nullptr;
}

} // namespace

CAF_TEST(a fault on one node is found and attributed to that node) {
  auto a = start_node("alpha");
  auto b = start_node("beta", "slow_consumer");
  auto c = start_node("gamma");
  CAF_REQUIRE(a.pid > 0 && b.pid > 0 && c.pid > 0);
  coordinator co{{address(a), address(b), address(c)}};
  CAF_REQUIRE(!co.error);
  CAF_REQUIRE(co.wait_connected(3));
  // The cluster view: names, versions, skills, heartbeats.
  auto* beta = co.info("beta");
  CAF_REQUIRE(beta != nullptr);
  CAF_CHECK_EQUAL(beta->address, address(b));
  CAF_CHECK_EQUAL(beta->protocol_version, cluster_protocol_version);
  CAF_CHECK(!beta->version.empty());
  CAF_CHECK(std::count(beta->skills.begin(), beta->skills.end(), "actors")
            == 1);
  CAF_CHECK(beta->last_heartbeat > 0);
  std::this_thread::sleep_for(1500ms); // the fault takes hold
  auto r = co.lens.investigate("upload latency is up", quick());
  CAF_REQUIRE(r);
  CAF_MESSAGE(render_report(*r));
  // Operators ran on every node, none here.
  CAF_CHECK(operator_nodes(*r) == (std::set<std::string>{"alpha", "beta",
                                                         "gamma"}));
  auto* top = r->top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->pattern, "slow_consumer");
  CAF_CHECK(top->nodes == std::vector<std::string>{"beta"});
  CAF_REQUIRE(!top->culprit_details.empty());
  CAF_CHECK_EQUAL(top->culprit_details.front().node, "beta");
  CAF_CHECK_EQUAL(top->culprit_details.front().name, "worker-2");
  CAF_CHECK_EQUAL(top->culprits.front(), "worker-2@beta");
  CAF_CHECK(top->root_cause.find("node beta") != std::string::npos);
  // Every notification names the node it came from.
  for (auto& n : r->notifications)
    CAF_CHECK(n.node == "alpha" || n.node == "beta" || n.node == "gamma");
  CAF_CHECK(!r->partial);
  // One look at a remote node's actors, as an operator there takes it.
  auto snap = co.lens.snapshot_of("beta", "actors");
  CAF_REQUIRE(snap);
  CAF_CHECK_EQUAL(snap->node, "beta");
  CAF_CHECK_EQUAL(snap->skill, "actors");
  CAF_CHECK(snap->data.find("worker-2") != std::string::npos);
  auto no_skill = co.lens.snapshot_of("beta", "nope");
  CAF_REQUIRE(!no_skill);
  CAF_CHECK(render_error(no_skill.error()).find("has no skill 'nope'")
            != std::string::npos);
  auto no_node = co.lens.snapshot_of("delta", "actors");
  CAF_REQUIRE(!no_node);
  CAF_CHECK(render_error(no_node.error()).find("node_unreachable")
            != std::string::npos);
  // A Lua program on beta's callbacks (caflens shell, the dashboard): the
  // deepest mailbox there is the slow consumer's; errors and limits come
  // back as the sandbox's errors.
  auto lua = co.lens.execute("beta", "print(get_node_info().node) "
                                     "return actors_top(1)[1].name");
  CAF_REQUIRE(lua);
  CAF_CHECK_EQUAL(lua->value, "worker-2");
  CAF_CHECK_EQUAL(lua->output, "beta\n");
  CAF_CHECK(lua->callback_calls >= 2u);
  auto runaway = co.lens.execute("beta", "while true do end");
  CAF_REQUIRE(!runaway);
  CAF_CHECK(render_error(runaway.error()).find("instruction limit")
            != std::string::npos);
  auto here = co.lens.execute("", "return get_node_info().node");
  CAF_REQUIRE(here);
  CAF_CHECK_EQUAL(here->value, co.lens.node());
  CAF_CHECK(!co.lens.execute("delta", "return 1"));
  // A cluster-wide profile of the workers' upload handling.
  auto prof = co.lens.profile("upload_worker", "", 1500ms);
  CAF_REQUIRE(prof);
  CAF_MESSAGE(to_json(*prof).dump());
  CAF_REQUIRE_EQUAL(prof->nodes.size(), 3u);
  uint64_t total = 0;
  for (auto& n : prof->nodes) {
    CAF_CHECK_EQUAL(n.error, "");
    CAF_CHECK_EQUAL(n.kind, "upload_worker");
    CAF_CHECK(n.actor.rfind("worker-", 0) == 0);
    // The tracer's limits: at most 5 captures a second.
    CAF_CHECK(!n.handler_ns.empty() && n.handler_ns.size() <= 10);
    CAF_CHECK(n.p50_ms > 0 && n.p50_ms <= n.p99_ms && n.p99_ms <= n.max_ms
              * 1.02);
    total += n.handler_ns.size();
  }
  CAF_CHECK_EQUAL(prof->count, total);
  CAF_CHECK(prof->p50_ms > 0 && prof->p50_ms <= prof->p99_ms);
  auto none = co.lens.profile("no_such_kind", "", 200ms);
  CAF_REQUIRE(none);
  for (auto& n : none->nodes)
    CAF_CHECK(n.error.find("no tracked actor of kind 'no_such_kind'")
              != std::string::npos);
  CAF_CHECK(!co.lens.profile("", "", 1s));
  CAF_CHECK(!co.lens.profile("upload_worker", "", 61s));
  co.lens.stop();
  for (auto* p : {&a, &b, &c})
    p->stop();
}

CAF_TEST(the same fault on every node is one cluster wide insight) {
  auto a = start_node("alpha", "slow_consumer");
  auto b = start_node("beta", "slow_consumer");
  auto c = start_node("gamma", "slow_consumer");
  CAF_REQUIRE(a.pid > 0 && b.pid > 0 && c.pid > 0);
  coordinator co{{address(a), address(b), address(c)}};
  CAF_REQUIRE(co.wait_connected(3));
  std::this_thread::sleep_for(1500ms);
  auto r = co.lens.investigate("uploads back up everywhere", quick());
  CAF_REQUIRE(r);
  CAF_MESSAGE(render_report(*r));
  size_t slow = 0;
  for (auto& i : r->insights)
    slow += i.pattern == "slow_consumer" ? 1 : 0;
  CAF_CHECK_EQUAL(slow, 1u);
  auto* i = find_pattern(*r, "slow_consumer");
  CAF_REQUIRE(i != nullptr);
  CAF_CHECK(i->nodes == (std::vector<std::string>{"alpha", "beta", "gamma"}));
  std::set<std::string> culprit_nodes;
  for (auto& d : i->culprit_details)
    if (d.name == "worker-2")
      culprit_nodes.insert(d.node);
  CAF_CHECK(culprit_nodes
            == (std::set<std::string>{"alpha", "beta", "gamma"}));
  CAF_CHECK(i->summary.find("on 3 nodes") != std::string::npos);
  CAF_CHECK(i->root_cause.find("cluster-wide") != std::string::npos);
  CAF_CHECK(render_report(*r).find("cluster-wide, on nodes alpha, beta, "
                                   "gamma")
            != std::string::npos);
  co.lens.stop();
  for (auto* p : {&a, &b, &c})
    p->stop();
}
