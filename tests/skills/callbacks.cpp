#define CAF_SUITE skills.callbacks
// Every built-in callback through the sandbox, as an operator's Lua calls it:
// declared parameters (type, bounds, defaults) checked in one place, integer
// arguments honoured, bad arguments answered with the parameter and what it
// accepts.

#include "caf/test/unit_test.hpp"

#include "caf/sec.hpp"

#include "caflens/sandbox/sandbox.hpp"
#include "caflens/skills/anomaly.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace caflens;
using namespace caflens::skills;
using nlohmann::json;

namespace {

struct fixture {
  process_table table;
  std::shared_ptr<log_buffer> logs = std::make_shared<log_buffer>();
  telemetry::metric_registry metrics;
  std::vector<skill_ptr> all;
  std::vector<sandbox::callback> cbs;
  sandbox::sandbox box{{}, "test-node"};

  fixture() {
    // Six actors, five crashes, six log lines: more than any count asked.
    for (uint64_t i = 1; i <= 6; ++i)
      table.add(7'000'000 + i, {}, {"w-" + std::to_string(i), "worker", 0},
                "n");
    for (uint64_t i = 1; i <= 5; ++i) {
      auto id = 7'100'000 + i;
      table.add(id, {}, {"c-" + std::to_string(i), "crasher", 0}, "n");
      table.remove(id, caf::make_error(caf::sec::runtime_error, "boom"));
    }
    for (int i = 0; i < 6; ++i)
      logs->append(i % 2 == 0 ? "error" : "info", "src",
                   "line " + std::to_string(i));
    all = {make_actors_skill(table),
           make_memory_skill(table),
           make_scheduler_skill(table),
           make_crashes_skill(table),
           make_supervision_skill([] { return json::array(); }),
           make_logs_skill(logs),
           make_telemetry_skill(metrics),
           make_os_skill(),
           make_anomaly_skill(std::make_shared<anomaly_detector>()),
           make_tracer_skill(table)};
    for (auto& s : all)
      for (auto& cb : sandbox_callbacks(*s))
        cbs.push_back(cb);
  }

  caf::expected<json> run(const std::string& code) {
    auto res = box.execute(code, cbs, "trace-cb");
    if (!res)
      return res.error();
    return res->value;
  }

  std::string error_of(const std::string& code) {
    auto res = run(code);
    if (res)
      return "(no error: " + res->dump() + ")";
    return render_error(res.error());
  }

