#define CAF_SUITE store.database
#include "caf/test/dsl.hpp"

#include <filesystem>
#include <fstream>

#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/store/store.hpp"
#include "caflens/telemetry/bus.hpp"

#include "daemon.hpp" // tests/sinks: temp_dir

using namespace caf;
using namespace caflens;
using namespace caflens::store;
namespace tel = caflens::telemetry;
namespace fs = std::filesystem;
using caflens::test::temp_dir;

namespace {


/// An investigation result as the engine's `to_json` writes it.
nlohmann::json result(const std::string& trace, int64_t started,
                      const std::string& severity, const std::string& pattern,
                      const std::string& culprit) {
  nlohmann::json insights = nlohmann::json::array();
  if (!severity.empty())
    insights.push_back({{"id", "i-1"},
                        {"pattern", pattern},
                        {"severity", severity},
                        {"culprits", {culprit, "other"}},
                        {"summary", pattern + " in " + culprit}});
  return {{"trace_id", trace},
          {"reason", "p99 over 2 s"},
          {"trigger", "alert"},
          {"insights", insights},
          {"notifications",
           {{{"id", "n-1"},
             {"skill", "actors"},
             {"severity", "warning"},
             {"node", "n1"},
             {"summary", "mailbox grows"}}}},
          {"operators", nlohmann::json::array()},
          {"summary", "done"},
          {"partial", false},
          {"errors", nlohmann::json::array()},
          {"input_tokens", 100},
          {"output_tokens", 20},
          {"cost_usd", 0.01},
          {"started_at", started},
          {"finished_at", started + 1500},
          {"brain", "rule"},
          {"node", "n1"}};
}

store_options at(const temp_dir& d, std::string name = "caflens.db") {
  store_options o;
  o.path = (d.path / name).string();
  return o;
}

std::vector<std::string> traces(const std::vector<investigation_row>& rows) {
  std::vector<std::string> xs;
  for (auto& r : rows)
    xs.push_back(r.trace_id);
  return xs;
}

} // namespace

CAF_TEST(a new store is migrated and reopens at its version) {
  temp_dir d;
  {
    auto db = database::open(at(d));
    CAF_REQUIRE(db);
    CAF_CHECK_EQUAL((*db)->version(), schema_version);
    CAF_CHECK(!(*db)->check_integrity());
  }
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  CAF_CHECK_EQUAL((*db)->version(), schema_version);
  auto ro = database::open(at(d), true);
  CAF_REQUIRE(ro);
}

