#define CAF_SUITE actors.actions
// Remediation: read-only by default (no action reachable), approve and
// autonomous modes, the allow-list, the audit trail, and a crash-looping
// child restarted by an approved action in a running application.
#include "actors_test_support.hpp"

#include "caflens/actors/actions.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervisor.hpp"

#include "../../actors/src/action_book.hpp"

#include "caf/test/unit_test.hpp"

#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

using namespace caf;
using namespace caflens;
using namespace test_support;
using namespace std::chrono_literals;

namespace {

/// An action that counts its runs (and fails when asked to).
action_definition counter_action(std::string name,
                                 std::shared_ptr<std::vector<json>> runs) {
  action_definition d;
  d.name = std::move(name);
  d.description = "count";
  d.params = {sandbox::param::needed("target", sandbox::param_type::string),
              sandbox::param::integer("times", 1, 1, 5)};
  d.patterns = {"slow_consumer"};
  d.for_insight = [](const insight& x,
                     const std::vector<notification>&) -> std::optional<json> {
    if (x.culprits.empty())
      return std::nullopt;
    return json{{"target", x.culprits.front()}};
  };
  d.run = [runs](const json& args) -> caf::expected<json> {
    if (args.value("target", std::string{}) == "explode")
      return make_error(actors_errc::action_failed, "it exploded");
    runs->push_back(args);
    return json{{"ok", true}};
  };
  return d;
}

struct book_fixture {
  std::shared_ptr<std::vector<json>> runs
    = std::make_shared<std::vector<json>>();
  std::vector<std::string> changes;

