// Telemetry out: the Prometheus exposition of 10 000 series against
// prometheus-cpp's serializer on the same series, and records per second
// through the file sinks.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include <unistd.h>

#include "caflens/sinks/file_sink.hpp"
#include "caflens/sinks/prometheus.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP
#  include <prometheus/counter.h>
#  include <prometheus/registry.h>
#  include <prometheus/text_serializer.h>
#endif

using namespace caflens;

namespace {

constexpr int series = 10'000;

void BM_caflens_metrics_text(benchmark::State& state) {
  telemetry::bus b;
  telemetry::metric_registry reg{b};
  auto def = telemetry::metric_definition::counter(
    "http.requests", {"http", "stop"}, {"route"});
  def.max_series = series + 10;
  reg.add(def);
  for (int i = 0; i < series; ++i) {
    auto route = "/r" + std::to_string(i);
    b.execute(telemetry::event_name{"http", "stop"}, {{"n", 1}},
              {{"route", route}});
  }
  size_t bytes = 0;
  for (auto _ : state) {
    auto text = sinks::prometheus_text(reg);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * series);
}
BENCHMARK(BM_caflens_metrics_text)->Unit(benchmark::kMillisecond);

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP
void BM_prometheus_cpp_serialize(benchmark::State& state) {
  prometheus::Registry reg;
  auto& fam = prometheus::BuildCounter()
                .Name("http_requests_total")
                .Help("HTTP requests.")
                .Register(reg);
  for (int i = 0; i < series; ++i)
    fam.Add({{"route", "/r" + std::to_string(i)}}).Increment();
  prometheus::TextSerializer ser;
  size_t bytes = 0;
  for (auto _ : state) {
    auto text = ser.Serialize(reg.Collect());
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * series);
}
BENCHMARK(BM_prometheus_cpp_serialize)->Unit(benchmark::kMillisecond);
#endif

void BM_file_sink_records(benchmark::State& state) {
  char tmpl[] = "/tmp/caflens-bench-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  sinks::sink_options so;
  so.name = "bench";
  so.max_queue = 1 << 20;
  sinks::file_sink_options fo;
  fo.path = dir + "/events.log";
  fo.format = static_cast<sinks::file_format>(state.range(0));
  fo.max_bytes = 256 * 1024 * 1024;
  auto s = sinks::file_sink::open(so, fo);
  sinks::record r;
  r.event = "caflens.tool.stop";
  r.system_time_ns = 1'796'000'000'000'000'000;
  r.measurements = {{"duration", 12345}, {"monotonic_time", 987654321}};
  r.metadata = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                {"tool_name", "take_snapshot"},
                {"result", "ok"}};
  for (auto _ : state) {
    for (int i = 0; i < 512; ++i)
      (*s)->consume(r);
    (*s)->export_once();
  }
  (*s)->shutdown();
  state.SetItemsProcessed(state.iterations() * 512);
  std::remove(fo.path.c_str());
  ::rmdir(dir.c_str());
}
BENCHMARK(BM_file_sink_records)->ArgName("format")->Arg(0)->Arg(1)->Arg(2);

} // namespace

BENCHMARK_MAIN();
