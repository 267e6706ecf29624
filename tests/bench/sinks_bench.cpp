// Telemetry out: the Prometheus exposition of 10 000 series against
// prometheus-cpp's serializer on the same series, and records per second
// through the file, StatsD (UDP to a local socket) and OTLP trace (HTTP to a
// local receiver) sinks.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caflens/sinks/file_sink.hpp"
#include "caflens/sinks/otlp.hpp"
#include "caflens/sinks/statsd_sink.hpp"
#include "caflens/telemetry/trace_id.hpp"
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

/// The benchmark loop of a sink: batches of 512 tool.stop records, each
/// exported at once; shuts the sink down at the end.
void pump_tool_stops(benchmark::State& state, sinks::sink& s) {
  sinks::record r;
  r.event = "caflens.tool.stop";
  r.system_time_ns = 1'796'000'000'000'000'000;
  r.measurements = {{"duration", 12345}, {"monotonic_time", 987654321}};
  r.metadata = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                {"tool_name", "take_snapshot"},
                {"result", "ok"}};
  for (auto _ : state) {
    for (int i = 0; i < 512; ++i)
      s.consume(r);
    s.export_once();
  }
  s.shutdown();
}

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
  pump_tool_stops(state, **s);
  state.SetItemsProcessed(state.iterations() * 512);
  std::remove(fo.path.c_str());
  ::rmdir(dir.c_str());
}
BENCHMARK(BM_file_sink_records)->ArgName("format")->Arg(0)->Arg(1)->Arg(2);

// StatsD: tool.stop records as timers and counters, tagged (DogStatsD),
// packed into datagrams to a UDP socket a thread drains (the kernel's
// delivery is part of the cost; what arrives is counted).
void BM_statsd_sink_records(benchmark::State& state) {
  int rx = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len);
  int big = 8 << 20;
  ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  timeval tv{0, 200'000};
  ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0};
  std::thread drain{[&] {
    char buf[2048];
    while (!stop.load())
      if (::recv(rx, buf, sizeof(buf), 0) > 0)
        received.fetch_add(1);
  }};
  sinks::sink_options so;
  so.name = "bench";
  so.max_queue = 1 << 20;
  sinks::statsd_options opts;
  opts.port = ntohs(addr.sin_port);
  opts.dogstatsd_tags = true;
  opts.metrics = {
    telemetry::metric_definition::distribution(
      "tool.duration", {"caflens", "tool", "stop"}, "duration",
      {"tool_name", "result"}),
    telemetry::metric_definition::counter(
      "tool.calls", {"caflens", "tool", "stop"}, {"tool_name"})};
  auto s = sinks::statsd_sink::open(so, opts);
  pump_tool_stops(state, **s);
  stop = true;
  drain.join();
  ::close(rx);
  state.SetItemsProcessed(state.iterations() * 512);
  state.counters["datagrams_received"] = static_cast<double>(received.load());
}
BENCHMARK(BM_statsd_sink_records)->UseRealTime();

// OTLP traces: investigations of 1 root, 2 operators and 20 tool calls each
// (records in, spans out), POSTed as OTLP/HTTP JSON to a local receiver
// that parses every request.
void BM_otlp_trace_sink_records(benchmark::State& state) {
  httplib::Server srv;
  std::atomic<uint64_t> spans{0};
  srv.Post("/v1/traces", [&](const httplib::Request& req, httplib::Response& res) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_discarded())
      for (auto& rs : body["resourceSpans"])
        for (auto& ss : rs["scopeSpans"])
          spans.fetch_add(ss["spans"].size());
    res.set_content("{}", "application/json");
  });
  auto port = srv.bind_to_any_port("127.0.0.1");
  std::thread server{[&] { srv.listen_after_bind(); }};
  sinks::sink_options so;
  so.name = "bench";
  so.max_queue = 1 << 20;
  sinks::otlp_options oo;
  oo.endpoint = "http://127.0.0.1:" + std::to_string(port);
  auto s = sinks::otlp_trace_sink::open(so, oo);
  int64_t t = 1'796'000'000'000'000'000;
  auto rec = [&](std::string ev, const std::string& trace,
                 std::vector<std::pair<std::string, double>> m,
                 nlohmann::json md) {
    sinks::record r;
    r.event = std::move(ev);
    r.system_time_ns = t += 1'000'000;
    r.measurements = std::move(m);
    md["trace_id"] = trace;
    r.metadata = std::move(md);
    return r;
  };
  size_t records = 0;
  for (auto _ : state) {
    auto trace = telemetry::generate_trace_id();
    std::vector<sinks::record> xs;
    xs.push_back(rec("caflens.investigation.start", trace,
                     {{"system_time", static_cast<double>(t)}},
                     {{"reason", "queue depth over 1000"}}));
    for (auto skill : {"actors", "memory"})
      xs.push_back(rec("caflens.operator.started", trace, {},
                       {{"operator", std::string{"op-"} + skill},
                        {"skill", skill},
                        {"node", "n1"}}));
    for (int i = 0; i < 20; ++i)
      xs.push_back(rec("caflens.tool.stop", trace, {{"duration", 2'000'000}},
                       {{"tool_name", "take_snapshot"},
                        {"intent", "actors"},
                        {"iteration", i},
                        {"result", "ok"}}));
    for (auto skill : {"actors", "memory"})
      xs.push_back(rec("caflens.operator.loop_stopped", trace, {},
                       {{"operator", std::string{"op-"} + skill},
                        {"skill", skill},
                        {"node", "n1"},
                        {"final_state", "healthy"}}));
    xs.push_back(rec("caflens.investigation.stop", trace,
                     {{"duration", 30'000'000}, {"insights", 1}},
                     {{"partial", false}}));
    for (auto& x : xs)
      (*s)->consume(x);
    records += xs.size();
    (*s)->export_once();
  }
  (*s)->shutdown();
  srv.stop();
  server.join();
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["spans_received"] = static_cast<double>(spans.load());
}
BENCHMARK(BM_otlp_trace_sink_records)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
