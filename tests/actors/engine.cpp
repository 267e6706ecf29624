#define CAF_SUITE actors.engine
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "actors_test_support.hpp"

#include "../../actors/src/loop.hpp"

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervisor.hpp"

#include <set>

#include "caf/test/dsl.hpp"


using namespace caf;
using namespace caflens;
using namespace test_support;
using namespace std::chrono_literals;

namespace {

skills::finding backlog(std::string actor, severity sev = severity::warning) {
  return {"mailbox_growth", sev, actor + " mailbox 5000 and growing", {actor},
          json{{"mailbox_depth", 5000}, {"growth_per_s", 900}}};
}

struct fixture : test_coordinator_fixture<> {
  scripts brains;
  event_recorder events{"actors.engine"};
  lens the_lens;
  std::shared_ptr<int> alpha_n = std::make_shared<int>(0);
  std::shared_ptr<int> beta_n = std::make_shared<int>(0);
  std::vector<actor> callers;

  config base(std::vector<skills::finding> alpha = {backlog("worker-7")},
              std::vector<skills::finding> beta = {}) {
    config cfg;
    cfg.node_name = "test-node";
    cfg.builtin_skills = false;
    cfg.skills = {counting_skill("alpha", std::move(alpha), alpha_n),
                  counting_skill("beta", std::move(beta), beta_n)};
    cfg.brain = brains.factory();
    cfg.rule.sample_interval = 100ms;
    return cfg;
  }

  void start(config cfg) {
    auto l = caflens::start(sys, std::move(cfg));
    CAF_REQUIRE(l);
    the_lens = *l;
    sched.run();
    if (!the_lens.coordinator()) {
      auto h = self->request(the_lens.root(), infinite,
                             supervision::which_children{});
      sched.run();
      h.receive(
        [&](std::vector<supervision::child_info>& xs) {
          for (auto& x : xs)
            CAF_MESSAGE("child " << x.id << " " << to_string(x.status));
        },
        [&](error& e) { CAF_MESSAGE("error " << render_error(e)); });
    }
    CAF_REQUIRE(the_lens.coordinator());
    CAF_REQUIRE(the_lens.operator_supervisor());
  }

  std::shared_ptr<reply_slot> investigate(std::string reason,
                                          investigate_options opts = {}) {
    auto slot = std::make_shared<reply_slot>();
    callers.push_back(
      ask(sys, the_lens.coordinator(), std::move(reason), opts, slot));
    sched.run();
    return slot;
  }

  /// Runs in virtual time until `slot` holds a reply.
  void run_until(const reply_slot& slot, int max_timeouts = 200) {
    sched.run();
    while (!slot.done() && max_timeouts-- > 0) {
      if (!sched.trigger_timeout())
        break;
      sched.run();
    }
  }

  investigation_result run(std::string reason, investigate_options opts = {}) {
    auto slot = investigate(std::move(reason), opts);
    run_until(*slot);
    CAF_REQUIRE(slot->result);
    return *slot->result;
  }

  std::vector<supervision::child_info> operators() {
    std::vector<supervision::child_info> out;
    auto h = self->request(the_lens.operator_supervisor(), infinite,
                           supervision::which_children{});
    sched.run();
    h.receive([&](std::vector<supervision::child_info>& xs) { out = xs; },
              [](error&) {});
    return out;
  }

  std::string status() {
    std::string out;
    auto h = self->request(the_lens.coordinator(), infinite,
                           actors::status_request{});
    sched.run();
    h.receive([&](std::string& x) { out = x; }, [](error&) {});
    return out;
  }