  actors::action_book make(action_mode mode,
                           std::vector<std::string> allow = {"bump"}) {
    action_settings s;
    s.mode = mode;
    s.registered = {counter_action("bump", runs),
                    counter_action("wipe", runs)};
    s.allow = std::move(allow);
    return actors::action_book{std::move(s), [this](const action_record& r) {
                                 changes.push_back(r.id + ":"
                                                   + to_string(r.status));
                               }};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(action_book_tests, book_fixture)

CAF_TEST(read only offers nothing and refuses everything) {
  auto book = make(action_mode::read_only);
  CAF_CHECK(book.offered().empty());
  auto r = book.propose("bump", {{"target", "w"}}, "why", "t", "", "llm");
  CAF_CHECK_EQUAL(r.error(), actors_errc::action_denied);
  auto recs = book.records();
  CAF_REQUIRE_EQUAL(recs.size(), 1u);
  CAF_CHECK_EQUAL(recs[0].status, action_status::denied);
  CAF_CHECK(runs->empty());
}

CAF_TEST(the allow list and the parameters are enforced) {
  auto book = make(action_mode::approve);
  auto offered = book.offered();
  CAF_REQUIRE_EQUAL(offered.size(), 1u);
  CAF_CHECK_EQUAL(offered[0]->name, "bump");
  auto not_allowed = book.propose("wipe", {{"target", "w"}}, "", "t", "", "x");
  CAF_CHECK_EQUAL(not_allowed.error(), actors_errc::action_denied);
  auto unknown = book.propose("reboot", json::object(), "", "t", "", "x");
  CAF_CHECK_EQUAL(unknown.error(), actors_errc::action_denied);
  auto missing = book.propose("bump", json::object(), "", "t", "", "x");
  CAF_CHECK_EQUAL(missing.error(), actors_errc::action_denied);
  auto out_of_range
    = book.propose("bump", {{"target", "w"}, {"times", 9}}, "", "t", "", "x");
  CAF_CHECK_EQUAL(out_of_range.error(), actors_errc::action_denied);
  auto extra
    = book.propose("bump", {{"target", "w"}, {"rm", "-rf"}}, "", "t", "", "x");
  CAF_CHECK_EQUAL(extra.error(), actors_errc::action_denied);
  auto ok = book.propose("bump", {{"target", "w"}}, "backlog", "t", "i-1",
                         "rule");
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->status, action_status::proposed);
  // The default of an optional parameter is filled in.
  auto args = json::parse(ok->args);
  CAF_CHECK_EQUAL(args["times"], 1);
  CAF_CHECK(runs->empty()); // nothing runs before approval
  CAF_CHECK_EQUAL(book.records().size(), 6u);
}

CAF_TEST(approval runs once and the audit keeps every step) {
  auto book = make(action_mode::approve);
  auto p = book.propose("bump", {{"target", "w"}}, "backlog", "t", "i-1",
                        "rule");
  CAF_REQUIRE(p);
  auto done = book.approve(p->id, "alice");
  CAF_REQUIRE(done);
  CAF_CHECK_EQUAL(done->status, action_status::executed);
  CAF_CHECK_EQUAL(done->approved_by, "alice");
  CAF_CHECK_EQUAL(runs->size(), 1u);
  auto again = book.approve(p->id, "bob");
  CAF_CHECK_EQUAL(again.error(), actors_errc::action_denied);
  CAF_CHECK_EQUAL(runs->size(), 1u);
  CAF_CHECK_EQUAL(changes,
                  (std::vector<std::string>{p->id + ":proposed",
                                            p->id + ":approved",
                                            p->id + ":executed"}));
  auto q = book.propose("bump", {{"target", "w"}}, "", "t", "", "rule");
  CAF_REQUIRE(q);
  auto no = book.reject(q->id, "bob", "not during business hours");
  CAF_REQUIRE(no);
  CAF_CHECK_EQUAL(no->status, action_status::rejected);
  auto after_reject = book.approve(q->id, "alice");
  CAF_CHECK_EQUAL(after_reject.error(), actors_errc::action_denied);
  auto f = book.propose("bump", {{"target", "explode"}}, "", "t", "", "rule");
  CAF_REQUIRE(f);
  auto failed = book.approve(f->id, "alice");
  CAF_CHECK_EQUAL(failed.error(), actors_errc::action_failed);
  auto rec = book.find(f->id);
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL(rec->status, action_status::failed);
  CAF_CHECK_NOT_EQUAL(rec->result.find("exploded"), std::string::npos);
  auto unknown = book.approve("a-999", "alice");
  CAF_CHECK_EQUAL(unknown.error(), actors_errc::not_found);
}

CAF_TEST(a pending proposal is not proposed twice) {
  auto book = make(action_mode::approve);
  auto a = book.propose("bump", {{"target", "w"}}, "", "t", "i-1", "rule");
  auto b = book.propose("bump", {{"target", "w"}}, "", "t", "i-2", "rule");
  CAF_REQUIRE(a && b);
  CAF_CHECK_EQUAL(a->id, b->id);
  CAF_CHECK(book.approve(a->id, "alice"));
  // Decided: the next one is new.
  auto c = book.propose("bump", {{"target", "w"}}, "", "t", "i-3", "rule");
  CAF_REQUIRE(c);
  CAF_CHECK_NOT_EQUAL(c->id, a->id);
}

CAF_TEST(a listener may call back into the book) {
  action_settings s;
  s.mode = action_mode::approve;
  s.registered = {counter_action("bump", runs)};
  s.allow = {"bump"};
  actors::action_book* self = nullptr;
  size_t seen = 0;
  actors::action_book book{std::move(s), [&](const action_record& r) {
                             // An auto-approver: reads the audit, approves.
                             seen = self->records().size();
                             if (r.status == action_status::proposed)
                               std::ignore = self->approve(r.id, "bot");
                           }};
  self = &book;
  auto p = book.propose("bump", {{"target", "w"}}, "", "t", "", "rule");
  CAF_REQUIRE(p);
  CAF_CHECK_EQUAL(seen, 1u);
  auto rec = book.find(p->id);
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL(rec->status, action_status::executed);
  CAF_CHECK_EQUAL(rec->approved_by, "bot");
}

CAF_TEST(an insight proposes the allowed actions for its pattern) {
  auto book = make(action_mode::approve, {"bump", "wipe"});
  insight x;
  x.id = "i-7";
  x.pattern = "slow_consumer";
  x.culprits = {"billing-7"};
  x.summary = "billing-7 falls behind";
  x.trace_id = "t";
  auto recs = book.propose_for(x, {}, "rule");
  CAF_REQUIRE_EQUAL(recs.size(), 2u);
  CAF_CHECK_EQUAL(recs[0].insight_id, "i-7");
  auto args = json::parse(recs[0].args);
  CAF_CHECK_EQUAL(args["target"], "billing-7");
  x.pattern = "memory_leak";
  CAF_CHECK(book.propose_for(x, {}, "rule").empty());
}

CAF_TEST(autonomous runs without approval but never what is not allowed) {
  auto book = make(action_mode::autonomous);
  auto p = book.propose("bump", {{"target", "w"}}, "", "t", "", "llm");
  CAF_REQUIRE(p);
  auto r = book.execute(p->id, "autonomous");
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, action_status::executed);
  auto approve_mode = make(action_mode::approve);
  auto q = approve_mode.propose("bump", {{"target", "w"}}, "", "t", "", "llm");
  CAF_REQUIRE(q);
  auto unapproved = approve_mode.execute(q->id, "autonomous");
  CAF_CHECK_EQUAL(unapproved.error(), actors_errc::action_denied);
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- in a running application -------------------------------------------------

namespace {

behavior flaky(event_based_actor* self, int) {
  return {[self](const std::string& cmd) {
    if (cmd == "crash")
      self->quit(make_error(sec::runtime_error, "corrupt cache"));
  }};
}

struct app_fixture {
  actor_system_config cfg;
  std::unique_ptr<actor_system> sys;
  actor app_sup;
  event_recorder events{"actors.actions"};

