// Telemetry hot paths: execute with 0/1/8 handlers, into a distribution
// metric, and sketch inserts; each from 1 and 2 threads.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/concurrent_sketch.hpp"
#include "caflens/telemetry/ddsketch.hpp"
#include "caflens/telemetry/metrics.hpp"

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP
#  include <prometheus/histogram.h>
#  include <prometheus/registry.h>
#endif

using namespace caflens::telemetry;

namespace {

bus& bench_bus() {
  static bus b;
  return b;
}

std::vector<double> samples() {
  std::mt19937_64 g{42};
  std::lognormal_distribution<double> d{12, 1.5}; // ns-scale latencies
  std::vector<double> xs(4096);
  for (auto& x : xs)
    x = d(g);
  return xs;
}

// Handlers attached for the whole run of a benchmark; thread 0 sets them up.
void attach_counters(const event_name& name, int n) {
  for (int i = 0; i < n; ++i)
    bench_bus().attach("h" + std::to_string(i), name,
                       [](auto&, const measurements& m, auto&, auto&) {
                         benchmark::DoNotOptimize(m.size());
                       });
}

void detach_counters(int n) {
  for (int i = 0; i < n; ++i)
    bench_bus().detach("h" + std::to_string(i));
}

void BM_execute_handlers(benchmark::State& state) {
  static const event_name name{"bench", "execute"};
  auto n = static_cast<int>(state.range(0));
  if (state.thread_index() == 0)
    attach_counters(name, n);
  auto e = bench_bus().intern(name);
  double x = 1;
  for (auto _ : state) {
    bench_bus().execute(e, {{"duration", x}}, {{"route", "/upload"}});
    x += 1;
  }
  if (state.thread_index() == 0)
    detach_counters(n);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_execute_handlers)->Arg(0)->Arg(1)->Arg(8)->Threads(1)->Threads(2)
  ->UseRealTime();

void BM_execute_by_name_no_handler(benchmark::State& state) {
  static const event_name name{"bench", "by_name"};
  bench_bus().intern(name);
  for (auto _ : state)
    bench_bus().execute(name, {{"duration", 1.0}});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_execute_by_name_no_handler)->Threads(1)->Threads(2)
  ->UseRealTime();

// The route tags of the rotating variants: a thread whose events change
// their tags every time (the worst case for the last-series shortcut).
const char* const rotating_routes[8] = {"/upload", "/download", "/login",
                                        "/logout", "/search",   "/items",
                                        "/orders", "/health"};

// tagged: 0 none, 1 one route, 2 eight routes in turn.
void BM_execute_distribution(benchmark::State& state) {
  static const event_name name{"bench", "dist"};
  static metric_registry* reg = nullptr;
  if (state.thread_index() == 0) {
    reg = new metric_registry{bench_bus()};
    auto def = metric_definition::distribution("latency", name, "duration");
    if (state.range(0) >= 1)
      def.tags = {"route"};
    reg->add(def);
  }
  auto e = bench_bus().intern(name);
  auto xs = samples();
  size_t i = 0;
  if (state.range(0) == 2) {
    for (auto _ : state) {
      auto k = i++;
      bench_bus().execute(e, {{"duration", xs[k & 4095]}},
                          {{"route", rotating_routes[k & 7]}});
    }
  } else {
    for (auto _ : state) {
      bench_bus().execute(e, {{"duration", xs[i++ & 4095]}},
                          {{"route", "/upload"}});
    }
  }
  if (state.thread_index() == 0) {
    delete reg;
    reg = nullptr;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_execute_distribution)->ArgName("tagged")->Arg(0)->Arg(1)->Arg(2)
  ->Threads(1)->Threads(2)->UseRealTime();

// The same distribution through a recorder bound once (no bus): what a
// cached prometheus::Histogram& is; tagged, its series is bound with the
// tag value once, as prometheus-cpp's Add({...}) result can be kept.
void BM_distribution_recorder(benchmark::State& state) {
  // Made once by whichever thread comes first (threads start unordered).
  static auto& reg = *[] {
    auto* r = new metric_registry{bench_bus()};
    event_name name{"bench", "rec"};
    r->add(metric_definition::distribution("plain", name, "duration"));
    r->add(metric_definition::distribution("tagged", name, "duration",
                                           {"route"}));
    return r;
  }();
  auto rec = state.range(0) == 1 ? reg.recorder("tagged", {"/upload"})
                                 : reg.recorder("plain");
  if (!rec) {
    state.SkipWithError("no recorder");
    return;
  }
  auto r = *rec;
  auto xs = samples();
  size_t i = 0;
  for (auto _ : state)
    r.record(xs[i++ & 4095]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_distribution_recorder)->ArgName("tagged")->Arg(0)->Arg(1)
  ->Threads(1)->Threads(2)->UseRealTime();

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP

// The peer: prometheus-cpp's histogram (its default-style exponential
// buckets), cached, and through its labelled family lookup.
prometheus::Histogram::BucketBoundaries prom_buckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double x = 1e3; x < 1e9; x *= 2)
    b.push_back(x);
  return b;
}

void BM_prometheus_cpp_observe(benchmark::State& state) {
  static prometheus::Registry* reg = nullptr;
  static prometheus::Histogram* hist = nullptr;
  if (state.thread_index() == 0) {
    reg = new prometheus::Registry;
    hist = &prometheus::BuildHistogram().Name("latency").Register(*reg).Add(
      {}, prom_buckets());
  }
  auto xs = samples();
  size_t i = 0;
  for (auto _ : state)
    hist->Observe(xs[i++ & 4095]);
  if (state.thread_index() == 0) {
    delete reg;
    reg = nullptr;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_prometheus_cpp_observe)->Threads(1)->Threads(2)->UseRealTime();

// rotating: 0 one route, 1 eight routes in turn (as the execute variants).
void BM_prometheus_cpp_labelled_observe(benchmark::State& state) {
  static prometheus::Registry* reg = nullptr;
  static prometheus::Family<prometheus::Histogram>* fam = nullptr;
  if (state.thread_index() == 0) {
    reg = new prometheus::Registry;
    fam = &prometheus::BuildHistogram().Name("latency").Register(*reg);
  }
  auto xs = samples();
  auto buckets = prom_buckets();
  size_t i = 0;
  if (state.range(0) == 1) {
    for (auto _ : state) {
      auto k = i++;
      fam->Add({{"route", rotating_routes[k & 7]}}, buckets)
        .Observe(xs[k & 4095]);
    }
  } else {
    for (auto _ : state)
      fam->Add({{"route", "/upload"}}, buckets).Observe(xs[i++ & 4095]);
  }
  if (state.thread_index() == 0) {
    delete reg;
    reg = nullptr;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_prometheus_cpp_labelled_observe)->ArgName("rotating")->Arg(0)
  ->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

#endif

void BM_ddsketch_add(benchmark::State& state) {
  ddsketch sk;
  auto xs = samples();
  size_t i = 0;
  for (auto _ : state)
    sk.add(xs[i++ & 4095]);
  benchmark::DoNotOptimize(sk.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ddsketch_add);

void BM_concurrent_sketch_add(benchmark::State& state) {
  static concurrent_sketch* sk = nullptr;
  if (state.thread_index() == 0)
    sk = new concurrent_sketch;
  auto xs = samples();
  size_t i = 0;
  for (auto _ : state)
    sk->add(xs[i++ & 4095]);
  if (state.thread_index() == 0) {
    delete sk;
    sk = nullptr;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_concurrent_sketch_add)->Threads(1)->Threads(2)->UseRealTime();

void BM_ddsketch_quantile(benchmark::State& state) {
  ddsketch sk;
  for (auto x : samples())
    sk.add(x);
  for (auto _ : state)
    benchmark::DoNotOptimize(sk.quantile(0.99));
}
BENCHMARK(BM_ddsketch_quantile);

} // namespace

int main(int argc, char** argv) {
  // Every CAF application runs threads. In a process that has never
  // started one, glibc locks a mutex without atomic instructions, so
  // prometheus-cpp's cached Observe took about 18 ns when it happened to
  // run before any two-thread benchmark and 24 ns after one. Start a thread
  // first: every benchmark runs as in an application, whatever the filter.
  std::thread{[] {}}.join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