  ~fixture() {
    for (auto& c : callers)
      anon_send_exit(c, exit_reason::user_shutdown);
    the_lens.stop();
    sched.run();
  }
};

bool contains(const std::vector<std::string>& xs, const std::string& what) {
  for (auto& x : xs)
    if (x.find(what) != std::string::npos)
      return true;
  return false;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(engine_tests, fixture)

CAF_TEST(every operator tool runs and reports) {
  brains.by_loop["operator:alpha"] = {
    call("take_snapshot"),
    call("get_snapshot", {{"id", "s-1"}}),
    call("get_snapshot", {{"id", "s-99"}}),
    call("get_snapshots", {{"limit", 5}}),
    call("execute", {{"code", "return alpha_value().value * 2"}}),
    call("execute", {{"code", "while true do end"}}),
    call("send_notification",
         {{"type", "mailbox_growth"},
          {"severity", "warning"},
          {"context", {{"mailbox_depth", 5000}}},
          {"observation", "worker-7 mailbox 5000"},
          {"hypothesis", "slow consumer"},
          {"snapshot_ids", {"s-1"}},
          {"actors", {"worker-7"}}}),
    call("send_notification", {{"type", "x"},
                               {"severity", "info"},
                               {"context", json::object()},
                               {"observation", "cites nothing real"},
                               {"snapshot_ids", {"s-42"}}}),
    call("set_state", {{"state", "warning"}, {"reason", "backlog"}}),
    call("think", {{"thought", "worker-7 is slow"}}),
    call("wait", {{"ms", 50}}),
    call("done", {{"summary", "alpha done"}}),
  };
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("get_operator_statuses"),
    call("wait", {{"ms", 10000}}),
    call("get_notifications"),
    call("produce_insight", {{"pattern", "slow_consumer"},
                             {"culprits", {"worker-7"}},
                             {"notification_ids", {"n-2"}},
                             {"correlation", "causal"},
                             {"summary", "worker-7 is a slow consumer"},
                             {"grounded", true},
                             {"root_cause", "slow consumer"},
                             {"confidence", "high"}}),
    // A culprit that no cited notification names is refused.
    call("produce_insight", {{"pattern", "slow_consumer"},
                             {"culprits", {"worker-7", "phantom-9"}},
                             {"notification_ids", {"n-2"}},
                             {"correlation", "causal"},
                             {"summary", "blames an actor nobody saw"},
                             {"root_cause", "slow consumer"},
                             {"confidence", "low"}}),
    call("produce_insight", {{"pattern", "ghost"},
                             {"notification_ids", {"n-404"}},
                             {"correlation", "causal"},
                             {"summary", "invented"},
                             {"root_cause", "none"},
                             {"confidence", "low"}}),
    call("update_notification_statuses",
         {{"notification_ids", {"n-2"}}, {"status", "acknowledged"}}),
    call("message_operator", {{"skill", "alpha"}, {"message", "hello"}}),
    call("think", {{"thought", "done soon"}}),
    call("done", {{"summary", "all done"}}),
  };
  start(base());
  auto res = run("mailbox backlog on worker-7");
  CAF_CHECK_EQUAL(res.summary, "all done");
  CAF_CHECK(!res.partial);
  CAF_CHECK_EQUAL(res.brain, "scripted");
  CAF_CHECK_EQUAL(res.node, "test-node");
  CAF_REQUIRE_EQUAL(res.operators.size(), 1u);
  auto op = res.operators.front();
  CAF_CHECK_EQUAL(op.stop_reason, "done");
  CAF_CHECK_EQUAL(op.summary, "alpha done");
  CAF_CHECK_EQUAL(op.state, operator_state::warning);
  CAF_CHECK_EQUAL(op.snapshot_ids, std::vector<std::string>{"s-1"});
  CAF_CHECK_EQUAL(op.notification_ids, std::vector<std::string>{"n-2"});
  CAF_CHECK_EQUAL(op.iterations, 12);
  auto refused = events.metadata_of("caflens.tool.stop");
  size_t errors = 0;
  for (auto& md : refused)
    if (md["tool_name"] == "produce_insight" && md["result"] == "error")
      ++errors;
  CAF_CHECK_EQUAL(errors, 2u); // phantom-9 and the unknown n-404
  CAF_REQUIRE_EQUAL(res.notifications.size(), 1u);
  auto n = res.notifications.front();
  CAF_CHECK_EQUAL(n.id, "n-2");
  CAF_CHECK_EQUAL(n.status, "acknowledged");
  CAF_CHECK_EQUAL(n.actors, std::vector<std::string>{"worker-7"});
  CAF_CHECK_EQUAL(n.hypothesis, "slow consumer");
  CAF_CHECK_EQUAL(n.node, "test-node");
  CAF_CHECK_EQUAL(n.trace_id, res.trace_id);
  CAF_REQUIRE_EQUAL(res.insights.size(), 1u);
  auto i = res.insights.front();
  CAF_CHECK_EQUAL(i.pattern, "slow_consumer");
  CAF_CHECK_EQUAL(i.culprits, std::vector<std::string>{"worker-7"});
  // Claimed grounded, but one operator alone cannot ground an insight.
  CAF_CHECK(!i.grounded);
  CAF_CHECK_EQUAL(i.severity, severity::warning);
  CAF_CHECK_EQUAL(i.trace_id, res.trace_id);
  // The sandbox ran the skill's callback; the endless loop hit a limit.
  auto done = events.metadata_of("caflens.operator.execute_complete");
  CAF_REQUIRE_EQUAL(done.size(), 1u);
  auto value = json::parse(done[0]["result"].get<std::string>());
  CAF_CHECK_EQUAL(value["value"], 2);
  CAF_CHECK_EQUAL(events.metadata_of("caflens.operator.execute_error").size(),
                  1u);
  auto failed = events.metadata_of("caflens.operator.notification_failed");
  CAF_REQUIRE_EQUAL(failed.size(), 1u);
  CAF_CHECK(failed[0]["reason"].get<std::string>().find("s-42")
            != std::string::npos);
  auto thoughts = events.metadata_of("caflens.operator.think");
  CAF_REQUIRE_EQUAL(thoughts.size(), 1u);
  CAF_CHECK_EQUAL(thoughts[0]["thought"], "worker-7 is slow");
  // Tool errors went back to the brain: a missing snapshot, the invented
  // notification id, the uncited culprit, the finished operator.
  size_t tool_errors = 0;
  for (auto& md : events.metadata_of("caflens.tool.stop"))
    if (md["result"] == "error")
      ++tool_errors;
  CAF_CHECK_EQUAL(tool_errors, 6u);
  // Every event carries the trace id.
  for (auto& md : events.metadata_of("caflens.operator.iteration_start"))
    CAF_CHECK_EQUAL(md["trace_id"], res.trace_id);
}

CAF_TEST(the loops emit every catalogue event of a normal run) {
  brains.by_loop["operator:alpha"] = {
    call("take_snapshot"),
    call("get_snapshot", {{"id", "s-1"}}),
    call("get_snapshots"),
    call("execute", {{"code", "return alpha_value().value"}}),
    call("execute", {{"code", "error('x')"}}),
    call("send_notification", {{"type", "mailbox_growth"},
                               {"severity", "warning"},
                               {"context", json::object()},
                               {"observation", "o"},
                               {"snapshot_ids", {"s-1"}}}),
    call("send_notification", {{"type", "bad"},
                               {"severity", "warning"},
                               {"context", json::object()},
                               {"observation", "o"},
                               {"snapshot_ids", {"nope"}}}),
    call("set_state", {{"state", "critical"}, {"reason", "r"}}),
    call("think", {{"thought", "t"}}),
    call("wait", {{"ms", 10}}),
    call("done"),
  };
  brains.by_loop["operator:beta"] = {call("wait", {{"ms", 5000}}),
                                     call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha", "beta"}}}),
    call("message_operator", {{"skill", "beta"}, {"message", "hurry"}}),
    call("get_operator_statuses"),
    call("think", {{"thought", "waiting"}}),
    call("wait", {{"ms", 60000}}),
    call("get_notifications", {{"status", "all"}}),
    call("produce_insight", {{"pattern", "slow_consumer"},
                             {"notification_ids", {"n-2"}},
                             {"correlation", "temporal"},
                             {"summary", "s"},
                             {"root_cause", "r"},
                             {"confidence", "low"}}),
    call("update_notification_statuses",
         {{"notification_ids", {"n-2"}}, {"status", "resolved"}}),
    call("schedule", {{"ms", 3'600'000}, {"reason", "look again"}}),
    call("done"),
  };
  start(base());
  auto res = run("check everything");
  CAF_CHECK(!res.partial);
  std::vector<std::string> expected{
    "caflens.investigation.start", "caflens.investigation.stop",
    "caflens.skill.snapshot.start", "caflens.skill.snapshot.stop",
    "caflens.skill.finding", "caflens.tool.start", "caflens.tool.stop",
    "caflens.sandbox.execute.start", "caflens.sandbox.execute.stop",
    "caflens.sandbox.callback"};
  // Spelled out: the catalogue's guard test (telemetry.catalogue) looks for
  // every name in the tests.
  for (auto what : {"caflens.operator.started",
                    "caflens.operator.iteration_start",
                    "caflens.operator.state_change",
                    "caflens.operator.notification_sent",
                    "caflens.operator.notification_failed",
                    "caflens.operator.take_snapshot",
                    "caflens.operator.get_snapshot",
                    "caflens.operator.get_snapshots",
                    "caflens.operator.execute_start",
                    "caflens.operator.execute_complete",
                    "caflens.operator.execute_error",
                    "caflens.operator.wait",
                    "caflens.operator.think",
                    "caflens.operator.done",
                    "caflens.operator.loop_stopped"})
    expected.push_back(what);
  for (auto what : {"caflens.coordinator.started",
                    "caflens.coordinator.iteration_start",
                    "caflens.coordinator.get_notifications",
                    "caflens.coordinator.update_notification_statuses",
                    "caflens.coordinator.insight_produced",
                    "caflens.coordinator.done",
                    "caflens.coordinator.loop_stopped",
                    "caflens.coordinator.invoke_operators",
                    "caflens.coordinator.message_operator",
                    "caflens.coordinator.get_operator_statuses",
                    "caflens.coordinator.wait",
                    "caflens.coordinator.think",
                    "caflens.coordinator.schedule",
                    "caflens.coordinator.operator_notification_received",
                    "caflens.coordinator.operator_complete"})
    expected.push_back(what);
  auto seen = events.names();
  CAF_CHECK_EQUAL(events.untimed(), std::vector<std::string>{});
  for (auto& e : expected)
    if (seen.count(e) == 0)
      CAF_FAIL("event not emitted: " << e);
  // The operator events carry operator, skill, trace id and node.
  auto started = events.metadata_of("caflens.operator.started");
  CAF_REQUIRE_EQUAL(started.size(), 2u);
  CAF_CHECK_EQUAL(started[0]["trace_id"], res.trace_id);
  CAF_CHECK_EQUAL(started[0]["node"], "test-node");
  auto complete = events.metadata_of("caflens.coordinator.operator_complete");
  CAF_CHECK_EQUAL(complete.size(), 2u);
}

CAF_TEST(done is refused while operators run) {
  brains.by_loop["operator:alpha"] = {call("take_snapshot"),
                                      call("wait", {{"ms", 1000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}), call("done"),
    call("wait", {{"ms", 30000}}), call("done", {{"summary", "ok"}})};
  start(base());
  auto res = run("anything");
  CAF_CHECK_EQUAL(res.summary, "ok");
  CAF_CHECK_EQUAL(res.iterations, 4);
  CAF_CHECK(!res.partial);
  CAF_CHECK_EQUAL(res.operators.at(0).stop_reason, "done");
  // The wait ended early, when the operator finished.
  auto waits = events.metadata_of("caflens.coordinator.wait");
  CAF_CHECK_EQUAL(waits.size(), 1u);
}

CAF_TEST(per call options are honoured) {
  brains.by_loop["operator:beta"] = {call("think", {{"thought", "1"}}),
                                     call("think", {{"thought", "2"}}),
                                     call("think", {{"thought", "3"}}),
                                     call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("invoke_operators", {{"skills", {"beta"}}, {"nodes", {"elsewhere"}}}),
    call("invoke_operators", {{"skills", {"beta"}}}),
    call("wait", {{"ms", 10000}}), call("done")};
  start(base());
  investigate_options opts;
  opts.skills = {"beta"};
  opts.operator_max_iterations = 2;
  auto res = run("only beta", opts);
  // alpha was not offered (schema enum), the remote node is unknown.
  CAF_REQUIRE_EQUAL(res.operators.size(), 1u);
  CAF_CHECK_EQUAL(res.operators[0].skill, "beta");
  CAF_CHECK_EQUAL(res.operators[0].stop_reason, "max_iterations");
  CAF_CHECK_EQUAL(res.operators[0].iterations, 2);
  CAF_CHECK_EQUAL(res.trigger, "manual");
  // Unknown skills in the options are rejected up front.
  investigate_options bad;
  bad.skills = {"gamma"};
  auto slot = investigate("x", bad);
  run_until(*slot);
  CAF_REQUIRE(slot->error);
  CAF_CHECK_EQUAL(slot->error->category(), actors_errc_category);
  CAF_CHECK(render_error(*slot->error).find("gamma") != std::string::npos);
  auto empty = investigate("", {});
  run_until(*empty);
  CAF_CHECK(empty->error);
}

CAF_TEST(coordinator max iterations ends the run as partial) {
  std::vector<llm::tool_call> thoughts;
  for (int i = 0; i < 10; ++i)
    thoughts.push_back(call("think", {{"thought", std::to_string(i)}}));
  brains.by_loop["coordinator"] = thoughts;
  start(base());
  investigate_options opts;
  opts.max_iterations = 3;
  auto res = run("loop forever", opts);
  CAF_CHECK(res.partial);
  CAF_CHECK_EQUAL(res.iterations, 3);
  CAF_CHECK(contains(res.errors, "max_iterations"));
  CAF_CHECK(events.has("caflens.coordinator.max_iterations_reached"));
}

CAF_TEST(the deadline stops coordinator and operators with a partial result) {
  brains.by_loop["operator:alpha"] = {call("take_snapshot"),
                                      call("wait", {{"ms", 60000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 60000}}), call("done")};
  start(base());
  investigate_options opts;
  opts.deadline_ms = 500;
  auto res = run("slow", opts);
  CAF_CHECK(res.partial);
  CAF_CHECK(contains(res.errors, "deadline"));
  CAF_REQUIRE_EQUAL(res.operators.size(), 1u);
  CAF_CHECK_EQUAL(res.operators[0].stop_reason, "deadline");
  CAF_CHECK(events.has("caflens.operator.loop_stopped"));
  sched.run();
  CAF_CHECK(json::parse(status())["running"].is_null());
}

CAF_TEST(cancel ends the running investigation and queued ones) {
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 60000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 60000}}), call("done")};
  start(base());
  auto first = investigate("first");
  auto second = investigate("second");
  auto st = json::parse(status());
  CAF_REQUIRE(!st["running"].is_null());
  CAF_CHECK_EQUAL(st["queue"].size(), 1u);
  auto queued_trace = st["queue"][0]["trace_id"].get<std::string>();
  auto h = self->request(the_lens.coordinator(), infinite,
                         actors::cancel_request{queued_trace});
  sched.run();
  h.receive([](bool ok) { CAF_CHECK(ok); }, [](error&) { CAF_FAIL("error"); });
  CAF_REQUIRE(second->error);
  CAF_CHECK_EQUAL(second->error->code(),
                  static_cast<uint8_t>(actors_errc::cancelled));
  auto h2 = self->request(the_lens.coordinator(), infinite,
                          actors::cancel_request{});
  sched.run();
  h2.receive([](bool ok) { CAF_CHECK(ok); }, [](error&) { CAF_FAIL("error"); });
  CAF_REQUIRE(first->error);
  CAF_CHECK_EQUAL(first->error->code(),
                  static_cast<uint8_t>(actors_errc::cancelled));
  // The operator was told to stop.
  sched.run();
  CAF_CHECK(operators().empty());
  CAF_CHECK(events.has("caflens.investigation.exception"));
}

