#define CAF_SUITE skills.glossary
// Every built-in skill's glossary (`snapshot_fields`) against real looks:
// each path of a populated snapshot is documented, each documented path
// shows up, and the glossary stays small enough for an operator's prompt.

#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "caf/all.hpp"

#include "caflens/skills/anomaly.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/clock.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace caflens;
using namespace caflens::skills;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// The glossary as the operator's task shows it: "path [unit]: meaning".
std::string render(const std::vector<field_doc>& docs) {
  std::string out;
  for (auto& d : docs)
    out += d.path + (d.unit.empty() ? "" : " [" + d.unit + "]") + ": "
           + d.meaning + "\n";
  return out;
}

/// `x` with the dots in object keys replaced: keys that are data (the
/// anomaly skill's field paths, tag names) may hold dots, which `documents`
/// would read as nesting.
json dotless(const json& x) {
  if (x.is_object()) {
    json out = json::object();
    for (auto& [k, v] : x.items()) {
      auto key = k;
      std::replace(key.begin(), key.end(), '.', '_');
      out[key] = dotless(v);
    }
    return out;
  }
  if (x.is_array()) {
    json out = json::array();
    for (auto& v : x)
      out.push_back(dotless(v));
    return out;
  }
  return x;
}

/// A path of the supervision trees with the nesting folded: a nested
/// supervisor ("children[].tree") has the fields of a tree, to any depth.
std::string canonical(const std::string& skill, std::string path) {
  if (skill != "supervision")
    return path;
  const std::string nested = "children[].tree.";
  for (auto i = path.find(nested); i != std::string::npos;
       i = path.find(nested))
    path.erase(i, nested.size());
  return path;
}

/// The paths of every look, as the glossary is meant to cover them.
std::set<std::string> paths_of(const std::string& skill,
                               const std::vector<json>& looks) {
  std::set<std::string> out;
  for (auto& look : looks)
    for (auto& p : field_paths(dotless(look)))
      out.insert(canonical(skill, p));
  return out;
}

bool covered(const std::vector<field_doc>& docs, const std::string& path) {
  for (auto& d : docs)
    if (documents(d.path, path))
      return true;
  return false;
}

// -- actors with a state view and a traced actor ------------------------------

struct cart_state {
  std::vector<std::string> items;
};

caf::behavior cart_impl(caf::stateful_actor<cart_state>* self) {
  expose_state(self, [self] {
    return json{{"items", self->state.items},
                {"cache_entries", 12},
                {"index", {{"by_sku", {1, 2, 3}}}}};
  });
  return {[=](const std::string& item) { self->state.items.push_back(item); }};
}

caf::behavior echo_impl(caf::event_based_actor*) {
  return {[](int) {}};
}

// The shape of caflens::supervision's get_tree (supervision/tree.hpp,
// supervisor.cpp tree_json): a root with a worker, a nested supervisor and
// a supervisor child whose tree could not be read.
json supervision_tree() {
  auto child = [](std::string id, std::string type, int restarts) {
    json history = json::array();
    for (int i = 0; i < restarts; ++i)
      history.push_back({{"at_ms", 1000 * (i + 1)},
                         {"reason", "runtime_error: disk full"}});
    return json{{"id", id},         {"actor", 40},
                {"status", "running"}, {"type", type},
                {"restart", "permanent"},
                {"shutdown", type == "worker" ? "5000" : "infinity"},
                {"significant", false}, {"restarts", restarts},
                {"history", history}};
  };
  auto sup = [](std::string name, json children) {
    return json{{"name", name},
                {"actor", 30},
                {"strategy", "one_for_one"},
                {"intensity", 3},
                {"period_ms", 5000},
                {"restart_window", "seconds"},
                {"auto_shutdown", "never"},
                {"state", "running"},
                {"restarts_in_period", 1},
                {"uptime_ms", 8000},
                {"children", std::move(children)}};
  };
  auto workers = child("workers", "supervisor", 0);
  workers["tree"] = sup("worker_sup", json::array({child("uploader", "worker",
                                                         2)}));
  auto broken = child("broken", "supervisor", 0);
  broken["tree_error"] = "request_timeout";
  return sup("lens_root", json::array({child("store", "worker", 1), workers,
                                       broken}));
}

void emit(const char* what, telemetry::measurements m, telemetry::metadata md) {
  telemetry::bus::global().execute(
    telemetry::event_name{"caflens", "supervisor", what}, std::move(m),
    std::move(md));
}

