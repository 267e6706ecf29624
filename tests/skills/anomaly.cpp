#define CAF_SUITE skills.anomaly
#include "caf/test/unit_test.hpp"

#include <chrono>

#include "caflens/skills/anomaly.hpp"

using namespace caflens::skills;
using namespace caflens::telemetry;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct fixture {
  manual_clock clk{1'000'000'000};
  anomaly_options opts;
  fixture() {
    opts.learning = 10min;
  }

  // A steady baseline around 100 with a little noise.
  static json normal(int i) {
    return {{"total_mailbox_depth", 100 + (i % 5) - 2},
            {"kinds", {{"worker", {{"count", 8}}}}},
            {"top", json::array({1, 2, 3})}};
  }

  static json spike(int depth) {
    return {{"total_mailbox_depth", depth},
            {"kinds", {{"worker", {{"count", 8}}}}}};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(anomaly_tests, fixture)

CAF_TEST(nothing triggers while learning) {
  anomaly_detector d{opts, clk};
  for (int i = 0; i < 50; ++i) {
    CAF_CHECK(d.observe("actors", normal(i)).empty());
    clk.advance(10s);
  }
  CAF_CHECK(d.learning());
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(d.observe("actors", spike(5000)).empty());
}

CAF_TEST(three consecutive hits trigger once and name the field) {
  anomaly_detector d{opts, clk};
  for (int i = 0; i < 70; ++i) {
    d.observe("actors", normal(i));
    clk.advance(10s);
  }
  CAF_REQUIRE(!d.learning());
  CAF_CHECK(d.observe("actors", spike(5000)).empty());
  CAF_CHECK(d.observe("actors", spike(5000)).empty());
  auto fired = d.observe("actors", spike(5000));
  CAF_REQUIRE_EQUAL(fired.size(), 1u);
  CAF_CHECK_EQUAL(fired[0].field, "total_mailbox_depth");
  CAF_CHECK_EQUAL(fired[0].skill, "actors");
  CAF_CHECK(fired[0].z > 3);
  CAF_CHECK(std::fabs(fired[0].mean - 100) < 1);
  // The spike did not move the baseline.
  auto b = d.baselines();
  CAF_CHECK(std::fabs(b["actors"]["total_mailbox_depth"]["mean"].get<double>()
                      - 100)
            < 1);
  // Nested fields have baselines; arrays are skipped.
  CAF_CHECK(b["actors"].contains("kinds.worker.count"));
  CAF_CHECK(!b["actors"].contains("top"));
}

CAF_TEST(a normal value between hits resets the count) {
  anomaly_detector d{opts, clk};
  for (int i = 0; i < 70; ++i) {
    d.observe("actors", normal(i));
    clk.advance(10s);
  }
  d.observe("actors", spike(5000));
  d.observe("actors", spike(5000));
  d.observe("actors", normal(0));
  CAF_CHECK(d.observe("actors", spike(5000)).empty());
}

CAF_TEST(cooldown and hourly rate limit hold) {
  opts.cooldown = 1min;
  opts.max_triggers_per_hour = 2;
  anomaly_detector d{opts, clk};
  for (int i = 0; i < 70; ++i) {
    d.observe("actors", normal(i));
    clk.advance(10s);
  }
  auto three = [&] {
    size_t n = 0;
    for (int i = 0; i < 3; ++i)
      n += d.observe("actors", spike(5000)).size();
    return n;
  };
  CAF_CHECK_EQUAL(three(), 1u);
  CAF_CHECK_EQUAL(three(), 0u); // cooling down
  clk.advance(2min);
  CAF_CHECK_EQUAL(three(), 1u);
  clk.advance(2min);
  CAF_CHECK_EQUAL(three(), 0u); // 2 in the last hour
  clk.advance(1h);
  CAF_CHECK_EQUAL(three(), 1u);
  CAF_CHECK_EQUAL(d.triggers().size(), 3u);
  auto skill = make_anomaly_skill(std::make_shared<anomaly_detector>(opts));
  CAF_CHECK_EQUAL(skill->name(), "anomaly");
}

CAF_TEST(counters since start are judged by their rate over six hours) {
  // An OS-like snapshot every 10 s for 6 simulated hours: CPU seconds, io
  // bytes and log counts grow steadily (a steady rate), RSS stays flat.
  // Judged by value, each counter leaves its baseline within hours and
  // fires forever; judged by rate, nothing fires.
  opts.learning = 2h;
  anomaly_detector d{opts, clk};
  double cpu = 0, io = 0, errors = 0;
  size_t fired = 0;
  for (int i = 0; i < 6 * 360; ++i) {
    cpu += 0.5 + 0.01 * (i % 3);
    io += 4096 * (10 + i % 7);
    errors += i % 2;
    json snap{{"cpu_seconds", cpu},
              {"read_bytes", io},
              {"rss_bytes", 50e6 + 1e5 * (i % 4)},
              {"counts", {{"error", errors}}}};
    fired += d.observe("os", snap).size();
    clk.advance(10s);
  }
  CAF_CHECK_EQUAL(fired, 0u);
  auto b = d.baselines();
  CAF_CHECK(b["os"].contains("cpu_seconds/s"));
  CAF_CHECK_LESS(b["os"]["cpu_seconds/s"]["mean"].get<double>(), 0.06);
  // A real change of rate still fires: the process suddenly burns CPU.
  size_t hits = 0;
  for (int i = 0; i < 5; ++i) {
    cpu += 9.5;
    json snap{{"cpu_seconds", cpu},
              {"read_bytes", io},
              {"rss_bytes", 50e6},
              {"counts", {{"error", errors}}}};
    auto xs = d.observe("os", snap);
    for (auto& x : xs)
      if (x.field == "cpu_seconds/s")
        ++hits;
    clk.advance(10s);
  }
  CAF_CHECK_EQUAL(hits, 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