  const sandbox::callback* find(const std::string& name) const {
    for (auto& cb : cbs)
      if (cb.name == name)
        return &cb;
    return nullptr;
  }
};

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(callback_tests, fixture)

CAF_TEST(every built in callback declares what its doc names) {
  // The sandbox validates the declarations before it runs a script.
  auto ok = run("return 1");
  if (!ok)
    CAF_FAIL(render_error(ok.error()));
  CAF_CHECK(cbs.size() >= 19u);
  for (auto& s : all)
    for (auto& cb : s->callbacks()) {
      // "name(a, b) — ..." names a and b: both declared, in that order.
      auto open = cb.doc.find('(');
      auto close = cb.doc.find(')');
      auto inside = cb.doc.substr(open + 1, close - open - 1);
      std::vector<std::string> named;
      std::string cur;
      for (auto c : inside + ",") {
        if (c == ',') {
          if (!cur.empty())
            named.push_back(cur);
          cur.clear();
        } else if (c != ' ') {
          cur += c;
        }
      }
      CAF_MESSAGE(cb.name << ": " << named.size() << " parameter(s)");
      CAF_REQUIRE_EQUAL(cb.params.size(), named.size());
      for (size_t i = 0; i < named.size(); ++i) {
        CAF_CHECK_EQUAL(cb.params[i].name, named[i]);
        // Every parameter says what it takes or is required.
        CAF_CHECK(cb.params[i].type != sandbox::param_type::any
                  || cb.params[i].required);
      }
    }
}

CAF_TEST(integer arguments are honoured) {
  auto count = [&](const std::string& call) -> int64_t {
    auto res = run("return #" + call);
    if (!res) {
      CAF_FAIL(call << ": " << render_error(res.error()));
      return -1;
    }
    return res->get<int64_t>();
  };
  CAF_CHECK_EQUAL(count("actors_top(2)"), 2);
  CAF_CHECK_EQUAL(count("actors_top(3, 'processed')"), 3);
  // A float with an integral value is an integer.
  CAF_CHECK_EQUAL(count("actors_top(2.0)"), 2);
  CAF_CHECK_EQUAL(count("actors_top()"), 6); // default 10, six tracked
  CAF_CHECK_EQUAL(count("crashes_recent(3)"), 3);
  CAF_CHECK_EQUAL(count("crashes_recent()"), 5);
  CAF_CHECK_EQUAL(count("logs_recent(2)"), 2);
  CAF_CHECK_EQUAL(count("logs_recent(10, 'error')"), 3);
  CAF_CHECK_EQUAL(count("logs_search('line', 4)"), 4);
  CAF_CHECK_EQUAL(count("actors_window(5, 2)"), 2);
  CAF_CHECK(count("memory_top_state(1)") <= 1);
  CAF_CHECK(count("trace_captures(1)") <= 1);
}

CAF_TEST(bad arguments name the parameter and what it accepts) {
  auto e = error_of("return actors_top('ten')");
  CAF_CHECK(has(e, "actors_top"));
  CAF_CHECK(has(e, "(n)"));
  CAF_CHECK(has(e, "integer"));
  e = error_of("return actors_top(5000)");
  CAF_CHECK(has(e, "0..1000"));
  e = error_of("return actors_top(2.5)");
  CAF_CHECK(has(e, "2.5"));
  e = error_of("return actors_top(2, 'colour')");
  CAF_CHECK(has(e, "(by)"));
  CAF_CHECK(has(e, "mailbox_depth|processed|handler_time|state_bytes"));
  e = error_of("return actor_info()");
  CAF_CHECK(has(e, "needs"));
  CAF_CHECK(has(e, "name_or_id"));
  e = error_of("return logs_search(42)");
  CAF_CHECK(has(e, "(text)"));
  CAF_CHECK(has(e, "string"));
  e = error_of("return metric_quantile('lat', 1.5)");
  CAF_CHECK(has(e, "(q)"));
  CAF_CHECK(has(e, "0..1"));
  e = error_of("return actors_window(0)");
  CAF_CHECK(has(e, "1..10000"));
  e = error_of("return crashes_recent(1, 2)");
  CAF_CHECK(has(e, "takes 1 argument"));
  // Generic: every bounded parameter refuses a value past its bounds and a
  // value of another type, naming itself.
  for (auto& cb : cbs)
    for (size_t i = 0; i < cb.params.size(); ++i) {
      auto& p = cb.params[i];
      if (p.type != sandbox::param_type::integer
          && p.type != sandbox::param_type::number)
        continue;
      std::string before;
      for (size_t j = 0; j < i; ++j) {
        auto& q = cb.params[j];
        before += (q.default_value.is_null() ? std::string{"'w-1'"}
                                             : q.default_value.dump())
                  + ", ";
      }
      auto past = std::to_string(static_cast<int64_t>(*p.max) + 1);
      e = error_of("return " + cb.name + "(" + before + past + ")");
      CAF_CHECK(has(e, "(" + p.name + ")"));
      e = error_of("return " + cb.name + "(" + before + "{})");
      CAF_CHECK(has(e, "(" + p.name + ")"));
      CAF_CHECK(has(e, "table"));
    }
}

CAF_TEST(callbacks without required arguments run with none) {
  size_t ran = 0;
  for (auto& cb : cbs) {
    bool required = false;
    for (auto& p : cb.params)
      required = required || p.required;
    if (required || cb.name == "actors_window" || cb.name == "trace_stop")
      continue;
    auto res = run("return " + cb.name + "()");
    if (!res)
      CAF_FAIL(cb.name << "(): " << render_error(res.error()));
    ++ran;
  }
  CAF_CHECK_EQUAL(ran, 16u); // 23 less 5 with a required one, less 2
}

CAF_TEST(the dashboard reads sum the live actors and time the process) {
  auto totals = run("return actors_totals()");
  if (!totals)
    CAF_FAIL(render_error(totals.error()));
  // Six alive; the five crashers left the table.
  CAF_CHECK_EQUAL(totals->value("count", 0), 6);
  CAF_CHECK_EQUAL(totals->value("mailbox_depth", -1), 0);
  auto os = run("return os_process().uptime_s");
  if (!os)
    CAF_FAIL(render_error(os.error()));
  CAF_CHECK(os->is_number() && os->get<double>() > 0);
  auto ms = run("return metrics_list()");
  if (!ms)
    CAF_FAIL(render_error(ms.error()));
  CAF_CHECK(ms->is_array() || ms->is_object()); // empty: {} or []
}

CAF_TEST_FIXTURE_SCOPE_END()