CAF_TEST(investigations queue and the queue is bounded) {
  auto cfg = base();
  cfg.max_queue = 1;
  start(std::move(cfg));
  auto a = investigate("first");
  auto b = investigate("second");
  auto c = investigate("third");
  investigate_options no_queue;
  no_queue.queue = false;
  auto d = investigate("fourth", no_queue);
  CAF_REQUIRE(c->error);
  CAF_CHECK_EQUAL(c->error->code(),
                  static_cast<uint8_t>(actors_errc::queue_full));
  CAF_REQUIRE(d->error);
  CAF_CHECK_EQUAL(d->error->code(), static_cast<uint8_t>(actors_errc::busy));
  CAF_CHECK(events.has("caflens.coordinator.investigation_queued"));
  run_until(*b);
  CAF_REQUIRE(a->result);
  CAF_REQUIRE(b->result);
  CAF_CHECK_EQUAL(a->result->reason, "first");
  CAF_CHECK_EQUAL(b->result->reason, "second");
  CAF_CHECK_NOT_EQUAL(a->result->trace_id, b->result->trace_id);
  CAF_CHECK_LESS_OR_EQUAL(a->result->finished_at, b->result->started_at);
}

CAF_TEST(a dead caller cancels its investigation and the next one runs) {
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 1000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 60000}}), call("done")};
  start(base());
  auto first = investigate("caller dies");
  auto second = investigate("next");
  anon_send_exit(callers.front(), exit_reason::kill);
  sched.run();
  auto stops = events.metadata_of("caflens.coordinator.loop_stopped");
  CAF_REQUIRE_GREATER_OR_EQUAL(stops.size(), 1u);
  CAF_CHECK_EQUAL(stops[0]["reason"], "caller_down");
  auto st = json::parse(status());
  CAF_REQUIRE(!st["running"].is_null());
  CAF_CHECK_EQUAL(st["running"]["reason"], "next");
  run_until(*second);
  if (second->error)
    CAF_FAIL("second failed: " << render_error(*second->error));
  CAF_CHECK(second->result);
}

