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

CAF_TEST(retention drops the exchanges and decisions with their investigation) {
  temp_dir d;
  auto o = at(d);
  o.max_investigations = 1;
  o.max_age = std::chrono::hours{1};
  auto db = database::open(o);
  CAF_REQUIRE(db);
  auto& s = **db;
  int64_t now = 10 * 3'600'000;
  int64_t now_ns = now * 1'000'000;
  for (auto trace : {"old", "new"}) {
    CAF_REQUIRE(!s.put_investigation(
      result(trace, trace == std::string{"old"} ? now - 2000 : now - 1000,
             "warning", "p", "c")));
    CAF_REQUIRE(!s.put_llm_exchange({{"trace_id", trace},
                                     {"loop", "coordinator"},
                                     {"at_ns", now_ns},
                                     {"request", {{"model", "m"}}}}));
    CAF_REQUIRE(!s.put_decision(trace, "coordinator", "n1", "llm", 1, now_ns,
                                {{"name", "done"}}));
  }
  // A failed investigation stores no result: its decisions go by age.
  CAF_REQUIRE(!s.put_decision("failed-long-ago", "coordinator", "n1", "llm", 1,
                              now_ns - 2 * 3'600'000'000'000LL,
                              {{"name", "wait"}}));
  CAF_REQUIRE(!s.put_decision("failed-just-now", "coordinator", "n1", "llm", 1,
                              now_ns, {{"name", "wait"}}));
  auto counts = s.counts();
  CAF_REQUIRE(counts);
  CAF_REQUIRE_EQUAL(counts->size(), 9u);
  CAF_CHECK_EQUAL((*counts)[7].first, "llm_exchanges");
  CAF_CHECK_EQUAL((*counts)[7].second, 2);
  CAF_CHECK_EQUAL((*counts)[8].first, "llm_decisions");
  CAF_CHECK_EQUAL((*counts)[8].second, 4);
  auto n = s.apply_retention(now);
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 1u);
  counts = s.counts();
  CAF_CHECK_EQUAL((*counts)[7].second, 1);
  CAF_CHECK_EQUAL((*counts)[8].second, 2);
  CAF_CHECK_EQUAL(s.investigation("new")->decisions.size(), 1u);
  CAF_CHECK(!s.recording("old"));
  CAF_CHECK(!s.recording("failed-long-ago"));
  auto kept = s.recording("failed-just-now");
  CAF_REQUIRE(kept);
  CAF_CHECK_EQUAL((*kept)["decisions"].size(), 1u);
}

