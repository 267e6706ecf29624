#define CAF_SUITE actors.investigation
// The coordinator's bookkeeping without an actor: the result's aggregation,
// the tools that read and write the evidence, admission to the queue.

#include "caf/test/unit_test.hpp"

#include "caflens/actors/actors_errc.hpp"
#include "caflens/actors/rule_brain.hpp"

#include "../../actors/src/admission.hpp"
#include "../../actors/src/investigation.hpp"

using namespace caflens;
using namespace caflens::actors;
using json = nlohmann::json;

namespace {

struct fixture {
  investigation inv;
  int next = 0;
  investigation_env env{"node-a",
                        [this](const char* prefix) {
                          return std::string{prefix} + "-"
                                 + std::to_string(++next);
                        },
                        nullptr};

  fixture() {
    inv.entry.trace_id = "t-1";
    inv.entry.req.reason = "orders pile up";
  }

  op_entry& op(const std::string& skill) {
    op_entry e;
    e.run_id = inv.ops.size() + 1;
    e.skill = skill;
    e.node = "node-a";
    auto id = e.run_id;
    inv.ops.emplace(id, std::move(e));
    return inv.ops.at(id);
  }

  notification note(const std::string& skill, const std::string& type,
                    std::vector<std::string> actors,
                    severity level = severity::warning) {
    notification n;
    n.id = "n-" + std::to_string(++next);
    n.skill = skill;
    n.anomaly_type = type;
    n.severity = level;
    n.actors = std::move(actors);
    n.observation = type + " seen";
    n.node = "node-a";
    return n;
  }

