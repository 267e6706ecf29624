#define CAF_SUITE telemetry.metrics
#include "caf/test/unit_test.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"
#include "caflens/telemetry/telemetry_errc.hpp"

using namespace caflens::telemetry;
using namespace std::chrono_literals;

namespace {

struct fixture {
  bus b;
  manual_clock clk{1'000'000'000'000};
  metric_registry reg{b, clk};
  event_name stop{"app", "request", "stop"};

  void request(std::string_view route, int status, double duration) {
    b.execute(stop, {{"duration", duration}},
              {{"route", route}, {"status", status}});
  }

  const series_value* find(const metric_value& mv, std::string_view route) {
    for (auto& s : mv.series)
      if (!s.tags.empty() && s.tags[0].second == route)
        return &s;
    return nullptr;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(metrics_tests, fixture)

CAF_TEST(counter sum and last value per tag set) {
  CAF_REQUIRE(!reg.add(metric_definition::counter("requests", stop,
                                                  {"route"})));
  CAF_REQUIRE(!reg.add(metric_definition::sum("time", stop, "duration",
                                              {"route"})));
  CAF_REQUIRE(!reg.add(metric_definition::last_value("last", stop,
                                                     "duration")));
  request("/a", 200, 10);
  request("/a", 500, 20);
  request("/b", 200, 5);
  auto count = reg.collect("requests");
  CAF_REQUIRE(count);
  CAF_REQUIRE_EQUAL(count->series.size(), 2u);
  CAF_CHECK_EQUAL(find(*count, "/a")->value, 2.0);
  CAF_CHECK_EQUAL(find(*count, "/b")->value, 1.0);
  auto time = reg.collect("time");
  CAF_CHECK_EQUAL(find(*time, "/a")->value, 30.0);
  auto last = reg.collect("last");
  CAF_REQUIRE_EQUAL(last->series.size(), 1u);
  CAF_CHECK_EQUAL(last->series[0].value, 5.0);
  CAF_CHECK_EQUAL(last->series[0].updates, 3u);
}

CAF_TEST(integer and boolean tags form distinct series) {
  CAF_REQUIRE(!reg.add(metric_definition::counter("by_status", stop,
                                                  {"status"})));
  request("/a", 200, 1);
  request("/a", 200, 1);
  request("/a", 500, 1);
  auto mv = reg.collect("by_status");
  CAF_REQUIRE_EQUAL(mv->series.size(), 2u);
  for (auto& s : mv->series) {
    if (s.tags[0].second == "200")
      CAF_CHECK_EQUAL(s.value, 2.0);
    else
      CAF_CHECK_EQUAL(s.tags[0].second, "500");
  }
}

CAF_TEST(distributions answer quantiles over windows) {
  CAF_REQUIRE(!reg.add(metric_definition::distribution("latency", stop,
                                                       "duration",
                                                       {"route"})));
  for (int i = 1; i <= 1000; ++i)
    request("/a", 200, i);
  clk.advance(10min);
  for (int i = 1; i <= 100; ++i)
    request("/a", 200, 10000);
  auto recent = reg.collect("latency", 1min);
  CAF_REQUIRE(recent);
  auto* s = find(*recent, "/a");
  CAF_REQUIRE(s && s->distribution);
  CAF_CHECK_EQUAL(s->distribution->count(), 100u);
  CAF_CHECK_EQUAL(s->distribution->quantile(0.5), 10000.0);
  auto all = reg.collect("latency");
  auto* t = find(*all, "/a");
  CAF_CHECK_EQUAL(t->distribution->count(), 1100u);
  auto p50 = t->distribution->quantile(0.5);
  CAF_CHECK(std::fabs(p50 - 550) <= 5.5 + 1e-9);
}

CAF_TEST(events without the measurement are ignored) {
  CAF_REQUIRE(!reg.add(metric_definition::sum("time", stop, "duration")));
  b.execute(stop, {{"other", 1.0}});
  auto mv = reg.collect("time");
  CAF_CHECK_EQUAL(mv->series[0].updates, 0u);
}

CAF_TEST(the cardinality cap folds extra tag sets into one overflow series) {
  auto def = metric_definition::counter("capped", stop, {"route"});
  def.max_series = 3;
  CAF_REQUIRE(!reg.add(def));
  int overflow_events = 0;
  CAF_REQUIRE(!b.attach("ov", {"caflens", "telemetry", "metric", "overflow"},
                        [&](auto&, auto&, auto&, auto&) {
                          ++overflow_events;
                        }));
  for (int i = 0; i < 100; ++i)
    request("/r" + std::to_string(i), 200, 1);
  request("/r0", 200, 1);
  auto mv = reg.collect("capped");
  CAF_REQUIRE_EQUAL(mv->series.size(), 4u);
  double total = 0;
  const series_value* overflow = nullptr;
  for (auto& s : mv->series) {
    total += s.value;
    if (s.overflow)
      overflow = &s;
  }
  CAF_CHECK_EQUAL(total, 101.0);
  CAF_REQUIRE(overflow != nullptr);
  CAF_CHECK_EQUAL(overflow->value, 97.0);
  CAF_CHECK_EQUAL(overflow->tags[0].second, "__overflow__");
  CAF_CHECK_EQUAL(find(*mv, "/r0")->value, 2.0);
  CAF_CHECK_EQUAL(overflow_events, 1);
}

CAF_TEST(invalid definitions are rejected with clear errors) {
  CAF_CHECK_EQUAL(reg.add(metric_definition::sum("s", stop, "")),
                  telemetry_errc::invalid_metric);
  CAF_CHECK_EQUAL(reg.add(metric_definition::counter("", stop)),
                  telemetry_errc::invalid_metric);
  CAF_CHECK_EQUAL(reg.add(metric_definition::counter("c", event_name{})),
                  telemetry_errc::invalid_event_name);
  CAF_CHECK_EQUAL(reg.add(metric_definition::counter(
                    "t", stop, {"1", "2", "3", "4", "5", "6", "7", "8", "9"})),
                  telemetry_errc::invalid_metric);
  CAF_REQUIRE(!reg.add(metric_definition::counter("c", stop)));
  auto err = reg.add(metric_definition::counter("c", stop));
  CAF_CHECK_EQUAL(err, telemetry_errc::already_exists);
  CAF_CHECK(caflens::render_error(err).find("'c'") != std::string::npos);
  auto missing = reg.collect("nope");
  CAF_CHECK_EQUAL(missing.error(), telemetry_errc::not_found);
}

CAF_TEST(a recorder adds to the same series as execute) {
  CAF_REQUIRE(!reg.add(metric_definition::distribution("latency", stop,
                                                       "duration",
                                                       {"route", "status"})));
  auto rec = reg.recorder("latency", {"/a", "200"});
  CAF_REQUIRE(rec);
  CAF_CHECK(static_cast<bool>(*rec));
  for (int i = 1; i <= 500; ++i)
    rec->record(i);
  rec->record(std::nan(""));
  for (int i = 501; i <= 1000; ++i)
    request("/a", 200, i);
  // A recorder for another tag set makes that series.
  auto other = reg.recorder("latency", {"/b", "500"});
  CAF_REQUIRE(other);
  other->record(7);
  auto mv = reg.collect("latency");
  CAF_REQUIRE_EQUAL(mv->series.size(), 2u);
  auto* a = find(*mv, "/a");
  CAF_REQUIRE(a && a->distribution);
  CAF_CHECK_EQUAL(a->tags[1].second, "200");
  CAF_CHECK_EQUAL(a->distribution->count(), 1000u);
  CAF_CHECK(std::fabs(a->distribution->quantile(0.5) - 500) <= 7);
  CAF_CHECK(std::fabs(a->value - 500500.0) < 1e-6);
  CAF_CHECK_EQUAL(find(*mv, "/b")->distribution->count(), 1u);
  // Windows see a recorder's samples in the slot of their time.
  clk.advance(10min);
  rec->record(42);
  auto recent = reg.collect("latency", 1min);
  CAF_CHECK_EQUAL(find(*recent, "/a")->distribution->count(), 1u);
  CAF_CHECK_EQUAL(find(*recent, "/a")->distribution->quantile(0.5), 42.0);
}

CAF_TEST(an untagged recorder and the overflow series) {
  CAF_REQUIRE(!reg.add(metric_definition::distribution("plain", stop,
                                                       "duration")));
  auto rec = reg.recorder("plain");
  CAF_REQUIRE(rec);
  rec->record(3);
  b.execute(stop, {{"duration", 5.0}});
  CAF_CHECK_EQUAL(reg.collect("plain")->series.at(0).distribution->count(), 2u);
  auto def = metric_definition::distribution("capped", stop, "duration",
                                             {"route"});
  def.max_series = 2;
  CAF_REQUIRE(!reg.add(def));
  for (auto route : {"/1", "/2", "/3", "/4"}) {
    auto r = reg.recorder("capped", {route});
    CAF_REQUIRE(r);
    r->record(1);
  }
  auto mv = reg.collect("capped");
  CAF_REQUIRE_EQUAL(mv->series.size(), 3u);
  for (auto& s : mv->series)
    CAF_CHECK_EQUAL(s.distribution->count(), s.overflow ? 2u : 1u);
}

CAF_TEST(recorders are refused with clear errors) {
  CAF_REQUIRE(!reg.add(metric_definition::counter("hits", stop)));
  CAF_REQUIRE(!reg.add(metric_definition::distribution("latency", stop,
                                                       "duration",
                                                       {"route"})));
  auto missing = reg.recorder("nope");
  CAF_CHECK_EQUAL(missing.error(), telemetry_errc::not_found);
  auto counter = reg.recorder("hits");
  CAF_CHECK_EQUAL(counter.error(), telemetry_errc::invalid_argument);
  CAF_CHECK(caflens::render_error(counter.error()).find("is a counter")
            != std::string::npos);
  auto wrong = reg.recorder("latency", {"/a", "200"});
  CAF_CHECK_EQUAL(wrong.error(), telemetry_errc::invalid_argument);
  CAF_CHECK(caflens::render_error(wrong.error())
              .find("has 1 tag(s) (route); 2 value(s) given")
            != std::string::npos);
  distribution_recorder none;
  CAF_CHECK(!none);
  none.record(1); // records nothing, harmlessly
}

CAF_TEST(a recorder outlives its metric) {
  CAF_REQUIRE(!reg.add(metric_definition::distribution("gone", stop,
                                                       "duration")));
  auto rec = reg.recorder("gone");
  CAF_REQUIRE(rec);
  CAF_REQUIRE(!reg.remove("gone"));
  rec->record(1); // into the removed metric's series, kept alive by rec
  auto gone = reg.collect("gone"); // bound: the check keeps a reference
  CAF_CHECK_EQUAL(gone.error(), telemetry_errc::not_found);
}

CAF_TEST(remove detaches the metric) {
  CAF_REQUIRE(!reg.add(metric_definition::counter("c", stop)));
  CAF_CHECK_EQUAL(b.list_handlers(stop).size(), 1u);
  CAF_REQUIRE(!reg.remove("c"));
  CAF_CHECK(b.list_handlers(stop).empty());
  CAF_CHECK(reg.names().empty());
  CAF_CHECK_EQUAL(reg.remove("c"), telemetry_errc::not_found);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(threads recording through one recorder lose no sample) {
  bus b;
  metric_registry reg{b};
  CAF_REQUIRE(!reg.add(metric_definition::distribution("lat", {"x"}, "d",
                                                       {"route"})));
  auto rec = reg.recorder("lat", {"/r"});
  CAF_REQUIRE(rec);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([r = *rec, t]() mutable {
      for (int i = 0; i < 10'000; ++i)
        r.record(t * 10'000 + i + 1);
    });
  for (auto& t : threads)
    t.join();
  auto mv = reg.collect("lat");
  CAF_REQUIRE(mv);
  CAF_CHECK_EQUAL(mv->series.at(0).distribution->count(), 40'000u);
  CAF_CHECK(std::fabs(mv->series.at(0).value - 40'000.0 * 40'001 / 2) < 1e-3);
}

namespace {

/// A bus with a distribution "lat" of measurement "d" by tag "route".
struct routed {
  bus b;
  metric_registry reg{b};
  event_name ev{"app", "call"};

  routed() {
    CAF_REQUIRE(!reg.add(metric_definition::distribution("lat", ev, "d",
                                                         {"route"})));
  }
};

} // namespace

CAF_TEST(events alternating tag sets reach their own series) {
  // A thread's last series is tried first; events that change their tags,
  // leave a tag out or give it as a number must still find theirs.
  routed r;
  auto& b = r.b;
  auto& reg = r.reg;
  auto& ev = r.ev;
  CAF_REQUIRE(!reg.add(metric_definition::counter("calls", ev,
                                                  {"route", "peer"})));
  const char* routes[] = {"/a", "/b", "/a", "/a", "/bb", "/b"};
  for (int round = 0; round < 100; ++round)
    for (auto* route : routes)
      b.execute(ev, {{"d", 1.0}}, {{"route", route}, {"peer", "x"}});
  b.execute(ev, {{"d", 1.0}}, {{"peer", "x"}});   // no route
  b.execute(ev, {{"d", 1.0}}, {{"route", 7}});    // a number
  b.execute(ev, {{"d", 1.0}}, {{"route", "7"}});  // the same text
  b.execute(ev, {{"d", 1.0}}, {{"route", "/a"}}); // no peer
  auto lat = reg.collect("lat");
  CAF_REQUIRE(lat);
  std::map<std::string, uint64_t> counts;
  for (auto& s : lat->series)
    counts[s.tags.at(0).second] = s.distribution->count();
  std::map<std::string, uint64_t> want{
    {"/a", 301}, {"/b", 200}, {"/bb", 100}, {"", 1}, {"7", 2}};
  CAF_CHECK_EQUAL(counts, want);
  auto calls = reg.collect("calls");
  CAF_REQUIRE(calls);
  std::map<std::string, uint64_t> pairs;
  for (auto& s : calls->series)
    pairs[s.tags.at(0).second + "|" + s.tags.at(1).second] = s.updates;
  std::map<std::string, uint64_t> want_pairs{
    {"/a|x", 300}, {"/b|x", 200}, {"/bb|x", 100}, {"|x", 1},
    {"7|", 2},     {"/a|", 1}};
  CAF_CHECK_EQUAL(pairs, want_pairs);
}

CAF_TEST(threads alternating tag sets lose and misplace nothing) {
  routed r;
  auto& b = r.b;
  auto& reg = r.reg;
  auto& ev = r.ev;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&b, &ev, t] {
      const char* routes[] = {"/a", "/b", "/c"};
      for (int i = 0; i < 3'600; ++i)
        b.execute(ev, {{"d", static_cast<double>(t + 1)}},
                  {{"route", routes[(i / (t + 1)) % 3]}});
    });
  for (auto& t : threads)
    t.join();
  auto mv = reg.collect("lat");
  CAF_REQUIRE(mv);
  CAF_REQUIRE_EQUAL(mv->series.size(), 3u);
  uint64_t total = 0;
  for (auto& s : mv->series) {
    // Each thread sends each route a third of its events (in runs of
    // t + 1 events).
    CAF_CHECK_EQUAL(s.distribution->count(), 4'800u);
    CAF_CHECK_EQUAL(s.value, 1'200.0 * (1 + 2 + 3 + 4));
    total += s.distribution->count();
  }
  CAF_CHECK_EQUAL(total, 14'400u);
}

CAF_TEST(destroying a registry detaches its handlers) {
  bus b;
  {
    metric_registry reg{b};
    CAF_REQUIRE(!reg.add(metric_definition::counter("c", {"x"})));
    CAF_CHECK_EQUAL(b.list_handlers().size(), 1u);
  }
  CAF_CHECK(b.list_handlers().empty());
  b.execute(event_name{"x"}, {}); // nothing left to call
}