CAF_TEST(a crashed operator is restarted and reported) {
  brains.by_loop["operator:alpha"] = {call("take_snapshot"),
                                      call("wait", {{"ms", 1000}}),
                                      call("done", {{"summary", "fine"}})};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 30000}}), call("get_notifications"), call("done")};
  start(base());
  auto slot = investigate("crash test");
  auto ops = operators();
  CAF_REQUIRE_EQUAL(ops.size(), 1u);
  CAF_REQUIRE(ops[0].actor);
  anon_send(ops[0].actor,
            exit_msg{nullptr, make_error(sec::runtime_error, "boom")});
  run_until(*slot);
  CAF_REQUIRE(slot->result);
  auto& res = *slot->result;
  // The restarted operator ran to the end: nothing is missing, but the
  // crash is on record.
  CAF_CHECK(!res.partial);
  CAF_CHECK(contains(res.errors, "boom"));
  CAF_CHECK_EQUAL(brains.made["operator:alpha"], 2);
  CAF_REQUIRE_EQUAL(res.operators.size(), 1u);
  CAF_CHECK_EQUAL(res.operators[0].restarts, 1);
  CAF_CHECK_EQUAL(res.operators[0].stop_reason, "done");
  CAF_CHECK_EQUAL(res.operators[0].summary, "fine");
  bool named = false;
  for (auto& n : res.notifications)
    if (n.anomaly_type == "operator_crashed" && n.skill == "alpha"
        && n.observation.find("boom") != std::string::npos)
      named = true;
  CAF_CHECK(named);
  auto crashed = events.metadata_of("caflens.coordinator.operator_crashed");
  CAF_REQUIRE_EQUAL(crashed.size(), 1u);
  CAF_CHECK_EQUAL(crashed[0]["skill"], "alpha");
}