  operator_result finished(const std::string& skill, int64_t in, int64_t out) {
    operator_result r;
    r.skill = skill;
    r.stop_reason = "done";
    r.summary = skill + " looked";
    r.input_tokens = in;
    r.output_tokens = out;
    r.llm_calls = 2;
    return r;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(investigation_tests, fixture)

CAF_TEST(a clean run is complete and sums every loop) {
  auto& a = op("actors");
  auto& m = op("memory");
  inv.add_notification(a, note("actors", "mailbox_growth", {"billing-7"}));
  inv.complete(a, finished("actors", 100, 10));
  inv.complete(m, finished("memory", 50, 5));
  CAF_CHECK(!inv.any_running());
  CAF_CHECK(inv.has_evidence());
  auto res = inv.result("done", "node-a", "rule", "all good");
  CAF_CHECK(!res.partial);
  CAF_CHECK(res.errors.empty());
  CAF_CHECK_EQUAL(res.operators.size(), 2u);
  CAF_CHECK_EQUAL(res.input_tokens, 150);
  CAF_CHECK_EQUAL(res.output_tokens, 15);
  CAF_CHECK_EQUAL(res.llm_calls, 4);
  CAF_REQUIRE_EQUAL(res.notifications.size(), 1u);
  CAF_CHECK_EQUAL(res.notifications[0].status, "unread");
  CAF_CHECK_EQUAL(res.summary, "all good");
  CAF_CHECK_EQUAL(res.trace_id, "t-1");
}

CAF_TEST(operators still running make the result partial) {
  auto& a = op("actors");
  op("logs");
  inv.complete(a, finished("actors", 1, 1));
  auto running = inv.running_skills();
  CAF_CHECK_EQUAL(running, std::vector<std::string>{"logs"});
  auto done = inv.result("done", "node-a", "llm", "");
  CAF_CHECK(done.partial);
  CAF_REQUIRE_EQUAL(done.operators.size(), 2u);
  CAF_CHECK_EQUAL(done.operators[1].stop_reason, "cancelled");
  CAF_CHECK(done.errors.empty()); // done is no error
}

CAF_TEST(a deadline names itself and stops the running operators) {
  op("logs");
  auto res = inv.result("deadline", "node-a", "llm", "");
  CAF_CHECK(res.partial);
  CAF_REQUIRE_EQUAL(res.operators.size(), 1u);
  CAF_CHECK_EQUAL(res.operators[0].stop_reason, "deadline");
  CAF_REQUIRE_EQUAL(res.errors.size(), 1u);
  CAF_CHECK_EQUAL(res.errors[0], "deadline");
}

CAF_TEST(a degraded brain makes a done result partial) {
  inv.loop.degraded = "quota";
  auto res = inv.result("done", "node-a", "llm+rule", "");
  CAF_CHECK(res.partial);
}

CAF_TEST(insights are listed warning first in the brain order otherwise) {
  for (auto [id, level] :
       std::vector<std::pair<std::string, severity>>{{"i-a", severity::info},
                                                     {"i-b", severity::critical},
                                                     {"i-c", severity::info},
                                                     {"i-d",
                                                      severity::warning}}) {
    insight x;
    x.id = id;
    x.severity = level;
    inv.insights.push_back(x);
  }
  auto res = inv.result("done", "node-a", "rule", "");
  std::vector<std::string> order;
  for (auto& x : res.insights)
    order.push_back(x.id);
  CAF_CHECK_EQUAL(order, (std::vector<std::string>{"i-b", "i-d", "i-a", "i-c"}));
}

CAF_TEST(crashes are evidence and give the run up past the restarts) {
  auto& a = op("actors");
  CAF_CHECK(!inv.crashed(a, "boom", 1, env));
  CAF_CHECK(a.running);
  CAF_CHECK(inv.crashed(a, "boom again", 1, env));
  CAF_CHECK(!a.running);
  CAF_REQUIRE(a.result);
  CAF_CHECK_EQUAL(a.result->stop_reason, "crashed");
  CAF_CHECK_EQUAL(a.result->restarts, 1);
  CAF_REQUIRE_EQUAL(inv.notes.size(), 2u);
  CAF_CHECK_EQUAL(inv.notes[1].anomaly_type, "operator_crashed");
  CAF_CHECK_EQUAL(inv.errors.size(), 2u);
  auto res = inv.result("done", "node-a", "rule", "");
  CAF_CHECK(res.partial);
  auto& first = res.operators.at(0);
  CAF_CHECK_EQUAL(first.restarts, 2);
}

CAF_TEST(a start failure is an error of the result) {
  auto& a = op("tracer");
  inv.start_failed(a, "no such supervisor");
  CAF_CHECK(!inv.any_running());
  auto res = inv.result("done", "node-a", "rule", "");
  CAF_CHECK(res.partial);
  auto& first = res.operators.at(0);
  CAF_CHECK_EQUAL(first.stop_reason, "start_failed");
}

CAF_TEST(notifications come whole or by the page) {
  auto& a = op("actors");
  for (int i = 0; i < 5; ++i)
    inv.add_notification(a, note("actors", "mailbox_backlog", {"w"}));
  auto all = inv.notifications("unread", 0, 0);
  CAF_REQUIRE(all.data);
  CAF_CHECK_EQUAL(all.data->size(), 5u);
  auto page = inv.notifications("all", 2, 3);
  CAF_REQUIRE(page.data);
  auto& p = *page.data;
  CAF_CHECK_EQUAL(p["items"].size(), 2u);
  CAF_CHECK_EQUAL(p["total"], 5);
  CAF_CHECK_EQUAL(p["more"], 0);
  auto ids = json::array({inv.notes[0].id, inv.notes[1].id});
  auto upd = inv.update_statuses({{"notification_ids", ids},
                                  {"status", "acknowledged"}});
  CAF_CHECK(!upd.is_error);
  auto unread = inv.notifications("unread", 0, 0);
  CAF_CHECK_EQUAL(unread.data->size(), 3u);
  auto bad = inv.update_statuses(
    {{"notification_ids", json::array({"n-999"})}, {"status", "resolved"}});
  CAF_CHECK(bad.is_error);
}

CAF_TEST(an insight needs cited notifications that name its culprits) {
  auto& a = op("actors");
  auto& l = op("logs");
  inv.add_notification(a, note("actors", "mailbox_growth", {"billing-7"}));
  inv.add_notification(l, note("logs", "error_burst", {"billing-7"}));
  auto n1 = inv.notes[0].id;
  auto n2 = inv.notes[1].id;
  auto uncited = inv.produce_insight({{"pattern", "slow_consumer"},
                                      {"notification_ids", {n1}},
                                      {"culprits", {"ledger-2"}}},
                                     env);
  CAF_CHECK(uncited.is_error);
  CAF_CHECK_NOT_EQUAL(uncited.content.find("ledger-2"), std::string::npos);
  auto unknown = inv.produce_insight({{"pattern", "slow_consumer"},
                                      {"notification_ids", {"n-404"}}},
                                     env);
  CAF_CHECK(unknown.is_error);
  CAF_CHECK(inv.insights.empty());
  auto one = inv.produce_insight({{"pattern", "slow_consumer"},
                                  {"notification_ids", {n1}},
                                  {"culprits", {"billing-7"}},
                                  {"grounded", true}},
                                 env);
  CAF_REQUIRE(!one.is_error);
  auto one_reply = json::parse(one.content);
  CAF_CHECK_EQUAL(one_reply["grounded"], false);
  auto two = inv.produce_insight({{"pattern", "slow_consumer"},
                                  {"notification_ids", {n1, n2}},
                                  {"culprits", {"billing-7"}},
                                  {"grounded", true},
                                  {"severity", "critical"}},
                                 env);
  CAF_REQUIRE(!two.is_error);
  auto two_reply = json::parse(two.content);
  CAF_CHECK_EQUAL(two_reply["grounded"], true);
  CAF_REQUIRE_EQUAL(inv.insights.size(), 2u);
  auto& x = inv.insights.back();
  CAF_CHECK_EQUAL(x.severity, severity::critical);
  CAF_REQUIRE_EQUAL(x.culprit_details.size(), 1u);
  CAF_CHECK_EQUAL(x.culprit_details[0].kind, "actor");
  CAF_CHECK_EQUAL(x.culprit_details[0].node, "node-a");
}

CAF_TEST(culprits of several nodes are named with their node) {
  auto& a = op("actors");
  std::vector<std::string> ids;
  for (auto node : {"node-a", "node-b", "node-c"}) {
    auto n = note("actors", "mailbox_growth", {"worker-2"});
    n.node = node;
    ids.push_back(n.id);
    inv.add_notification(a, std::move(n));
  }
  // The rule brain's arguments for the three of them.
  auto args = correlate(inv.notes);
  CAF_REQUIRE_EQUAL(args.size(), 1u);
  CAF_CHECK_EQUAL(args[0]["culprits"],
                  json({"worker-2@node-a", "worker-2@node-b",
                        "worker-2@node-c"}));
  auto out = inv.produce_insight(args[0], env);
  CAF_REQUIRE(!out.is_error);
  auto& x = inv.insights.back();
  CAF_CHECK(x.nodes == (std::vector<std::string>{"node-a", "node-b",
                                                 "node-c"}));
  CAF_REQUIRE_EQUAL(x.culprit_details.size(), 3u);
  CAF_CHECK_EQUAL(x.culprit_details[1].name, "worker-2");
  CAF_CHECK_EQUAL(x.culprit_details[1].node, "node-b");
  CAF_CHECK_EQUAL(x.culprit_details[1].kind, "actor");
  // A qualified name must be named on its node.
  auto wrong = inv.produce_insight({{"pattern", "slow_consumer"},
                                    {"notification_ids", {ids[0]}},
                                    {"culprits", {"worker-2@node-b"}}},
                                   env);
  CAF_CHECK(wrong.is_error);
  // An "@" that names no node is part of the name.
  auto odd = note("actors", "mailbox_growth", {"mail@box"});
  auto odd_id = odd.id;
  inv.add_notification(a, std::move(odd));
  auto plain = inv.produce_insight({{"pattern", "slow_consumer"},
                                    {"notification_ids", {odd_id}},
                                    {"culprits", {"mail@box"}}},
                                   env);
  CAF_REQUIRE(!plain.is_error);
  CAF_CHECK_EQUAL(inv.insights.back().culprit_details[0].name, "mail@box");
}

CAF_TEST(a lost node gives its operators up and names the missing skills) {
  auto& a = op("actors");
  auto& m = op("memory");
  a.node = m.node = "node-b";
  auto& here = op("os");
  auto skills = inv.node_lost("node-b", "no heartbeat", 1'700'000'000'123,
                              env);
  CAF_CHECK(skills == (std::vector<std::string>{"actors", "memory"}));
  CAF_CHECK(!a.running && !m.running && here.running);
  CAF_CHECK_EQUAL(a.result->stop_reason, "node_lost");
  CAF_REQUIRE_EQUAL(inv.errors.size(), 1u);
  CAF_CHECK_EQUAL(inv.errors[0], "node 'node-b' lost at "
                                 "2023-11-14T22:13:20.123Z (no heartbeat): "
                                 "skills actors, memory missing");
  CAF_REQUIRE_EQUAL(inv.notes.size(), 1u);
  CAF_CHECK_EQUAL(inv.notes[0].anomaly_type, "node_lost");
  // Nothing runs there any more: a second loss adds nothing.
  CAF_CHECK(inv.node_lost("node-b", "again", 1, env).empty());
  CAF_CHECK_EQUAL(inv.notes.size(), 1u);
}

CAF_TEST(a culprit named only by the logs is a log source) {
  auto& l = op("logs");
  inv.add_notification(l, note("logs", "error_burst", {"payments.gateway"}));
  auto c = inv.resolve_culprit("payments.gateway",
                               json::array({inv.notes[0].id}), env);
  CAF_CHECK_EQUAL(c.kind, "log_source");
}

CAF_TEST(operator statuses carry what finished operators concluded) {
  auto& a = op("actors");
  op("memory");
  auto r = finished("actors", 0, 0);
  r.error = "model quota";
  inv.complete(a, r);
  auto out = inv.operator_statuses();
  CAF_REQUIRE(out.data);
  auto& xs = *out.data;
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0]["summary"], "actors looked");
  CAF_CHECK_EQUAL(xs[0]["error"], "model quota");
  CAF_CHECK_EQUAL(xs[1]["running"], true);
  CAF_CHECK(!xs[1].contains("summary"));
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- admission ------------------------------------------------------------------

namespace {

request_entry request(const std::string& trace, bool queue = true,
                      bool has_callers = true) {
  request_entry e;
  e.trace_id = trace;
  e.req.reason = "why " + trace;
  e.req.options.queue = queue;
  e.has_callers = has_callers;
  if (has_callers)
    e.waiters.push_back(waiter{});
  return e;
}

} // namespace

CAF_TEST(admission queues in order up to its limit) {
  admission q{2};
  CAF_CHECK(q.enqueue(request("a"), "running"));
  CAF_CHECK(q.enqueue(request("b"), "running"));
  CAF_CHECK(!q.enqueue(request("c"), "running")); // queue_full
  CAF_CHECK(!q.enqueue(request("d", false), "running")); // busy
  CAF_CHECK_EQUAL(q.size(), 2u);
  auto st = q.status();
  CAF_CHECK_EQUAL(st.size(), 2u);
  auto first = q.next();
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->trace_id, "a");
  CAF_CHECK(q.cancel("b"));
  CAF_CHECK(!q.cancel("b"));
  CAF_CHECK(!q.next());
}

CAF_TEST(admission forgets requests whose callers went away) {
  admission q{4};
  q.enqueue(request("a"), "running");
  q.enqueue(request("auto", true, false), "running");
  q.drop_caller(caf::actor_addr{}); // the waiters' (null) caller
  CAF_REQUIRE_EQUAL(q.size(), 1u);
  auto left = q.next();
  CAF_REQUIRE(left);
  CAF_CHECK_EQUAL(left->trace_id, "auto");
}