CAF_TEST(a newer schema or a foreign file is refused with the reason) {
  temp_dir d;
  {
    sqlite3* raw = nullptr;
    auto path = at(d, "future.db").path;
    CAF_REQUIRE_EQUAL(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  auto future = database::open(at(d, "future.db"));
  CAF_REQUIRE(!future);
  auto msg = render_error(future.error());
  CAF_CHECK(msg.find("schema_mismatch") != std::string::npos);
  CAF_CHECK(msg.find("99 is newer") != std::string::npos);
  {
    std::ofstream out{d.path / "junk.db"};
    out << std::string(8192, 'x');
  }
  auto junk = database::open(at(d, "junk.db"));
  CAF_REQUIRE(!junk);
  CAF_CHECK(render_error(junk.error()).find("corrupt") != std::string::npos);
  auto missing = database::open(at(d, "nope/x.db"));
  CAF_REQUIRE(!missing);
  CAF_CHECK(render_error(missing.error()).find("nope/x.db")
            != std::string::npos);
  CAF_CHECK(!database::open(store_options{}));
}

CAF_TEST(investigations are found by time severity culprit and pattern) {
  temp_dir d;
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  auto& s = **db;
  CAF_REQUIRE(!s.put_investigation(
    result("t1", 1000, "warning", "slow_consumer", "resizer-2")));
  CAF_REQUIRE(!s.put_investigation(
    result("t2", 2000, "critical", "crash_loop", "ingest@node-b")));
  CAF_REQUIRE(!s.put_investigation(result("t3", 3000, "", "", "")));
  CAF_REQUIRE(!s.put_investigation(
    result("t4", 4000, "info", "memory_growth", "cache")));
  auto all = s.investigations({});
  CAF_REQUIRE(all);
  CAF_CHECK_EQUAL(traces(*all),
                  (std::vector<std::string>{"t4", "t3", "t2", "t1"}));
  CAF_CHECK_EQUAL((*all)[2].culprit, "ingest@node-b");
  CAF_CHECK_EQUAL((*all)[2].severity, "critical");
  CAF_CHECK_EQUAL((*all)[2].insights, 1);
  CAF_CHECK_EQUAL((*all)[1].insights, 0);
  query q;
  q.min_severity = "warning";
  CAF_CHECK_EQUAL(traces(*s.investigations(q)),
                  (std::vector<std::string>{"t2", "t1"}));
  q = {};
  q.culprit = "node-b";
  CAF_CHECK_EQUAL(traces(*s.investigations(q)),
                  (std::vector<std::string>{"t2"}));
  q = {};
  q.culprit = "other"; // second culprits count too
  CAF_CHECK_EQUAL(s.investigations(q)->size(), 3u);
  q = {};
  q.pattern = "slow_consumer";
  CAF_CHECK_EQUAL(traces(*s.investigations(q)),
                  (std::vector<std::string>{"t1"}));
  q = {};
  q.from_ms = 2000;
  q.to_ms = 3000;
  CAF_CHECK_EQUAL(traces(*s.investigations(q)),
                  (std::vector<std::string>{"t3", "t2"}));
  q = {};
  q.limit = 1;
  CAF_CHECK_EQUAL(traces(*s.investigations(q)),
                  (std::vector<std::string>{"t4"}));
  q.limit = 0;
  CAF_CHECK(!s.investigations(q));
  q = {};
  q.min_severity = "severe";
  auto bad = s.investigations(q);
  CAF_REQUIRE(!bad);
  CAF_CHECK(render_error(bad.error()).find("'severe'") != std::string::npos);
  // A second put of the same trace replaces it.
  CAF_REQUIRE(!s.put_investigation(
    result("t1", 1000, "critical", "deadlock", "resizer-2")));
  q = {};
  q.pattern = "slow_consumer";
  CAF_CHECK(s.investigations(q)->empty());
  auto counts = s.counts();
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL((*counts)[0].second, 4); // investigations
  CAF_CHECK_EQUAL((*counts)[1].second, 3); // insights
}

CAF_TEST(the detail holds the result snapshots and timeline) {
  temp_dir d;
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  auto& s = **db;
  CAF_REQUIRE(!s.put_investigation(
    result("t9", 1000, "warning", "slow_consumer", "w-2")));
  CAF_REQUIRE(!s.put_snapshot("t9", "s-1", "actors", "n1", 1100,
                              {{"actors", 12}}));
  sinks::record ev;
  ev.event = "caflens.tool.stop";
  ev.system_time_ns = 5;
  ev.measurements = {{"duration", 42}};
  ev.metadata = {{"trace_id", "t9"}, {"tool_name", "take_snapshot"}};
  CAF_REQUIRE(!s.put_event(ev, "t9"));
  auto detail = s.investigation("t9");
  CAF_REQUIRE(detail);
  CAF_CHECK_EQUAL(detail->row.pattern, "slow_consumer");
  CAF_CHECK_EQUAL(detail->result["notifications"][0]["summary"],
                  "mailbox grows");
  CAF_REQUIRE_EQUAL(detail->snapshots.size(), 1u);
  CAF_CHECK_EQUAL(detail->snapshots[0]["data"]["actors"], 12);
  CAF_REQUIRE_EQUAL(detail->timeline.size(), 1u);
  CAF_CHECK_EQUAL(detail->timeline[0]["metadata"]["tool_name"],
                  "take_snapshot");
  auto none = s.investigation("nope");
  CAF_REQUIRE(!none);
  CAF_CHECK(render_error(none.error()).find("not_found") != std::string::npos);
}

CAF_TEST(retention keeps the newest and drops what belongs to the rest) {
  temp_dir d;
  auto o = at(d);
  o.max_investigations = 2;
  o.max_age = std::chrono::hours{1};
  auto db = database::open(o);
  CAF_REQUIRE(db);
  auto& s = **db;
  int64_t now = 10 * 3'600'000;
  for (int i = 0; i < 5; ++i) {
    auto trace = "t" + std::to_string(i);
    CAF_REQUIRE(!s.put_investigation(
      result(trace, now - 1000 * (5 - i), "warning", "p", "c")));
    CAF_REQUIRE(!s.put_snapshot(trace, "s", "os", "n", 0, {}));
  }
  CAF_REQUIRE(!s.put_investigation(
    result("ancient", now - 2 * 3'600'000, "warning", "p", "c")));
  auto n = s.apply_retention(now);
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 4u);
  CAF_CHECK_EQUAL(traces(*s.investigations({})),
                  (std::vector<std::string>{"t4", "t3"}));
  auto counts = s.counts();
  CAF_CHECK_EQUAL((*counts)[3].second, 2); // snapshots
  CAF_CHECK_EQUAL((*counts)[1].second, 2); // insights
}

CAF_TEST(the store sink writes batches and a locked database is an event) {
  temp_dir d;
  tel::bus& bus = tel::bus::global();
  std::vector<std::string> store_events;
  CAF_REQUIRE(!bus.attach_many(
    "store-test",
    {tel::event_name{"caflens", "store", "write"},
     tel::event_name{"caflens", "store", "error"}},
    [&](const tel::event_name& e, const tel::measurements&,
        const tel::metadata& md, const std::any&) {
      auto reason = md.find("reason");
      store_events.push_back(e.str()
                             + (reason ? " " + reason->to_string() : ""));
    }));
  auto o = at(d);
  o.busy_timeout = std::chrono::milliseconds{50};
  o.max_age = std::chrono::hours{0}; // the test's times are near 1970
  sinks::sink_options so;
  auto s = store_sink::open(so, o);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL((*s)->name(), "store");
  auto evs = (*s)->options().events;
  CAF_CHECK(std::find(evs.begin(), evs.end(),
                      tel::event_name{"caflens", "tool", "stop"})
            != evs.end());
  (*s)->consume(result_record(result("a", 1, "warning", "p", "c")));
  (*s)->consume(snapshot_record("a", "s-1", "os", "n", 2, {{"rss", 1}}));
  sinks::record ev;
  ev.event = "caflens.llm.stop";
  ev.metadata = {{"trace_id", "a"}, {"model", "m"}};
  (*s)->consume(ev);
  CAF_REQUIRE(!(*s)->flush());
  CAF_REQUIRE_EQUAL(store_events.size(), 1u);
  CAF_CHECK_EQUAL(store_events[0], "caflens.store.write");
  auto detail = (*s)->db()->investigation("a");
  if (!detail)
    CAF_MESSAGE(render_error(detail.error()));
  CAF_REQUIRE(detail);
  CAF_CHECK_EQUAL(detail->snapshots.size(), 1u);
  CAF_CHECK_EQUAL(detail->timeline.size(), 1u);
  // Another process holds the write lock: the batch fails, the sink says
  // so and goes on.
  sqlite3* other = nullptr;
  CAF_REQUIRE_EQUAL(sqlite3_open(o.path.c_str(), &other), SQLITE_OK);
  CAF_REQUIRE_EQUAL(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr,
                                 nullptr),
                    SQLITE_OK);
  (*s)->consume(result_record(result("b", 2, "warning", "p", "c")));
  auto err = (*s)->flush();
  CAF_REQUIRE(err);
  CAF_CHECK(render_error(err).find("locked") != std::string::npos);
  CAF_REQUIRE_EQUAL(store_events.size(), 2u);
  CAF_CHECK(store_events[1].rfind("caflens.store.error store: locked", 0) == 0);
  CAF_CHECK_EQUAL((*s)->stats().dropped_export_failed, 1u);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  (*s)->consume(result_record(result("c", 3, "warning", "p", "c")));
  CAF_CHECK(!(*s)->flush());
  CAF_CHECK_EQUAL(traces(*(*s)->db()->investigations({})),
                  (std::vector<std::string>{"c", "a"}));
  bus.detach("store-test");
}