namespace {

/// Collects what a lens subscriber receives, one line per report.
behavior report_sink(event_based_actor*,
                     std::shared_ptr<std::vector<std::string>> seen) {
  return {
    [seen](const operator_report& x) {
      seen->push_back(to_string(x.event) + " " + x.skill + " "
                      + std::to_string(x.crashes) + "/"
                      + std::to_string(x.max_restarts)
                      + (x.trace_id.empty() ? " no-trace" : "")
                      + (x.reason.empty() ? "" : " " + x.reason));
    },
    [seen](const supervision::child_exited& x) {
      seen->push_back("child_exited " + x.supervisor + "/" + x.child_id);
    },
    [seen](const supervision::child_restarted& x) {
      seen->push_back("child_restarted " + x.supervisor + "/" + x.child_id);
    },
    [](const supervision::child_started&) {},
    [](const supervision::child_terminated&) {},
  };
}

bool has_prefix(const std::vector<std::string>& xs, const std::string& p) {
  for (auto& x : xs)
    if (x.rfind(p, 0) == 0)
      return true;
  return false;
}

} // namespace

CAF_TEST(subscribers hear of operator crashes restarts and give ups) {
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 1000}}),
                                      call("wait", {{"ms", 1000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 30000}}), call("done")};
  auto cfg = base();
  cfg.operator_max_restarts = 1;
  start(std::move(cfg));
  auto seen = std::make_shared<std::vector<std::string>>();
  auto sink = sys.spawn(report_sink, seen);
  the_lens.subscribe(sink);
  the_lens.subscribe(sink); // once is enough
  CAF_CHECK_EQUAL(the_lens.subscriber_count(), 1u);
  auto slot = investigate("crash test");
  auto crash_operator = [&] {
    auto ops = operators();
    CAF_REQUIRE_EQUAL(ops.size(), 1u);
    anon_send(ops[0].actor,
              exit_msg{nullptr, make_error(sec::runtime_error, "boom")});
    sched.run();
  };
  crash_operator();
  CAF_CHECK(has_prefix(*seen, "crashed alpha 1/1"));
  CAF_CHECK(has_prefix(*seen, "restarted alpha 1/1"));
  crash_operator();
  CAF_CHECK(has_prefix(*seen, "given_up alpha 2/1"));
  run_until(*slot);
  CAF_REQUIRE(slot->result);
  CAF_CHECK(slot->result->partial);
  for (auto& x : *seen)
    CAF_CHECK_EQUAL(x.find("no-trace"), std::string::npos);
  // Gone when it terminates: nothing kept of it.
  anon_send_exit(sink, exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(the_lens.subscriber_count(), 0u);
}

