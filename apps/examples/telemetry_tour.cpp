// A tour of caflens::telemetry: a simulated upload service on two threads
// wraps each request in a span; metrics turn the stop events into counts and
// latency sketches per route; a handler that throws is detached and reported;
// the default logger shows warnings. Prints p50/p95/p99 per route.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"
#include "caflens/telemetry/default_logger.hpp"
#include "caflens/telemetry/metrics.hpp"
#include "caflens/telemetry/trace_id.hpp"

using namespace caflens::telemetry;
using namespace std::chrono_literals;

namespace {

// Simulated request latency in ns: /thumbnail is fast, /upload slow and
// heavy-tailed, /health trivial.
double simulate(std::mt19937_64& g, std::string_view route) {
  if (route == "/upload")
    return std::lognormal_distribution<double>{std::log(40e6), 0.6}(g);
  if (route == "/thumbnail")
    return std::lognormal_distribution<double>{std::log(3e6), 0.3}(g);
  return std::lognormal_distribution<double>{std::log(50e3), 0.2}(g);
}

} // namespace

int main() {
  std::cout << "caflens telemetry tour\n"
            << "  " << catalogue().size()
            << " events in the catalogue, e.g. "
            << catalogue().front().name.str() << "\n";
  attach_default_logger(log_level::warning, &std::cout);
  metric_registry metrics;
  event_name stop{"demo", "request", "done"};
  metrics.add(metric_definition::counter("requests", stop, {"route"}));
  auto latency = metric_definition::distribution("latency", stop, "latency_ns",
                                                 {"route"});
  metrics.add(latency);
  // A buggy handler: detached on its first throw, reported once.
  attach("buggy-exporter", stop, [](auto&, auto&, auto&, auto&) {
    throw std::runtime_error("exporter lost its connection");
  });
  const char* routes[] = {"/upload", "/thumbnail", "/health"};
  auto worker = [&](uint64_t seed) {
    std::mt19937_64 g{seed};
    for (int i = 0; i < 50000; ++i) {
      std::string_view route = routes[i % 3];
      auto trace = generate_trace_id();
      span({"demo", "request"}, {{"route", route}, {"trace_id", trace}}, [] {});
      execute(stop, {{"latency_ns", simulate(g, route)}}, {{"route", route}});
    }
  };
  std::thread t1{worker, 1}, t2{worker, 2};
  t1.join();
  t2.join();
  detach_default_logger();
  std::cout << std::flush;
  std::printf("\n%-12s %10s %12s %12s %12s\n", "route", "requests",
              "p50 (ms)", "p95 (ms)", "p99 (ms)");
  auto counts = metrics.collect("requests");
  auto dist = metrics.collect("latency", 5min);
  for (auto& s : dist->series) {
    double n = 0;
    for (auto& c : counts->series)
      if (c.tags == s.tags)
        n = c.value;
    auto& d = *s.distribution;
    std::printf("%-12s %10.0f %12.3f %12.3f %12.3f\n",
                s.tags[0].second.c_str(), n, d.quantile(0.5) / 1e6,
                d.quantile(0.95) / 1e6, d.quantile(0.99) / 1e6);
  }
  std::cout << "\nhandlers still attached to " << stop.str() << ": "
            << list_handlers(stop).size() << " (the buggy one was detached)" << std::endl;
  return 0;
}