  app_fixture() {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 4);
    cfg.set("logger.verbosity", atom("quiet"));
    sys = std::make_unique<actor_system>(cfg);
    supervision::supervisor_flags f;
    f.name = "ingest_sup";
    f.intensity = 50;
    f.period = 10s;
    auto sup = supervision::spawn_supervisor(
      *sys, f,
      {supervision::worker("cache", [](actor_system& s, const message&)
                                      -> supervision::start_result {
         return s.spawn(flaky, 0);
       })});
    CAF_REQUIRE(sup);
    app_sup = *sup;
  }

  ~app_fixture() {
    anon_send_exit(app_sup, exit_reason::user_shutdown);
  }

  actor child() {
    scoped_actor self{*sys};
    actor result;
    self->request(app_sup, 5s, supervision::which_children{})
      .receive(
        [&](std::vector<supervision::child_info>& xs) {
          result = xs.at(0).actor;
        },
        [](error&) {});
    return result;
  }

  config lens_config(action_mode mode) {
    config c;
    c.node_name = "app-node";
    c.supervisors = {app_sup};
    c.actions.mode = mode;
    c.actions.registered = {actions::restart_child(*sys, {app_sup})};
    c.actions.allow = {"restart_child"};
    c.deadline = 20s;
    return c;
  }

  static investigate_options crash_options() {
    investigate_options o;
    o.skills = {"supervision", "crashes"};
    return o;
  }

  /// Crashes the child `n` times, each time waiting for its restart.
  void crash_loop(lens& l, int n) {
    scoped_actor self{*sys};
    l.subscribe(actor_cast<actor>(self));
    for (int i = 0; i < n; ++i) {
      anon_send(child(), std::string{"crash"});
      bool restarted = false;
      self->receive_while([&] { return !restarted; })(
        [&](supervision::child_restarted&) { restarted = true; },
        [](supervision::child_exited&) {}, [](supervision::child_started&) {},
        [](operator_report&) {}, [](action_record&) {},
        after(5s) >> [&] { restarted = true; });
    }
    l.unsubscribe(actor_cast<actor>(self));
  }
};

} // namespace

/// A coordinator brain that notes the tools it is offered and finishes.
class tool_spy : public llm::brain {
public:
  explicit tool_spy(std::shared_ptr<std::vector<std::string>> seen)
    : seen_(std::move(seen)) {
  }

  caf::expected<llm::tool_call> decide(llm::conversation& conv,
                                       const llm::tool_set& tools) override {
    for (auto& t : tools.tools())
      seen_->push_back(t.name());
    llm::tool_call c;
    c.id = "spy";
    c.name = "done";
    c.arguments = json::object();
    conv.add(llm::message::make_assistant("", {c}));
    return c;
  }

