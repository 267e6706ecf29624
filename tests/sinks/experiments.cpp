#define CAF_SUITE sinks.experiments
#include "caf/test/dsl.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "caflens/sinks/experiments.hpp"
#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/correlation.hpp"

#include "daemon.hpp"

using namespace caflens;
using namespace caflens::sinks;
using namespace caflens::test;
namespace tel = caflens::telemetry;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const tel::event_name call_stop{"ranker", "call", "stop"};
const tel::event_name call_exc{"ranker", "call", "exception"};

experiment_options opts(std::string name, std::string condition) {
  experiment_options o;
  o.name = std::move(name);
  o.condition = std::move(condition);
  o.events = {call_stop, call_exc};
  return o;
}

record at(int64_t ns, double ms, bool ok = true) {
  record r;
  r.event = ok ? "ranker.call.stop" : "ranker.call.exception";
  r.system_time_ns = ns;
  r.measurements = {{"duration", ms * 1e6}, {"input_tokens", 10},
                    {"cost_usd", 0.001}};
  return r;
}

bool near(double x, double y, double tol) {
  return std::fabs(x - y) <= tol;
}

} // namespace

CAF_TEST(student t p-values match the tables) {
  // Two-sided critical values from t tables: p = 0.05 and 0.01.
  CAF_CHECK(near(student_t_two_sided_p(2.228, 10), 0.05, 2e-4));
  CAF_CHECK(near(student_t_two_sided_p(3.182, 3), 0.05, 2e-4));
  CAF_CHECK(near(student_t_two_sided_p(2.845, 20), 0.01, 1e-4));
  CAF_CHECK(near(student_t_two_sided_p(1.960, 1e7), 0.05, 1e-4));
  CAF_CHECK(near(student_t_two_sided_p(12.706, 1), 0.05, 2e-4));
  CAF_CHECK(near(student_t_two_sided_p(0, 7), 1.0, 1e-12));
}

CAF_TEST(welch compares two arms with an interval and effect sizes) {
  // Worked by hand: means 20 and 22, variances 2.5 and 10, n 5 and 5.
  std::vector<double> a{18, 19, 20, 21, 22};
  std::vector<double> b{18, 20, 22, 24, 26};
  auto c = compare(a, b);
  CAF_REQUIRE(c);
  CAF_CHECK(near(c->difference, 2, 1e-12));
  CAF_CHECK(near(c->t, 2 / std::sqrt(0.5 + 2), 1e-12));
  // df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625
  CAF_CHECK(near(c->df, 6.25 / 1.0625, 1e-9));
  CAF_CHECK(c->p_value > 0.2 && c->p_value < 0.3);
  // The interval holds the difference and, at this p, zero.
  CAF_CHECK_LESS(c->ci_low, 0);
  CAF_CHECK_GREATER(c->ci_high, 2);
  CAF_CHECK(near((c->ci_low + c->ci_high) / 2, 2, 1e-9));
  // Cohen's d: pooled sd = sqrt((4*2.5 + 4*10)/8) = sqrt(6.25) = 2.5.
  CAF_CHECK(near(c->cohens_d, 0.8, 1e-12));
  CAF_CHECK_LESS(c->hedges_g, c->cohens_d);
  // A clear difference is significant.
  std::mt19937 rng{7};
  std::normal_distribution<double> slow{120, 10}, fast{100, 10};
  std::vector<double> xs, ys;
  for (int i = 0; i < 200; ++i) {
    xs.push_back(slow(rng));
    ys.push_back(fast(rng));
  }
  auto d = compare(xs, ys, 0.99);
  CAF_REQUIRE(d);
  CAF_CHECK_LESS(d->p_value, 1e-10);
  CAF_CHECK(d->ci_low < -17 && d->ci_high > -23 && d->ci_high < 0);
  CAF_CHECK(!compare({1}, {1, 2}));
  CAF_CHECK(!compare({1, 1}, {2, 2}));
  CAF_CHECK(!compare(a, b, 1.5));
}

