#define CAF_SUITE actors.rule_brain
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "caflens/actors/rule_brain.hpp"

#include "caf/test/dsl.hpp"

#include "caflens/skills/anomaly.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/telemetry/metrics.hpp"


using namespace caflens;
using json = nlohmann::json;

namespace {

notification note(std::string id, std::string skill, std::string type,
                  std::vector<std::string> actors,
                  severity sev = severity::warning, json ctx = {}) {
  notification n;
  n.id = std::move(id);
  n.skill = std::move(skill);
  n.anomaly_type = std::move(type);
  n.actors = std::move(actors);
  n.severity = sev;
  n.observation = n.anomaly_type + " seen";
  n.context = ctx.is_null() ? "{}" : ctx.dump();
  return n;
}

/// The built-in skills, as a lens has them.
std::vector<caflens::skills::skill_ptr> builtin_skills() {
  using namespace caflens::skills;
  static process_table table;
  static caflens::telemetry::metric_registry metrics;
  auto logs = std::make_shared<log_buffer>();
  return {make_actors_skill(table),      make_memory_skill(table),
          make_scheduler_skill(table),   make_crashes_skill(table),
          make_supervision_skill(nullptr), make_logs_skill(logs),
          make_telemetry_skill(metrics), make_os_skill(),
          make_anomaly_skill(std::make_shared<anomaly_detector>()),
          make_tracer_skill(table)};
}

void register_builtin_skills() {
  for (auto& s : builtin_skills())
    register_skill(*s);
}

} // namespace

CAF_TEST(every issue pattern has a stable id) {
  for (auto id : {"slow_consumer", "memory_leak", "crash_loop",
                  "scheduler_starvation", "unresponsive", "error_burst",
                  "latency_regression"}) {
    bool found = false;
    for (auto& p : failure_patterns())
      if (p.id == id)
        found = true;
    CAF_CHECK(found);
  }
  CAF_CHECK_EQUAL(pattern_for("mailbox_growth")->id, "slow_consumer");
  CAF_CHECK_EQUAL(pattern_for("mailbox_backlog")->id, "slow_consumer");
  CAF_CHECK_EQUAL(pattern_for("state_growth")->id, "memory_leak");
  CAF_CHECK_EQUAL(pattern_for("crash_loop")->id, "crash_loop");
  CAF_CHECK_EQUAL(pattern_for("blocked_handler")->id, "scheduler_starvation");
  CAF_CHECK_EQUAL(pattern_for("unresponsive")->id, "unresponsive");
  CAF_CHECK_EQUAL(pattern_for("error_burst")->id, "error_burst");
  CAF_CHECK_EQUAL(pattern_for("latency_regression")->id, "latency_regression");
  CAF_CHECK(pattern_for("no_such_type") == nullptr);
}

CAF_TEST(a root cause outranks its symptoms) {
  std::vector<notification> ns{
    note("n-1", "actors", "mailbox_backlog", {"resizer"}, severity::critical),
    note("n-2", "actors", "blocked_handler", {"resizer"}),
    note("n-3", "scheduler", "scheduler_starvation", {"resizer"},
         severity::critical),
  };
  auto xs = correlate(ns);
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0]["pattern"], "scheduler_starvation");
  CAF_CHECK_EQUAL(xs[0]["culprits"][0], "resizer");
  // actors + scheduler, but both read the process table: one source.
  CAF_CHECK_EQUAL(xs[0]["grounded"], false);
  CAF_CHECK_EQUAL(xs[0]["severity"], "critical");
  CAF_CHECK_EQUAL(xs[1]["pattern"], "slow_consumer");
  CAF_CHECK_EQUAL(xs[1]["correlation"], "symptomatic");
}

CAF_TEST(supporting findings join a present pattern or stand alone) {
  auto with = correlate({note("n-1", "memory", "state_growth", {"cache"}),
                         note("n-2", "memory", "rss_growth", {})});
  CAF_REQUIRE_EQUAL(with.size(), 1u);
  CAF_CHECK_EQUAL(with[0]["pattern"], "memory_leak");
  CAF_CHECK_EQUAL(with[0]["notification_ids"].size(), 2u);
  auto alone = correlate({note("n-2", "memory", "rss_growth", {})});
  CAF_REQUIRE_EQUAL(alone.size(), 1u);
  CAF_CHECK_EQUAL(alone[0]["pattern"], "memory_growth");
}

CAF_TEST(culprits are ordered by severity then magnitude) {
  auto xs = correlate(
    {note("n-1", "actors", "mailbox_backlog", {"sink"}, severity::warning,
          {{"mailbox_depth", 1500}}),
     note("n-2", "actors", "mailbox_growth", {"resizer"}, severity::warning,
          {{"growth_per_s", 900}}),
     note("n-3", "actors", "mailbox_backlog", {"encoder"}, severity::warning,
          {{"mailbox_depth", 1200}})});
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  auto c = xs[0]["culprits"];
  CAF_REQUIRE_EQUAL(c.size(), 3u);
  CAF_CHECK_EQUAL(c[0], "resizer");
  CAF_CHECK_EQUAL(c[1], "sink");
  CAF_CHECK_EQUAL(c[2], "encoder");
}

CAF_TEST(info only findings never become warnings) {
  auto xs = correlate({note("n-1", "os", "detector_failed", {},
                            severity::info)});
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0]["severity"], "info");
  CAF_CHECK_EQUAL(xs[0]["confidence"], "low");
  CAF_CHECK(correlate({}).empty());
}