CAF_TEST(exchanges and decisions round trip into a recording document) {
  temp_dir d;
  auto o = at(d);
  o.max_exchange_bytes = 200;
  auto db = database::open(o);
  CAF_REQUIRE(db);
  auto& s = **db;
  CAF_REQUIRE(!s.put_investigation(
    result("t7", 1000, "warning", "slow_consumer", "w-7")));
  nlohmann::json x{
    {"client", "env"},
    {"provider", "anthropic"},
    {"model", "claude-test"},
    {"url", "http://127.0.0.1:1/v1/messages"},
    {"trace_id", "t7"},
    {"loop", "operator:alpha"},
    {"node", "n1"},
    {"iteration", 2},
    {"attempt", 1},
    {"at_ns", 5},
    {"request", {{"model", "claude-test"}, {"messages", {"hi"}}}},
    {"status", 200},
    {"response_headers", {{"content-type", "application/json"}}},
    {"response_body", R"({"content":[]})"},
    {"error_code", 0},
    {"error_text", ""},
    {"latency_ms", 12}};
  CAF_REQUIRE(!s.put_llm_exchange(x));
  auto big = x;
  big["attempt"] = 2;
  big["request"] = {{"messages", {std::string(500, 'x')}}};
  big["response_body"] = std::string(300, 'y');
  CAF_REQUIRE(!s.put_llm_exchange(big));
  auto no_trace = x;
  no_trace.erase("trace_id");
  CAF_CHECK(s.put_llm_exchange(no_trace));
  CAF_CHECK(s.put_decision("", "coordinator", "n1", "llm", 1, 0, {}));
  CAF_REQUIRE(!s.put_decision(
    "t7", "coordinator", "n1", "llm", 1, 1,
    {{"id", "toolu_1"}, {"name", "invoke_operators"},
     {"arguments", {{"skills", {"alpha"}}}}}));
  CAF_REQUIRE(!s.put_decision(
    "t7", "operator:alpha", "n1", "llm", 1, 2,
    {{"id", "caflens_first_look"}, {"name", "take_snapshot"},
     {"arguments", nlohmann::json::object()}}));
  CAF_REQUIRE(!s.put_decision(
    "t7", "operator:alpha", "n1", "rule", 2, 3,
    {{"id", "r1"}, {"name", "done"}, {"arguments", {{"summary", "ok"}}}}));
  auto detail = s.investigation("t7");
  CAF_REQUIRE(detail);
  CAF_REQUIRE_EQUAL(detail->llm_exchanges.size(), 2u);
  auto& x1 = detail->llm_exchanges[0];
  CAF_CHECK_EQUAL(x1["loop"], "operator:alpha");
  CAF_CHECK_EQUAL(x1["node"], "n1");
  CAF_CHECK_EQUAL(x1["iteration"], 2);
  CAF_CHECK_EQUAL(x1["at_ns"], 5);
  CAF_CHECK_EQUAL(x1["status"], 200);
  CAF_CHECK_EQUAL(x1["latency_ms"], 12);
  CAF_CHECK_EQUAL(x1["request"], x["request"]);
  CAF_CHECK_EQUAL(x1["response_headers"]["content-type"], "application/json");
  CAF_CHECK_EQUAL(x1["response_body"], R"({"content":[]})");
  // Bodies over max_exchange_bytes are stubs that say how big they were.
  auto& x2 = detail->llm_exchanges[1];
  CAF_CHECK_EQUAL(x2["attempt"], 2);
  CAF_CHECK_GREATER(x2["request"]["truncated"].get<int64_t>(), 500);
  CAF_CHECK_EQUAL(x2["response_body"], R"({"truncated":300})");
  CAF_REQUIRE_EQUAL(detail->decisions.size(), 3u);
  CAF_CHECK_EQUAL(detail->decisions[0]["loop"], "coordinator");
  CAF_CHECK_EQUAL(detail->decisions[0]["call"]["name"], "invoke_operators");
  CAF_CHECK_EQUAL(detail->decisions[1]["call"]["id"], "caflens_first_look");
  CAF_CHECK_EQUAL(detail->decisions[2]["brain"], "rule");
  CAF_CHECK_EQUAL(detail->decisions[2]["iteration"], 2);
  // The recording document: llm::recording's version 1 shape.
  auto rec = s.recording("t7");
  CAF_REQUIRE(rec);
  CAF_CHECK_EQUAL((*rec)["version"], 1);
  CAF_REQUIRE_EQUAL((*rec)["exchanges"].size(), 2u);
  auto& r1 = (*rec)["exchanges"][0];
  for (auto key : {"client", "provider", "model", "url", "iteration",
                   "attempt", "request", "status", "response_headers",
                   "response_body", "error_code", "error_text", "latency_ms"})
    CAF_CHECK_EQUAL(r1[key], x[key]);
  CAF_CHECK_EQUAL(r1["trace_id"], "t7");
  CAF_CHECK_EQUAL(r1["loop"], "operator:alpha");
  CAF_REQUIRE_EQUAL((*rec)["decisions"].size(), 3u);
  auto& d1 = (*rec)["decisions"][1];
  CAF_CHECK_EQUAL(d1["trace_id"], "t7");
  CAF_CHECK_EQUAL(d1["loop"], "operator:alpha");
  CAF_CHECK_EQUAL(d1["iteration"], 1);
  CAF_CHECK_EQUAL(d1["call"]["name"], "take_snapshot");
  auto none = s.recording("nope");
  CAF_REQUIRE(!none);
  CAF_CHECK(render_error(none.error()).find("not_found") != std::string::npos);
}