CAF_TEST(subscribers hear of the application supervisors) {
  auto app_sup = supervision::spawn_supervisor(
    sys, [] {
      supervision::supervisor_flags f;
      f.name = "app";
      f.intensity = 5;
      return f;
    }(),
    {supervision::worker("ingest",
                         [](caf::actor_system& s, const caf::message&)
                           -> supervision::start_result {
                           return s.spawn(
                             [](event_based_actor*, int) -> behavior {
                               return {[](int) {}};
                             },
                             0);
                         })});
  CAF_REQUIRE(app_sup);
  sched.run();
  auto cfg = base();
  cfg.supervisors = {*app_sup};
  start(std::move(cfg));
  auto seen = std::make_shared<std::vector<std::string>>();
  auto sink = sys.spawn(report_sink, seen);
  the_lens.subscribe(sink);
  sched.run();
  auto h = self->request(*app_sup, infinite, supervision::which_children{});
  sched.run();
  actor ingest;
  h.receive(
    [&](std::vector<supervision::child_info>& xs) { ingest = xs.at(0).actor; },
    [](error&) {});
  CAF_REQUIRE(ingest);
  anon_send(ingest, exit_msg{nullptr, make_error(sec::runtime_error, "disk full")});
  sched.run();
  CAF_CHECK(has_prefix(*seen, "child_exited app/ingest"));
  CAF_CHECK(has_prefix(*seen, "child_restarted app/ingest"));
  // After unsubscribe, nothing more arrives.
  the_lens.unsubscribe(sink);
  sched.run();
  auto before = seen->size();
  h = self->request(*app_sup, infinite, supervision::which_children{});
  sched.run();
  h.receive(
    [&](std::vector<supervision::child_info>& xs) { ingest = xs.at(0).actor; },
    [](error&) {});
  anon_send(ingest, exit_msg{nullptr, make_error(sec::runtime_error, "disk full")});
  sched.run();
  CAF_CHECK_EQUAL(seen->size(), before);
  anon_send_exit(*app_sup, exit_reason::user_shutdown);
  anon_send_exit(sink, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(an operator that keeps crashing is given up) {
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 1000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 30000}}), call("done")};
  auto cfg = base();
  cfg.operator_max_restarts = 0;
  start(std::move(cfg));
  auto slot = investigate("crash test");
  auto ops = operators();
  CAF_REQUIRE_EQUAL(ops.size(), 1u);
  anon_send(ops[0].actor,
            exit_msg{nullptr, make_error(sec::runtime_error, "boom")});
  run_until(*slot);
  CAF_REQUIRE(slot->result);
  CAF_CHECK(slot->result->partial);
  CAF_CHECK_EQUAL(slot->result->operators.at(0).stop_reason, "crashed");
  sched.run();
  // The restarted incarnation was told to stop.
  CAF_CHECK(operators().empty());
}

CAF_TEST(a failing coordinator brain replies an error to the caller) {
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 60000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}})};
  start(base());
  auto slot = investigate("brain dies");
  run_until(*slot);
  CAF_REQUIRE(slot->error);
  CAF_CHECK_EQUAL(slot->error->code(),
                  static_cast<uint8_t>(actors_errc::brain_failed));
  CAF_CHECK(events.has("caflens.coordinator.llm_error"));
  CAF_CHECK(events.has("caflens.investigation.exception"));
  sched.run();
  CAF_CHECK(operators().empty());
}

CAF_TEST(a failing operator brain ends that operator only) {
  brains.by_loop["operator:alpha"] = {call("take_snapshot")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha", "beta"}}}),
    call("wait", {{"ms", 30000}}), call("done")};
  start(base({}, {}));
  auto res = run("operator brain dies");
  CAF_CHECK(res.partial);
  CAF_REQUIRE_EQUAL(res.operators.size(), 2u);
  for (auto& op : res.operators) {
    if (op.skill == "alpha") {
      CAF_CHECK_EQUAL(op.stop_reason, "llm_error");
      CAF_CHECK(!op.error.empty());
    } else {
      CAF_CHECK_EQUAL(op.stop_reason, "done"); // the rule brain
    }
  }
  CAF_CHECK(events.has("caflens.operator.llm_error"));
}

CAF_TEST(the rule brain names pattern and culprit) {
  start(base({backlog("worker-7", severity::critical)},
             {backlog("worker-7")}));
  auto res = run("something is off");
  CAF_CHECK_EQUAL(res.brain, "rule");
  CAF_CHECK(!res.partial);
  CAF_CHECK_EQUAL(res.operators.size(), 2u);
  auto* top = res.top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->pattern, "slow_consumer");
  CAF_REQUIRE(!top->culprits.empty());
  CAF_CHECK_EQUAL(top->culprits[0], "worker-7");
  // Two skills agree, but both read the same counters (the process table):
  // one source, not grounded.
  CAF_CHECK(!top->grounded);
  CAF_CHECK_EQUAL(top->severity, severity::critical);
  CAF_CHECK_EQUAL(top->notification_ids.size(), 2u);
  for (auto& n : res.notifications)
    CAF_CHECK_EQUAL(n.status, "acknowledged");
  // Two snapshots per operator: growth needs a baseline.
  CAF_CHECK_EQUAL(*alpha_n, 2);
}

CAF_TEST(the rule brain reports nothing on a healthy system) {
  start(base({}, {}));
  auto res = run("routine check");
  CAF_CHECK(res.insights.empty());
  CAF_CHECK(res.notifications.empty());
  CAF_CHECK(res.top(severity::warning) == nullptr);
  CAF_CHECK(!res.partial);
}

CAF_TEST(the rule brain rechecks suspects until they are confirmed) {
  // Snapshots 1-2 show a handler busy for 400 ms (a suspect), the third
  // 1100 ms: the detector confirms a blocked handler then.
  auto n = std::make_shared<int>(0);
  skills::skill_definition def;
  def.name = "gamma";
  def.title = "gamma";
  def.description = "suspects";
  def.system_prompt = "gamma";
  def.snapshot = [n] { return json{{"captured_at_ns", ++*n}}; };
  def.detect = [n](const json&, const std::vector<json>&) {
    std::vector<skills::finding> out;
    if (*n < 3)
      out.push_back({"suspect_blocked_handler", severity::info, "busy 400 ms",
                     {"worker-4"}, json{{"busy_ms", 400}, {"recheck_ms", 650}}});
    else
      out.push_back({"blocked_handler", severity::critical,
                     "worker-4 busy 1100 ms", {"worker-4"},
                     json{{"busy_ms", 1100}}});
    return out;
  };
  auto cfg = base({}, {});
  cfg.skills.push_back(skills::make_skill(std::move(def)));
  start(std::move(cfg));
  investigate_options opts;
  opts.skills = {"gamma"};
  auto res = run("stuck?", opts);
  CAF_CHECK_EQUAL(*n, 3);
  CAF_REQUIRE_EQUAL(res.notifications.size(), 1u);
  CAF_CHECK_EQUAL(res.notifications[0].anomaly_type, "blocked_handler");
  auto* top = res.top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->pattern, "scheduler_starvation");
  auto waits = events.metadata_of("caflens.operator.wait");
  CAF_REQUIRE_EQUAL(waits.size(), 2u);
  CAF_CHECK_EQUAL(waits[1]["ms"], 650);
}