  std::string_view kind() const noexcept override {
    return "spy";
  }

private:
  std::shared_ptr<std::vector<std::string>> seen_;
};

std::vector<std::string> tools_offered(actor_system& sys, config c) {
  auto seen = std::make_shared<std::vector<std::string>>();
  c.brain = [seen](const brain_request& req) -> std::unique_ptr<llm::brain> {
    if (req.role != "coordinator")
      return nullptr;
    return std::make_unique<tool_spy>(seen);
  };
  auto l = caflens::start(sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("what tools are there");
  CAF_CHECK(res);
  l->stop();
  return *seen;
}

bool offers(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

CAF_TEST_FIXTURE_SCOPE(app_tests, app_fixture)

CAF_TEST(a brain is offered actions only when they may run) {
  auto c = lens_config(action_mode::read_only);
  auto read_only = tools_offered(*sys, c);
  CAF_CHECK(offers(read_only, "produce_insight"));
  CAF_CHECK(!offers(read_only, "propose_action"));
  c.actions.mode = action_mode::approve;
  c.actions.allow.clear(); // registered but not allowed: not offered
  CAF_CHECK(!offers(tools_offered(*sys, c), "propose_action"));
  c.actions.allow = {"restart_child"};
  CAF_CHECK(offers(tools_offered(*sys, c), "propose_action"));
}

CAF_TEST(read only is the default and no action is reachable) {
  config c;
  c.supervisors = {app_sup};
  c.actions.registered = {actions::restart_child(*sys, {app_sup})};
  c.actions.allow = {"restart_child"};
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  crash_loop(*l, 4);
  auto res = l->investigate("the cache keeps crashing", crash_options());
  CAF_REQUIRE(res);
  CAF_CHECK(res->actions.empty());
  CAF_CHECK(l->actions().empty());
  CAF_CHECK(!events.has("caflens.action.proposed"));
  auto denied = l->approve_action("a-1", "mallory");
  CAF_CHECK(!denied);
  l->stop();
}

CAF_TEST(an approved action restarts a crash looping child) {
  auto l = caflens::start(*sys, lens_config(action_mode::approve));
  CAF_REQUIRE(l);
  crash_loop(*l, 4);
  auto before = child();
  CAF_REQUIRE(before);
  auto res = l->investigate("the cache keeps crashing", crash_options());
  CAF_REQUIRE(res);
  const insight* loop = nullptr;
  for (auto& x : res->insights)
    if (x.pattern == "crash_loop")
      loop = &x;
  CAF_REQUIRE(loop != nullptr);
  CAF_REQUIRE_EQUAL(res->actions.size(), 1u);
  auto& proposal = res->actions[0];
  CAF_CHECK_EQUAL(proposal.action, "restart_child");
  CAF_CHECK_EQUAL(proposal.status, action_status::proposed);
  CAF_CHECK_EQUAL(proposal.insight_id, loop->id);
  auto args = json::parse(proposal.args);
  CAF_CHECK_EQUAL(args["supervisor"], "ingest_sup");
  CAF_CHECK_EQUAL(args["child"], "cache");
  // Nothing ran yet: the child is the one that was there.
  CAF_CHECK(child() == before);
  auto done = l->approve_action(proposal.id, "oncall@example.org");
  CAF_REQUIRE(done);
  CAF_CHECK_EQUAL(done->status, action_status::executed);
  auto after_restart = child();
  CAF_REQUIRE(after_restart);
  CAF_CHECK(after_restart != before);
  // One audit record, updated in place; each step is an event too.
  std::vector<std::string> steps;
  for (auto& r : l->actions())
    steps.push_back(to_string(r.status));
  CAF_CHECK_EQUAL(steps, (std::vector<std::string>{"executed"}));
  CAF_CHECK(events.has("caflens.action.proposed"));
  CAF_CHECK(events.has("caflens.action.approved"));
  auto ran = events.metadata_of("caflens.action.executed");
  CAF_REQUIRE_EQUAL(ran.size(), 1u);
  CAF_CHECK_EQUAL(ran[0]["by"], "oncall@example.org");
  CAF_CHECK_EQUAL(ran[0]["trace_id"], res->trace_id);
  l->stop();
}

CAF_TEST(denied rejected and failed actions are audited events) {
  auto c = lens_config(action_mode::approve);
  action_definition flush;
  flush.name = "flush_cache";
  flush.description = "Flushes a region of the cache.";
  flush.params = {sandbox::param::needed("region", sandbox::param_type::string)};
  flush.run = [](const json& args) -> caf::expected<json> {
    return make_error(sec::runtime_error,
                      "region " + args["region"].get<std::string>()
                        + " is read-only");
  };
  c.actions.registered.push_back(flush);
  c.actions.allow.push_back("flush_cache");
  scripts brains;
  brains.by_loop["coordinator"] = {
    call("propose_action", {{"action", "flush_cache"},
                            {"arguments", {{"bucket", "b1"}}},
                            {"reason", "an argument it does not take"}}),
    call("propose_action", {{"action", "flush_cache"},
                            {"arguments", {{"region", "eu"}}},
                            {"reason", "stale entries"}}),
    call("propose_action", {{"action", "restart_child"},
                            {"arguments",
                             {{"supervisor", "ingest_sup"}, {"child", "cache"}}},
                            {"reason", "crash loop"}}),
    call("done", {{"summary", "proposed"}})};
  c.brain = brains.factory();
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("the cache misbehaves");
  CAF_REQUIRE(res);
  // The unknown argument is refused at once; the others wait.
  auto denied = events.metadata_of("caflens.action.denied");
  CAF_REQUIRE_EQUAL(denied.size(), 1u);
  CAF_CHECK_EQUAL(denied[0]["action"], "flush_cache");
  CAF_CHECK(denied[0]["reason"].get<std::string>().find("bucket")
            != std::string::npos);
  std::string flush_id;
  std::string restart_id;
  for (auto& r : l->actions()) {
    if (r.status != action_status::proposed)
      continue;
    (r.action == "flush_cache" ? flush_id : restart_id) = r.id;
  }
  CAF_REQUIRE(!flush_id.empty());
  CAF_REQUIRE(!restart_id.empty());
  // Approved but its function fails: audited as failed with the reason.
  auto ran = l->approve_action(flush_id, "oncall@example.org");
  CAF_CHECK(!ran);
  auto failed = events.metadata_of("caflens.action.failed");
  CAF_REQUIRE_EQUAL(failed.size(), 1u);
  CAF_CHECK_EQUAL(failed[0]["id"], flush_id);
  CAF_CHECK(failed[0]["reason"].get<std::string>().find("read-only")
            != std::string::npos);
  // A human says no.
  auto before = child();
  auto no = l->reject_action(restart_id, "oncall@example.org", "not now");
  CAF_REQUIRE(no);
  CAF_CHECK_EQUAL(no->status, action_status::rejected);
  auto rejected = events.metadata_of("caflens.action.rejected");
  CAF_REQUIRE_EQUAL(rejected.size(), 1u);
  CAF_CHECK_EQUAL(rejected[0]["id"], restart_id);
  CAF_CHECK(child() == before);
  l->stop();
}

CAF_TEST(autonomous mode restarts the child without approval) {
  auto l = caflens::start(*sys, lens_config(action_mode::autonomous));
  CAF_REQUIRE(l);
  crash_loop(*l, 4);
  auto before = child();
  scoped_actor self{*sys};
  l->subscribe(actor_cast<actor>(self));
  auto res = l->investigate("the cache keeps crashing", crash_options());
  CAF_REQUIRE(res);
  CAF_REQUIRE_EQUAL(res->actions.size(), 1u);
  // The helper reports the outcome to subscribers.
  bool executed = false;
  self->receive_while([&] { return !executed; })(
    [&](action_record& r) {
      if (r.status == action_status::executed
          || r.status == action_status::failed)
        executed = true;
      CAF_CHECK_NOT_EQUAL(r.status, action_status::failed);
    },
    [](supervision::child_exited&) {}, [](supervision::child_started&) {},
    [](supervision::child_restarted&) {},
    [](supervision::child_terminated&) {}, [](operator_report&) {},
    after(10s) >> [&] { executed = true; });
  CAF_CHECK(child() != before);
  auto recs = l->actions();
  CAF_REQUIRE_EQUAL(recs.size(), 1u);
  CAF_CHECK_EQUAL(recs[0].status, action_status::executed);
  CAF_CHECK_EQUAL(recs[0].approved_by, "autonomous");
  l->unsubscribe(actor_cast<actor>(self));
  l->stop();
}

CAF_TEST(an allow list naming an unregistered action is a config error) {
  config c;
  c.actions.mode = action_mode::approve;
  c.actions.allow = {"reboot_host"};
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(!l);
  CAF_CHECK_NOT_EQUAL(render_error(l.error()).find("reboot_host"),
                      std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