CAF_TEST(the store sink writes exchange and decision records) {
  temp_dir d;
  auto o = at(d);
  o.max_age = std::chrono::hours{0};
  auto s = store_sink::open({}, o);
  CAF_REQUIRE(s);
  (*s)->consume(result_record(result("a", 1, "warning", "p", "c")));
  (*s)->consume(llm_exchange_record({{"trace_id", "a"},
                                     {"loop", "coordinator"},
                                     {"node", "n1"},
                                     {"request", {{"model", "m"}}},
                                     {"status", 200}}));
  (*s)->consume(decision_record("a", "coordinator", "n1", "llm", 1,
                                {{"id", "c1"}, {"name", "done"}}));
  // Without a trace id a record belongs to no investigation: skipped.
  (*s)->consume(decision_record("", "coordinator", "n1", "llm", 1,
                                {{"name", "done"}}));
  (*s)->consume(llm_exchange_record({{"loop", "coordinator"}}));
  CAF_REQUIRE(!(*s)->flush());
  auto detail = (*s)->db()->investigation("a");
  CAF_REQUIRE(detail);
  CAF_REQUIRE_EQUAL(detail->llm_exchanges.size(), 1u);
  CAF_CHECK_EQUAL(detail->llm_exchanges[0]["status"], 200);
  // The record's time when the producer gave none.
  CAF_CHECK_GREATER(detail->llm_exchanges[0]["at_ns"].get<int64_t>(), 0);
  CAF_REQUIRE_EQUAL(detail->decisions.size(), 1u);
  CAF_CHECK_EQUAL(detail->decisions[0]["call"]["id"], "c1");
  CAF_CHECK_GREATER(detail->decisions[0]["at_ns"].get<int64_t>(), 0);
  // Bound first: CAF_CHECK_EQUAL keeps a reference into its argument, and
  // the counts are a temporary (TSan saw the use after free).
  auto counts = (*s)->db()->counts();
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL((*counts)[8].second, 1);
}

CAF_TEST(a shut down store sink releases its database) {
  // A supervisor restarts a killed writer with a new connection; the old
  // one must close with its sink's shutdown, whoever still holds the sink
  // (found by caflens-chaos: one descriptor more per restart).
  auto fds = [] {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator{"/proc/self/fd"}) {
      (void) e;
      ++n;
    }
    return n;
  };
  temp_dir d;
  auto before = fds();
  auto s = store_sink::open({}, at(d, "released.db"));
  CAF_REQUIRE(s);
  (*s)->consume(result_record(result("a", 1, "warning", "p", "c")));
  CAF_REQUIRE(!(*s)->flush());
  CAF_CHECK(fds() > before);
  CAF_CHECK(!(*s)->shutdown(std::chrono::seconds{1}));
  CAF_CHECK((*s)->db() == nullptr);
  CAF_CHECK_EQUAL(fds(), before);
  // Still held, it drops what comes in instead of writing.
  (*s)->consume(result_record(result("b", 1, "warning", "p", "c")));
  CAF_CHECK_EQUAL(fds(), before);
}

CAF_TEST(the store sink applies retention as fast as results come in) {
  // Found by the soak: with retention only once a minute, 10 000
  // investigations at 120/s left 3 762 rows for 2 000 kept.
  temp_dir d;
  auto o = at(d, "fast.db");
  o.max_investigations = 20;
  auto s = store_sink::open({}, o);
  CAF_REQUIRE(s);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  for (int i = 0; i < 100; ++i)
    (*s)->consume(result_record(
      result("t" + std::to_string(i), now - 1000 + i, "warning", "p", "c")));
  CAF_REQUIRE(!(*s)->flush());
  query all;
  all.limit = 1000;
  auto rows = (*s)->db()->investigations(all);
  CAF_REQUIRE(rows);
  CAF_CHECK_EQUAL(rows->size(), 20u);
  CAF_CHECK_EQUAL(rows->front().trace_id, "t99"); // the newest kept
}