struct fixture {
  telemetry::manual_clock clk{1'000'000'000'000};
  process_table table;
  std::shared_ptr<log_buffer> logs = std::make_shared<log_buffer>(4);
  telemetry::bus tbus;
  telemetry::metric_registry metrics{tbus, clk};
  telemetry::manual_clock anomaly_clk{1'000'000'000'000};
  std::shared_ptr<anomaly_detector> detector;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor cart;
  caf::actor traced;
  std::vector<skill_ptr> all;
  /// Every look at each skill, by skill name.
  std::map<std::string, std::vector<json>> looks;

  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    table.clock(clk);
    populate_actors();
    populate_history();
    all = {make_actors_skill(table),
           make_memory_skill(table),
           make_scheduler_skill(table),
           make_crashes_skill(table),
           make_supervision_skill([] {
             return json::array({supervision_tree()});
           }),
           make_logs_skill(logs),
           make_telemetry_skill(metrics),
           make_os_skill(),
           make_anomaly_skill(detector),
           make_tracer_skill(process_table::global())};
    // The journal of the supervision skill hears what supervisors report.
    auto now = static_cast<double>(telemetry::bus::system_time());
    for (int i = 0; i < 3; ++i)
      emit("child_exited",
           {{"system_time", now - 1e6 * i}, {"restarts_in_period", 1.0}},
           {{"supervisor", "worker_sup"},
            {"child_id", "uploader"},
            {"reason", "runtime_error: disk full"}});
    emit("intensity_exceeded",
         {{"system_time", now},
          {"restarts", 4.0},
          {"intensity", 3.0},
          {"period_ms", 5000.0}},
         {{"supervisor", "worker_sup"}, {"child_id", "uploader"}});
    start_trace();
    look_twice();
    look_truncated();
  }

  ~fixture() {
    all.clear(); // stops the trace
    caf::anon_send_exit(cart, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(traced, caf::exit_reason::user_shutdown);
  }

  /// A tracked actor in the fixture's table with `depth` messages waiting.
  caf::intrusive_ptr<actor_stats> add(uint64_t id, std::string name,
                                      std::string kind, uint64_t parent,
                                      uint64_t processed, uint64_t depth,
                                      bool in_handler = false) {
    auto s = table.add(id, {}, {std::move(name), std::move(kind), parent},
                       "n");
    s->consume_seq = 2 * processed + (in_handler ? 1 : 0);
    s->enqueued = processed + depth + (in_handler ? 1 : 0);
    s->handler_ns_sum = 4 * 100'000;
    s->handler_samples = 4;
    s->handler_ns_max = 300'000;
    return s;
  }

  void populate_actors() {
    // Four peers (one kind, one parent): w-3 far deeper and slower.
    for (uint64_t i = 0; i < 4; ++i) {
      auto s = add(8'000'000 + i, "w-" + std::to_string(i), "worker", 900,
                   100 * (i + 1), i == 3 ? 800 : 2 + i % 2);
      if (i == 3) {
        s->handler_ns_sum = 4 * 50'000'000;
        s->handler_ns_max = 90'000'000;
      }
      if (i == 0)
        s->state_bytes = 4096;
    }
    // Busy in one handler (the second look sees it for 1.5 s), detached,
    // and stuck with mail waiting.
    add(8'000'010, "db-1", "db", 0, 10, 4, true);
    add(8'000'011, "io-1", "io", 0, 10, 1, true)->detached = true;
    add(8'000'012, "stuck-1", "db", 0, 5, 40);
    // An actor blocked in an await for its request, held by another.
    uint64_t client = 8'000'013;
    auto c = add(client, "client-1", "client", 0, 7, 3);
    c->pending_responses = 150;
    c->awaiting_since_ns = skills::detail::steady_now_ns() - 500'000'000;
    auto h = add(8'000'014, "db-2", "db", 0, 50, 0);
    h->promised = 30;
    h->note_promise(client, true);
    // A real actor with a state view (answers get_state) ...
    cart = spawn_tracked(*sys, {"glossary-cart", "cart", 0}, cart_impl);
    caf::anon_send(cart, std::string{"book"});
    auto cs = table.add(cart.id(), caf::actor_cast<caf::actor_addr>(cart),
                        {"glossary-cart", "cart", 0}, "n");
    cs->exposes_state = true;
    cs->state_bytes = 2048;
    // ... and one to trace (the tracer works on the global table).
    static int instance = 0;
    traced = spawn_tracked(*sys,
                           {"glossary-traced-" + std::to_string(++instance),
                            "traced", 0},
                           echo_impl);
  }

  void populate_history() {
    // Exits: crashes of two kinds, a clean exit, one stopped by its
    // supervisor.
    auto boom = caf::make_error(caf::sec::runtime_error, "boom");
    for (uint64_t i = 0; i < 3; ++i) {
      auto id = 8'100'000 + i;
      table.add(id, {}, {"parser-" + std::to_string(i % 2), "parser", 0},
                "n");
      table.remove(id, boom);
    }
    table.add(8'100'010, {}, {"up-1", "uploader", 0}, "n");
    table.remove(8'100'010, boom);
    table.add(8'100'011, {}, {"done-1", "job", 0}, "n");
    table.remove(8'100'011, caf::error{});
    table.add(8'100'012, {}, {"old-1", "job", 0}, "n");
    table.remove(8'100'012, caf::make_error(caf::exit_reason::kill));
    table.mark_terminated(8'100'012);
    // Logs: more lines than the buffer keeps.
    for (int i = 0; i < 3; ++i)
      logs->append("info", "app", "tick " + std::to_string(i));
    logs->append("warning", "net", "slow peer");
    for (int i = 0; i < 4; ++i)
      logs->append("error", i % 2 == 0 ? "db" : "net",
                   "failed " + std::to_string(i));
    // Metrics: a counter with a tag, a distribution, a last value.
    using telemetry::metric_definition;
    CAF_REQUIRE(!metrics.add(metric_definition::counter(
      "jobs.done", {"app", "job", "stop"}, {"queue"})));
    CAF_REQUIRE(!metrics.add(metric_definition::distribution(
      "request.latency", {"app", "request", "stop"}, "duration", {"route"})));
    CAF_REQUIRE(!metrics.add(metric_definition::last_value(
      "queue.depth", {"app", "queue", "depth"}, "depth")));
    for (int i = 0; i < 20; ++i) {
      tbus.execute(telemetry::event_name{"app", "job", "stop"},
                   {{"n", 1.0}}, {{"queue", "fast"}});
      tbus.execute(telemetry::event_name{"app", "request", "stop"},
                   {{"duration", 1e6 * (10 + i)}}, {{"route", "/upload"}});
    }
    tbus.execute(telemetry::event_name{"app", "queue", "depth"},
                 {{"depth", 42.0}}, {});
    // Anomalies: a baseline of a gauge, a nested field and a counter, then
    // a spike of the gauge.
    anomaly_options opts;
    opts.learning = std::chrono::nanoseconds{0};
    opts.min_samples = 3;
    opts.consecutive = 1;
    opts.cooldown = std::chrono::nanoseconds{0};
    detector = std::make_shared<anomaly_detector>(opts, anomaly_clk);
    auto memory_look = [](double rss, double cpu) {
      return json{{"rss_bytes", rss},
                  {"heap", {{"arena_bytes", 5000}}},
                  {"cpu_seconds", cpu}};
    };
    for (int i = 0; i < 6; ++i) {
      anomaly_clk.advance(1s);
      detector->observe("memory", memory_look(1000 + i % 2, i));
    }
    anomaly_clk.advance(1s);
    detector->observe("memory", memory_look(1e9, 6));
    CAF_REQUIRE(!detector->triggers().empty());
  }

  skill_ptr skill(const std::string& name) {
    for (auto& s : all)
      if (s->name() == name)
        return s;
    CAF_FAIL("no skill " << name);
    return nullptr;
  }

  /// Starts a trace through the callback an operator calls and waits for
  /// captures of a few messages.
  void start_trace() {
    auto tr = skill("tracer");
    auto name = process_table::global().find(traced.id())->name;
    bool started = false;
    for (auto& cb : tr->callbacks())
      if (cb.name == "trace_start") {
        auto res = cb.fn({json(name), json("")});
        if (!res)
          CAF_FAIL("trace_start: " << render_error(res.error()));
        started = true;
      }
    CAF_REQUIRE(started);
    for (int i = 0; i < 3; ++i)
      caf::anon_send(traced, i);
    for (int i = 0; i < 500; ++i) {
      auto snap = tr->snapshot();
      if (snap["trace"].value("captured", 0) >= 3)
        return;
      std::this_thread::sleep_for(10ms);
    }
    CAF_FAIL("no captures after 5 s");
  }

  /// Two looks at each skill 1.5 s apart by the table's clock: growth,
  /// busy times, baselines and CPU shares show on the second.
  void look_twice() {
    // The cart answers get_state within the memory skill's 200 ms.
    CAF_REQUIRE(get_state(*sys, cart, 5s));
    for (auto& s : all)
      looks[s->name()].push_back(s->snapshot());
    clk.advance(1500ms);
    for (auto& s : all)
      looks[s->name()].push_back(s->snapshot());
    // On a loaded machine an answer may still come late: look again.
    auto& mem = looks["memory"];
    for (int i = 0; i < 10 && mem.back()["state_views"].empty(); ++i)
      mem.push_back(skill("memory")->snapshot());
  }

  /// Looks under a smaller size limit: cut lists ("truncated") and a
  /// snapshot that does not fit at all ("error").
  void look_truncated() {
    for (auto& s : all) {
      auto keep = s->limits();
      auto full = looks[s->name()].back().dump().size();
      auto lim = keep;
      lim.max_snapshot_bytes = full * 2 / 3;
      s->limits(lim);
      looks[s->name()].push_back(s->snapshot());
      lim.max_snapshot_bytes = 16;
      s->limits(lim);
      looks[s->name()].push_back(s->snapshot());
      s->limits(keep);
    }
  }
};