CAF_TEST(experiments capture tagged isolated events and pause) {
  tel::bus bus;
  std::vector<std::string> lifecycle;
  CAF_REQUIRE(!bus.attach_many(
    "test",
    {tel::event_name{"caflens", "experiment", "started"},
     tel::event_name{"caflens", "experiment", "stopped"}},
    [&](const tel::event_name& e, const tel::measurements& m,
        const tel::metadata& md, const std::any&) {
      auto samples = m.find("samples");
      lifecycle.push_back(e.str() + " " + md.find("experiment")->to_string()
                          + (samples ? " " + std::to_string(int(*samples))
                                     : ""));
    }));
  auto oa = opts("ranker", "baseline");
  oa.match = {{"arm", "a"}};
  oa.tags = {{"team", "search"}};
  auto ob = opts("ranker-b", "candidate");
  ob.match = {{"arm", "b"}};
  auto a = experiment::start(bus, oa);
  CAF_REQUIRE(a);
  auto b = experiment::start(bus, ob);
  CAF_REQUIRE(b);
  CAF_CHECK(!experiment::start(bus, oa)); // the name runs already
  auto call = [&](const char* arm, double ms) {
    bus.execute(call_stop, {{"duration", ms * 1e6}}, {{"arm", arm}});
  };
  call("a", 10);
  call("b", 5);
  call("c", 1); // neither arm
  (*a)->pause();
  call("a", 99);
  (*a)->resume();
  call("a", 12);
  auto xs = (*a)->records();
  CAF_REQUIRE_EQUAL(xs.size(), 2u);
  CAF_CHECK_EQUAL(xs[0].metadata["experiment"], "ranker");
  CAF_CHECK_EQUAL(xs[0].metadata["condition"], "baseline");
  CAF_CHECK_EQUAL(xs[0].metadata["team"], "search");
  CAF_CHECK_EQUAL((*b)->records().size(), 1u);
  CAF_CHECK_EQUAL((*a)->metrics().latency_mean, 11.0);
  (*a)->stop();
  call("a", 50);
  CAF_CHECK_EQUAL((*a)->records().size(), 2u);
  CAF_CHECK_EQUAL(lifecycle,
                  (std::vector<std::string>{
                    "caflens.experiment.started ranker",
                    "caflens.experiment.started ranker-b",
                    "caflens.experiment.stopped ranker 2"}));
  // Isolation by correlation: only the events of one request.
  auto oc = opts("one-request", "x");
  oc.match = {{"correlation_id", "req-9"}};
  auto c = experiment::start(bus, oc);
  CAF_REQUIRE(c);
  {
    tel::correlation_scope scope{"req-9"};
    call("z", 3);
  }
  call("z", 4);
  CAF_CHECK_EQUAL((*c)->records().size(), 1u);
}

CAF_TEST(windows and metrics over injected times) {
  tel::bus bus;
  auto ex = experiment::start(bus, opts("w", "a"));
  CAF_REQUIRE(ex);
  int64_t t0 = 1'000'000'000'000;
  // One call per second for 100 s: latency i ms, every 10th fails.
  for (int i = 1; i <= 100; ++i)
    (*ex)->record(at(t0 + i * 1'000'000'000LL, i, i % 10 != 0));
  auto m = (*ex)->metrics();
  CAF_CHECK_EQUAL(m.count, 100u);
  CAF_CHECK_EQUAL(m.successes, 90u);
  CAF_CHECK(near(m.success_rate, 0.9, 1e-12));
  CAF_CHECK(near(m.latency_mean, 50.5, 1e-9));
  CAF_CHECK(near(m.latency_p50, 50.5, 1e-9));
  CAF_CHECK(near(m.latency_p99, 99.01, 1e-9));
  CAF_CHECK(near(m.input_tokens, 1000, 1e-9));
  CAF_CHECK(near(m.cost_usd, 0.1, 1e-9));
  auto now = t0 + 100'000'000'000LL;
  CAF_CHECK_EQUAL((*ex)->last(10s, now).size(), 11u); // 90..100 s
  auto newest = (*ex)->last_n(3);
  CAF_REQUIRE_EQUAL(newest.size(), 3u);
  CAF_CHECK_EQUAL(*newest.back().measurement("duration"), 100e6);
  auto failures = (*ex)->range(t0, now, [](const record& x) {
    return x.event == "ranker.call.exception";
  });
  CAF_CHECK_EQUAL(failures.size(), 10u);
  auto windows = (*ex)->sliding(20s, 20s);
  CAF_REQUIRE_EQUAL(windows.size(), 5u);
  CAF_CHECK_EQUAL(windows[0].second.count, 20u);
  CAF_CHECK(near(windows[0].second.latency_mean, 10.5, 1e-9));
  CAF_CHECK(near(windows[4].second.latency_mean, 90.5, 1e-9));
  (*ex)->stop();
}

CAF_TEST(export streams records and the metrics store reads back) {
  temp_dir dir;
  tel::bus bus;
  auto o = opts("exported", "a");
  o.export_path = (dir.path / "exp.csv").string();
  o.export_format = file_format::csv;
  auto ex = experiment::start(bus, o);
  CAF_REQUIRE(ex);
  for (int i = 0; i < 5; ++i)
    bus.execute(call_stop, {{"duration", 1e6}}, {{"i", i}});
  (*ex)->stop();
  std::ifstream in{o.export_path};
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  CAF_REQUIRE_EQUAL(lines.size(), 6u); // header + 5
  CAF_CHECK(lines[1].find("ranker.call.stop") != std::string::npos);
  CAF_CHECK(lines[1].find("exported") != std::string::npos);
  jsonl_metrics_store store{(dir.path / "metrics.jsonl").string()};
  CAF_REQUIRE(!store.record("exported", (*ex)->metrics(), 1));
  CAF_REQUIRE(!store.record("other", experiment_metrics{}, 2));
  CAF_REQUIRE(!store.record("exported", (*ex)->metrics(), 3));
  CAF_REQUIRE(!store.flush());
  auto back = store.read("exported");
  CAF_REQUIRE(back);
  CAF_REQUIRE_EQUAL(back->size(), 2u);
  CAF_CHECK_EQUAL((*back)[1]["at_ns"], 3);
  CAF_CHECK_EQUAL((*back)[0]["metrics"]["count"], 5);
  auto bad = experiment::start(bus, experiment_options{});
  CAF_REQUIRE(!bad);
  CAF_CHECK(render_error(bad.error()).find("needs a name") != std::string::npos);
}