CAF_TEST(the store sink redacts what its producers did not) {
  temp_dir d;
  auto o = at(d);
  o.max_age = std::chrono::hours{0};
  size_t calls = 0;
  auto redact = [&calls](nlohmann::json& x) {
    ++calls;
    auto text = x.dump();
    for (size_t i; (i = text.find("hunter2")) != std::string::npos;)
      text.replace(i, 7, "[REDACTED]");
    x = nlohmann::json::parse(text);
  };
  auto s = store_sink::open({}, o, redact);
  CAF_REQUIRE(s);
  auto r = result("a", 1, "warning", "p", "c");
  r["summary"] = "password hunter2 leaked";
  (*s)->consume(result_record(r));
  sinks::record ev;
  ev.event = "caflens.operator.think";
  ev.metadata = {{"trace_id", "a"}, {"thought", "hunter2"}};
  (*s)->consume(ev);
  // Producer-redacted records are written as given.
  (*s)->consume(snapshot_record("a", "s-1", "os", "n", 2, {{"x", "hunter2"}}));
  (*s)->consume(decision_record("a", "coordinator", "n", "llm", 1,
                                {{"name", "hunter2"}}));
  CAF_REQUIRE(!(*s)->flush());
  CAF_CHECK_EQUAL(calls, 2u);
  auto detail = (*s)->db()->investigation("a");
  CAF_REQUIRE(detail);
  CAF_CHECK_EQUAL(detail->row.summary, "password [REDACTED] leaked");
  CAF_CHECK_EQUAL(detail->result["summary"], "password [REDACTED] leaked");
  CAF_REQUIRE_EQUAL(detail->timeline.size(), 1u);
  CAF_CHECK_EQUAL(detail->timeline[0]["metadata"]["thought"], "[REDACTED]");
  CAF_CHECK_EQUAL(detail->snapshots.at(0)["data"]["x"], "hunter2");
  CAF_CHECK_EQUAL(detail->decisions.at(0)["call"]["name"], "hunter2");
}

CAF_TEST(the mode of LLM exchanges parses and prints) {
  llm_exchanges_mode m = llm_exchanges_mode::none;
  CAF_CHECK_EQUAL(store_options{}.llm_exchanges,
                  llm_exchanges_mode::decisions);
  for (auto text : {"none", "decisions", "full"}) {
    CAF_REQUIRE(parse_llm_exchanges_mode(text, m));
    CAF_CHECK_EQUAL(to_string(m), text);
  }
  CAF_CHECK(!parse_llm_exchanges_mode("everything", m));
  CAF_CHECK_EQUAL(m, llm_exchanges_mode::full);
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
                                   "DROP TABLE llm_exchanges;"
                                   "DROP TABLE llm_decisions;"
                                   "PRAGMA user_version=1;",
                                   nullptr, nullptr, nullptr),
                      SQLITE_OK);
    sqlite3_close(raw);
  }
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  CAF_CHECK_EQUAL((*db)->version(), schema_version);
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

CAF_TEST(a version 2 store is upgraded in place) {
  temp_dir d;
  {
    auto db = database::open(at(d));
    CAF_REQUIRE(db);
    CAF_REQUIRE(!(*db)->put_investigation(
      result("v2", 1000, "critical", "deadlock", "w-2")));
    sinks::record fired;
    fired.event = "caflens.alert.fired";
    fired.system_time_ns = 5;
    fired.metadata = {{"alert", "disk"}};
    CAF_REQUIRE(!(*db)->put_alert(fired));
  }
  {
    // Back to the second schema, as the release before LLM exchanges left
    // it.
    sqlite3* raw = nullptr;
    CAF_REQUIRE_EQUAL(sqlite3_open(at(d).path.c_str(), &raw), SQLITE_OK);
    CAF_REQUIRE_EQUAL(sqlite3_exec(raw,
                                   "DROP TABLE llm_exchanges;"
                                   "DROP TABLE llm_decisions;"
                                   "PRAGMA user_version=2;",
                                   nullptr, nullptr, nullptr),
                      SQLITE_OK);
    sqlite3_close(raw);
  }
  {
    // A reader of this version opens an older store as it is.
    auto ro = database::open(at(d), true);
    CAF_REQUIRE(ro);
    CAF_CHECK_EQUAL((*ro)->version(), 2);
  }
  auto db = database::open(at(d));
  CAF_REQUIRE(db);
  CAF_CHECK_EQUAL((*db)->version(), 3);
  CAF_CHECK_EQUAL(traces(*(*db)->investigations({})),
                  (std::vector<std::string>{"v2"}));
  CAF_CHECK_EQUAL((*db)->alerts(0, 10)->size(), 1u);
  // The old investigation reads back with no exchanges and no decisions.
  auto old = (*db)->investigation("v2");
  CAF_REQUIRE(old);
  CAF_CHECK(old->llm_exchanges.empty());
  CAF_CHECK(old->decisions.empty());
  CAF_REQUIRE(!(*db)->put_decision("v2", "coordinator", "n1", "rule", 1, 9,
                                   {{"name", "done"}}));
  CAF_CHECK_EQUAL((*db)->investigation("v2")->decisions.size(), 1u);
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