CAF_TEST(the reason routes to skills) {
  // Each skill declares its keywords; the engine registers them.
  register_builtin_skills();
  std::vector<std::string> all{"actors", "memory", "os", "scheduler",
                               "crashes", "logs", "telemetry", "supervision",
                               "anomaly"};
  auto has = [](const std::vector<std::string>& xs, const char* x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  // The core set runs whatever the reason says.
  for (auto reason : {"RSS above 90%", "p95 of /quote above 250ms",
                      "uploader_sup restarted 3 times"})
    for (auto core : {"actors", "crashes", "supervision", "memory"})
      CAF_CHECK(has(route_skills(reason, all), core));
  auto mem = route_skills("RSS above 90%", all);
  CAF_CHECK_EQUAL(mem, (std::vector<std::string>{"actors", "crashes",
                                                 "supervision", "memory",
                                                 "os"}));
  CAF_CHECK(has(route_skills("uploader_sup restarted 3 times", all), "logs"));
  // Percentiles by any name reach the telemetry skill.
  CAF_CHECK(has(route_skills("p95 of quote fan-out above 250ms", all),
                "telemetry"));
  CAF_CHECK(has(route_skills("p999 over SLO", all), "telemetry"));
  // A reason that is mostly hyphenated words (found by caflens-chaos: the
  // split read a word the vector had moved, and the coordinator crashed).
  auto many = route_skills("warm-up re-run fan-out p99-latency-spike "
                           "memory-leak-suspect co-ordinator-check",
                           all);
  CAF_CHECK(has(many, "telemetry")); // "p99" from "p99-latency-spike"
  CAF_CHECK(has(many, "memory"));
  CAF_CHECK(has(route_skills("ticks to clients delayed", all), "telemetry"));
  // Words we do not know: every skill.
  CAF_CHECK_EQUAL(route_skills("hmm", all).size(), all.size());
  // Whole words: "catalog" is no "log", "upload" no "load".
  auto lag = route_skills("catalog indexing lag for uploads", all);
  CAF_CHECK(!has(lag, "logs"));
  CAF_CHECK(!has(lag, "os"));
  CAF_CHECK(has(lag, "scheduler"));
  // Only available skills are picked; with none of the routed ones
  // available, every available skill.
  CAF_CHECK_EQUAL(route_skills("memory", {"actors"}),
                  std::vector<std::string>{"actors"});
  CAF_CHECK_EQUAL(route_skills("stuck", {"gamma"}),
                  std::vector<std::string>{"gamma"});
  // An application's own skills are always asked.
  CAF_CHECK(has(route_skills("mailbox", {"actors", "orders"}), "orders"));
}

CAF_TEST(grounded needs two independent sources) {
  // The memory skill's reported state and the OS's RSS are two sources.
  auto xs = correlate({note("n-1", "memory", "state_growth", {"cache"}),
                       note("n-2", "os", "rss_growth", {})});
  CAF_REQUIRE_EQUAL(xs.size(), 1u);
  CAF_CHECK_EQUAL(xs[0]["grounded"], true);
  // Blocked handler seen by the actors and the scheduler skill: one source
  // (the process table), whatever the number of skills.
  auto ys = correlate({note("n-1", "actors", "blocked_handler", {"w"}),
                       note("n-2", "scheduler", "scheduler_starvation",
                            {"w"})});
  CAF_REQUIRE_EQUAL(ys.size(), 1u);
  CAF_CHECK_EQUAL(ys[0]["grounded"], false);
  CAF_CHECK_EQUAL(ys[0]["correlation"], "temporal");
}

CAF_TEST(a supervisor that gave up outranks the crash loop behind it) {
  auto xs = correlate(
    {note("n-1", "crashes", "crash_loop", {"book-AAPL"}),
     note("n-2", "supervision", "restart_intensity_exceeded",
          {"book-AAPL", "books_sup"}, severity::critical)});
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0]["pattern"], "restart_intensity");
  CAF_CHECK_EQUAL(xs[0]["culprits"],
                  json::array({"book-AAPL", "books_sup"}));
  CAF_CHECK_EQUAL(xs[1]["pattern"], "crash_loop");
  CAF_CHECK_EQUAL(xs[1]["correlation"], "symptomatic");
}

CAF_TEST(skills feed the pattern table with their finding types) {
  // Every finding type a built-in skill declares maps to the pattern it
  // names, and that pattern is in the table.
  register_builtin_skills();
  for (auto& sk : builtin_skills())
    for (auto& ft : sk->finding_types()) {
      auto* p = pattern_for(ft.type);
      CAF_REQUIRE(p != nullptr);
      CAF_CHECK_EQUAL(p->id, ft.pattern);
    }
  // A skill of the application with a pattern of its own: its findings
  // correlate into insights of that pattern.
  caflens::skills::skill_definition def;
  def.name = "orders";
  def.finding_types = {{"order_book_crossed", "crossed_book",
                        "bid above ask in an order book",
                        "{culprits} publishes a crossed book", 15}};
  def.keywords = {"crossed", "order book"};
  auto orders = caflens::skills::make_skill(std::move(def));
  register_skill(*orders);
  auto* p = pattern_for("order_book_crossed");
  CAF_REQUIRE(p != nullptr);
  CAF_CHECK_EQUAL(p->id, "crossed_book");
  auto xs = correlate({note("n-1", "orders", "order_book_crossed",
                            {"book-AAPL"}),
                       note("n-2", "actors", "mailbox_backlog", {"router"})});
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0]["pattern"], "crossed_book");
  CAF_CHECK_EQUAL(xs[0]["root_cause"], "book-AAPL publishes a crossed book");
  // Its keywords route to it.
  auto picked = route_skills("order book crossed on venue 2",
                             {"actors", "telemetry", "orders"});
  CAF_CHECK(std::find(picked.begin(), picked.end(), "orders")
            != picked.end());
}