// A child process stores investigations through the store sink's actor
// (a transaction every 50 ms) and is killed with SIGKILL mid-stream; the
// database reopens intact and holds a gap-free prefix.
CAF_TEST(kill -9 during heavy writes leaves an intact store) {
  temp_dir d;
  auto o = at(d);
  o.max_age = std::chrono::hours{0}; // the test's times are near 1970
  auto* emitted = static_cast<std::atomic<int64_t>*>(
    ::mmap(nullptr, sizeof(std::atomic<int64_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  CAF_REQUIRE(emitted != MAP_FAILED);
  new (emitted) std::atomic<int64_t>{-1};
  auto pid = ::fork();
  CAF_REQUIRE(pid >= 0);
  if (pid == 0) {
    tel::bus bus;
    actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    actor_system sys{cfg};
    sinks::sink_options so;
    so.max_queue = 1 << 20;
    so.max_batch = 256;
    so.flush_interval = std::chrono::milliseconds{50};
    so.events = {tel::event_name{"app", "none"}};
    auto s = store_sink::open(so, o);
    if (!s)
      ::_exit(2);
    auto a = sinks::spawn_sink(sys, *s, bus);
    if (!a)
      ::_exit(3);
    for (int64_t i = 0;; ++i) {
      char trace[32];
      std::snprintf(trace, sizeof(trace), "t%08lld",
                    static_cast<long long>(i));
      (*s)->consume(result_record(result(trace, i, "warning", "p", "c")));
      emitted->store(i, std::memory_order_release);
      if (i % 5 == 4) // ~10 000 investigations/s: the writer keeps up
        std::this_thread::sleep_for(std::chrono::microseconds{500});
    }
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (emitted->load() < 5'000 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CAF_CHECK(WIFSIGNALED(status));
  auto last = emitted->load();
  CAF_REQUIRE_GREATER_OR_EQUAL(last, 5'000);
  auto db = database::open(o);
  CAF_REQUIRE(db);
  CAF_CHECK(!(*db)->check_integrity());
  query q;
  q.limit = 10'000;
  auto rows = (*db)->investigations(q);
  CAF_REQUIRE(rows);
  // Newest first: a gap-free prefix t0 .. t(n-1).
  auto n = static_cast<int64_t>(rows->size());
  bool prefix = true;
  for (int64_t i = 0; i < n; ++i) {
    char trace[32];
    std::snprintf(trace, sizeof(trace), "t%08lld",
                  static_cast<long long>(n - 1 - i));
    prefix &= (*rows)[static_cast<size_t>(i)].trace_id == trace;
  }
  CAF_CHECK(prefix);
  CAF_MESSAGE("kill -9 after " << last + 1 << " investigations: " << n
                               << " stored, " << last + 1 - n << " lost");
  CAF_CHECK_GREATER(n, 0);
  // At most what about one 50 ms interval held, with room for a slow
  // machine.
  CAF_CHECK_LESS(last + 1 - n, 2'500);
  ::munmap(emitted, sizeof(std::atomic<int64_t>));
}

CAF_TEST(a version 1 store is upgraded in place) {
  temp_dir d;
  {
    auto db = database::open(at(d));
    CAF_REQUIRE(db);
    CAF_REQUIRE(!(*db)->put_investigation(
      result("old", 1000, "warning", "slow_consumer", "w-1")));
  }
  {
    // Back to the first schema, as the first release of the store left it.
    sqlite3* raw = nullptr;
    CAF_REQUIRE_EQUAL(sqlite3_open(at(d).path.c_str(), &raw), SQLITE_OK);
    CAF_REQUIRE_EQUAL(sqlite3_exec(raw,
                                   "DROP TABLE alerts; DROP TABLE experiments;"
                                   "PRAGMA user_version=1;",
                                   nullptr, nullptr, nullptr),
                      SQLITE_OK);
    sqlite3_close(raw);
  }
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  CAF_CHECK_EQUAL((*db)->version(), 2);
  CAF_CHECK_EQUAL(traces(*(*db)->investigations({})),
                  (std::vector<std::string>{"old"}));
  sinks::record fired;
  fired.event = "caflens.alert.fired";
  fired.system_time_ns = 5;
  fired.measurements = {{"value", 9}, {"threshold", 5}};
  fired.metadata = {{"alert", "disk"}, {"metric", "disk.used"},
                    {"severity", "critical"}};
  CAF_CHECK(!(*db)->put_alert(fired));
  auto alerts = (*db)->alerts(0, 10);
  CAF_REQUIRE(alerts);
  CAF_REQUIRE_EQUAL(alerts->size(), 1u);
  CAF_CHECK_EQUAL((*alerts)[0]["rule"], "disk");
  CAF_CHECK(!(*db)->check_integrity());
}

CAF_TEST(the store sink keeps alerts and experiments) {
  temp_dir d;
  auto o = at(d);
  o.max_age = std::chrono::hours{0};
  auto s = store_sink::open({}, o);
  CAF_REQUIRE(s);
  auto evs = (*s)->options().events;
  CAF_CHECK(std::find(evs.begin(), evs.end(),
                      tel::event_name{"caflens", "alert", "fired"})
            != evs.end());
  auto rec = [](std::string ev, int64_t at, nlohmann::json md,
                std::vector<std::pair<std::string, double>> m = {}) {
    sinks::record r;
    r.event = std::move(ev);
    r.system_time_ns = at;
    r.metadata = std::move(md);
    r.measurements = std::move(m);
    return r;
  };
  (*s)->consume(rec("caflens.alert.fired", 10,
                    {{"alert", "p99"}, {"metric", "lat"}, {"severity", "warning"}},
                    {{"value", 900}, {"threshold", 250}}));
  (*s)->consume(rec("caflens.alert.resolved", 20,
                    {{"alert", "p99"}, {"metric", "lat"}}, {{"value", 100}}));
  (*s)->consume(rec("caflens.experiment.started", 30,
                    {{"experiment", "ranker"}, {"condition", "b"},
                     {"tags", "[]"}}));
  (*s)->consume(rec("caflens.experiment.stopped", 40,
                    {{"experiment", "ranker"}, {"condition", "b"}},
                    {{"samples", 120}}));
  CAF_REQUIRE(!(*s)->flush());
  auto alerts = (*s)->db()->alerts(0, 100);
  CAF_REQUIRE(alerts);
  CAF_REQUIRE_EQUAL(alerts->size(), 2u);
  CAF_CHECK_EQUAL((*alerts)[0]["state"], "resolved"); // newest first
  CAF_CHECK_EQUAL((*alerts)[1]["value"], 900.0);
  CAF_CHECK_EQUAL((*alerts)[1]["severity"], "warning");
  auto exps = (*s)->db()->experiments();
  CAF_REQUIRE(exps);
  CAF_REQUIRE_EQUAL(exps->size(), 2u);
  CAF_CHECK_EQUAL((*exps)[1]["state"], "stopped");
  CAF_CHECK_EQUAL((*exps)[1]["samples"], 120);
}