CAF_TEST(alerts and follow ups are rate limited) {
  auto cfg = base({}, {});
  cfg.min_trigger_interval = 60s;
  start(std::move(cfg));
  auto alert = [&] {
    bool out = false;
    auto h = self->request(the_lens.coordinator(), infinite,
                           actors::alert_request{"p99", "over 2 s", {}});
    sched.run();
    h.receive([&](bool x) { out = x; }, [](error&) {});
    return out;
  };
  CAF_CHECK(alert());
  CAF_CHECK(!alert()); // within min_trigger_interval
  auto starts = events.metadata_of("caflens.investigation.start");
  CAF_REQUIRE_EQUAL(starts.size(), 1u);
  CAF_CHECK_EQUAL(starts[0]["trigger"], "alert");
  CAF_CHECK_EQUAL(starts[0]["reason"], "alert p99: over 2 s");
}

CAF_TEST(the anomaly detector triggers an investigation) {
  auto level = std::make_shared<double>(10);
  skills::skill_definition def;
  def.name = "queues";
  def.title = "queues";
  def.description = "a queue length";
  def.system_prompt = "queues";
  def.snapshot = [level] { return json{{"depth", *level}}; };
  def.detect = [](const json&, const std::vector<json>&) {
    return std::vector<skills::finding>{};
  };
  auto cfg = base({}, {});
  cfg.skills.push_back(skills::make_skill(std::move(def)));
  cfg.anomaly_trigger = true;
  cfg.anomaly_interval = 1s;
  cfg.anomaly.learning = std::chrono::nanoseconds{0};
  cfg.anomaly.min_samples = 10;
  cfg.anomaly.consecutive = 2;
  start(std::move(cfg));
  // Learn a baseline around 10..12, then the depth jumps.
  for (int i = 0; i < 12; ++i) {
    *level = 10 + (i % 3);
    sched.trigger_timeout();
    sched.run();
  }
  CAF_CHECK(!events.has("caflens.investigation.start"));
  *level = 500;
  sched.trigger_timeout(); // first hit
  sched.run();
  CAF_CHECK(!events.has("caflens.investigation.start"));
  sched.trigger_timeout(); // second consecutive hit: trigger
  sched.run();
  auto starts = events.metadata_of("caflens.investigation.start");
  CAF_REQUIRE_EQUAL(starts.size(), 1u);
  CAF_CHECK_EQUAL(starts[0]["trigger"], "anomaly");
  CAF_CHECK(starts[0]["reason"].get<std::string>().find("queues.depth")
            != std::string::npos);
  // The baseline was announced once (no learning time: at the first poll),
  // the trigger names the skill and the field.
  CAF_CHECK_EQUAL(events.metadata_of("caflens.anomaly.baseline_ready").size(),
                  1u);
  auto fired = events.metadata_of("caflens.anomaly.triggered");
  CAF_REQUIRE_EQUAL(fired.size(), 1u);
  CAF_CHECK_EQUAL(fired[0]["skill"], "queues");
  CAF_CHECK_EQUAL(fired[0]["field"], "depth");
}

CAF_TEST(messages the lens does not understand are events not crashes) {
  start(base());
  auto coord = actor_cast<actor>(the_lens.coordinator());
  anon_send(coord, std::string{"hello"}, 42);
  sched.run();
  auto got = events.metadata_of("caflens.coordinator.unexpected_message");
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0]["message"].get<std::string>().find("hello")
            != std::string::npos);
  // Still serving; an operator drops what it does not understand too.
  brains.by_loop["operator:alpha"] = {call("wait", {{"ms", 1000}}),
                                      call("done")};
  brains.by_loop["coordinator"] = {
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 30000}}), call("done")};
  auto slot = investigate("after the noise");
  auto ops = operators();
  CAF_REQUIRE_EQUAL(ops.size(), 1u);
  anon_send(ops[0].actor, 3.5);
  sched.run();
  auto op_got = events.metadata_of("caflens.operator.unexpected_message");
  CAF_REQUIRE_EQUAL(op_got.size(), 1u);
  CAF_CHECK_EQUAL(op_got[0]["skill"], "alpha");
  run_until(*slot);
  CAF_REQUIRE(slot->result);
  CAF_REQUIRE_EQUAL(slot->result->operators.size(), 1u);
  CAF_CHECK_EQUAL(slot->result->operators[0].stop_reason, "done");
}