const std::vector<std::string> builtin_skills = {
  "actors", "memory",    "os",          "scheduler", "crashes",
  "logs",   "telemetry", "supervision", "anomaly",   "tracer"};

} // namespace

CAF_TEST(documents matches paths segment by segment) {
  CAF_CHECK(documents("kinds.*", "kinds.worker"));
  CAF_CHECK(documents("kinds.*.count", "kinds.worker.count"));
  CAF_CHECK(!documents("kinds.*", "kinds"));
  CAF_CHECK(!documents("kinds.*", "kinds.worker.count"));
  CAF_CHECK(documents("top[].x", "top[].x"));
  CAF_CHECK(!documents("top[].x", "top[].y"));
  CAF_CHECK(!documents("a", "a.b"));
  CAF_CHECK(!documents("a.b", "a"));
  CAF_CHECK(documents("a", "a"));
  CAF_CHECK(documents("*[].id", "busy[].id"));
  CAF_CHECK(!documents("*[].id", "busy.id"));
}

CAF_TEST(field paths list every key once) {
  auto x = json::parse(R"({"a": {"b": 1}, "l": [{"x": 1}, {"y": 2}, {"x": 3}],
                           "n": [1, 2]})");
  auto paths = field_paths(x);
  std::vector<std::string> expected{"a", "a.b", "l", "l[].x", "l[].y", "n"};
  CAF_CHECK_EQUAL(paths, expected);
  auto empty = field_paths(json::object());
  CAF_CHECK(empty.empty());
}