CAF_TEST(a tool that throws ends its span with tool exception) {
  llm::tool_call c = call("execute", {{"lua", "return 1"}});
  auto out = actors::run_timed(
    "trace-x", 3, "look", c,
    [](const std::string&, const json&) -> actors::tool_outcome {
      throw std::runtime_error("index out of range");
    });
  CAF_CHECK(out.is_error);
  CAF_CHECK(out.content.find("index out of range") != std::string::npos);
  CAF_CHECK(events.has("caflens.tool.start"));
  CAF_CHECK(!events.has("caflens.tool.stop"));
  auto thrown = events.metadata_of("caflens.tool.exception");
  CAF_REQUIRE_EQUAL(thrown.size(), 1u);
  CAF_CHECK_EQUAL(thrown[0]["tool_name"], "execute");
  CAF_CHECK_EQUAL(thrown[0]["trace_id"], "trace-x");
  CAF_CHECK_EQUAL(thrown[0]["reason"], "index out of range");
  // A tool that returns an error is a normal stop.
  auto err = actors::run_timed(
    "trace-x", 4, "look", c, [](const std::string&, const json&) {
      return actors::tool_outcome::error("no such actor");
    });
  CAF_CHECK(err.is_error);
  auto stops = events.metadata_of("caflens.tool.stop");
  CAF_REQUIRE_EQUAL(stops.size(), 1u);
  CAF_CHECK_EQUAL(stops[0]["result"], "error");
}

CAF_TEST(a snapshot that throws is a snapshot exception event) {
  skills::skill_definition def;
  def.name = "flaky";
  def.title = "flaky";
  def.description = "a skill whose snapshot throws";
  def.system_prompt = "flaky";
  def.snapshot = []() -> json { throw std::runtime_error("device gone"); };
  def.detect = [](const json&, const std::vector<json>&) {
    return std::vector<skills::finding>{};
  };
  auto sk = skills::make_skill(std::move(def));
  auto obs = sk->observe("trace-s");
  CAF_CHECK(!obs);
  auto thrown = events.metadata_of("caflens.skill.snapshot.exception");
  CAF_REQUIRE_EQUAL(thrown.size(), 1u);
  CAF_CHECK_EQUAL(thrown[0]["skill"], "flaky");
  CAF_CHECK_EQUAL(thrown[0]["reason"], "device gone");
  CAF_CHECK(!events.has("caflens.skill.snapshot.stop"));
}

CAF_TEST(periodic checks run on schedule) {
  auto cfg = base({}, {});
  cfg.check_interval = 1s;
  start(std::move(cfg));
  CAF_CHECK(!events.has("caflens.investigation.start"));
  sched.trigger_timeout();
  sched.run();
  auto starts = events.metadata_of("caflens.investigation.start");
  CAF_REQUIRE_EQUAL(starts.size(), 1u);
  CAF_CHECK_EQUAL(starts[0]["trigger"], "schedule");
  CAF_CHECK_EQUAL(starts[0]["reason"], "periodic health check");
}

CAF_TEST(a large incident gives complete insights) {
  // 60 findings in one snapshot (alpha) and 40 in another (beta): 100
  // notifications, far beyond the 16 KiB a tool result may take. Nothing
  // is cut inside a document: every notification becomes part of an
  // insight, every culprit is named.
  std::vector<skills::finding> alpha, beta;
  for (int i = 0; i < 60; ++i)
    alpha.push_back({"mailbox_growth", severity::warning,
                     "pool-worker-" + std::to_string(i)
                       + " mailbox 5000 and growing 900 msg/s while it "
                         "handles 40 msg/s; every message waits ~2 minutes",
                     {"pool-worker-" + std::to_string(i)},
                     json{{"mailbox_depth", 5000 + i},
                          {"growth_per_s", 900 + i},
                          {"note", std::string(120, 'x')}}});
  for (int i = 0; i < 40; ++i)
    beta.push_back({"state_growth", severity::warning,
                    "cache-" + std::to_string(i) + " state grows",
                    {"cache-" + std::to_string(i)},
                    json{{"growth_bytes_per_s", 70000 + i},
                         {"source", "reported_state"}}});
  auto cfg = base(alpha, beta);
  cfg.max_tool_result_bytes = 4096;
  start(std::move(cfg));
  auto check = [](const investigation_result& res) {
    CAF_CHECK(!res.partial);
    size_t covered = 0;
    std::set<std::string> culprits;
    for (auto& i : res.insights) {
      covered += i.notification_ids.size();
      culprits.insert(i.culprits.begin(), i.culprits.end());
    }
    CAF_CHECK_EQUAL(covered, res.notifications.size());
    CAF_CHECK_EQUAL(culprits.size(), 100u);
    auto* top = res.top(severity::warning);
    CAF_REQUIRE(top != nullptr);
    CAF_CHECK_EQUAL(top->pattern, "memory_leak"); // ranks before a backlog
    CAF_CHECK_EQUAL(top->culprits.front(), "cache-39"); // the fastest
    CAF_CHECK(res.summary.find(std::to_string(res.notifications.size())
                               + " notification")
              != std::string::npos);
  };
  // Iterations enough for one notification per finding: 100 of them.
  investigate_options roomy;
  roomy.operator_max_iterations = 200;
  auto res = run("everything is slow", roomy);
  CAF_CHECK_EQUAL(res.notifications.size(), 100u);
  check(res);
  // The default 25 iterations: the strongest findings keep their own
  // notification, the rest of each type share one that names every actor.
  auto tight = run("everything is slow");
  CAF_CHECK_LESS(tight.notifications.size(), 100u);
  for (auto& op : tight.operators) {
    CAF_CHECK_EQUAL(op.stop_reason, "done");
    CAF_CHECK_LESS(op.notification_ids.size(), 25u);
  }
  check(tight);
}

CAF_TEST_FIXTURE_SCOPE_END()