CAF_TEST_FIXTURE_SCOPE(glossary_tests, fixture)

CAF_TEST(every built in skill has a glossary) {
  CAF_REQUIRE_EQUAL(all.size(), builtin_skills.size());
  for (auto& name : builtin_skills) {
    auto docs = skill(name)->snapshot_fields();
    if (docs.empty())
      CAF_ERROR("skill " << name << ": no snapshot_fields");
  }
}

CAF_TEST(every path of a populated snapshot is documented) {
  for (auto& s : all) {
    auto name = s->name();
    auto docs = s->snapshot_fields();
    auto paths = paths_of(name, looks[name]);
    CAF_MESSAGE(name << ": " << paths.size() << " paths in "
                     << looks[name].size() << " looks");
    size_t undocumented = 0;
    for (auto& p : paths)
      if (!covered(docs, p)) {
        ++undocumented;
        CAF_ERROR("skill " << name << ": undocumented " << p);
      }
    CAF_CHECK_EQUAL(undocumented, 0u);
  }
}

CAF_TEST(every documented path is well formed and shows up) {
  for (auto& s : all) {
    auto name = s->name();
    auto docs = s->snapshot_fields();
    auto paths = paths_of(name, looks[name]);
    std::set<std::string> seen;
    for (auto& d : docs) {
      auto where = "skill " + name + ": " + d.path;
      if (!seen.insert(d.path).second)
        CAF_ERROR(where << " documented twice");
      bool ok = !d.path.empty() && d.path.front() != '.'
                && d.path.back() != '.'
                && d.path.find("..") == std::string::npos;
      for (auto c : d.path)
        ok = ok
             && (std::islower(static_cast<unsigned char>(c))
                 || std::isdigit(static_cast<unsigned char>(c))
                 || c == '_' || c == '.' || c == '*' || c == '[' || c == ']');
      if (!ok)
        CAF_ERROR(where << ": malformed path");
      if (d.meaning.empty())
        CAF_ERROR(where << ": no meaning");
      auto words = std::count(d.meaning.begin(), d.meaning.end(), ' ') + 1;
      if (words > 12)
        CAF_ERROR(where << ": meaning of " << words << " words");
      if (d.unit.find_first_of("[]") != std::string::npos)
        CAF_ERROR(where << ": brackets in the unit");
      // The looks fill every list and optional field: a documented path
      // that none of them shows is stale (or the fixture misses a case).
      bool shows = false;
      for (auto& p : paths)
        shows = shows || documents(d.path, p);
      if (!shows)
        CAF_ERROR(where << ": in no snapshot");
    }
  }
}

CAF_TEST(each glossary fits the prompt budget) {
  for (auto& s : all) {
    auto docs = s->snapshot_fields();
    auto text = render(docs);
    CAF_MESSAGE(s->name() << ": " << docs.size() << " fields, "
                          << text.size() << " characters");
    if (text.size() >= 2800)
      CAF_ERROR("skill " << s->name() << ": glossary of " << text.size()
                         << " characters");
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
