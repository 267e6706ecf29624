// caflens::telemetry in five lines (README, "Telemetry in five lines"): a
// handler on an event, a latency distribution per route, a span around the
// work, and the p99 of the last five minutes. Needs only caflens::telemetry
// (no actor system). A longer tour: telemetry_tour.cpp.
//
//   build/apps/examples/telemetry_basics
#include <any>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"
using namespace caflens::telemetry;

namespace {

// The work of one upload: 1 ms, every tenth one 3 ms.
void upload(int i) {
  std::this_thread::sleep_for(std::chrono::milliseconds{i % 10 ? 1 : 3});
}

} // namespace

int main() {
  std::atomic<int> slow{0};
  attach("log-slow", {"app", "upload", "stop"},
         [&slow](const event_name& e, const measurements& m, const metadata& md,
                 const std::any&) {
           // Runs in the emitter's thread: keep it cheap.
           if (m.find("duration").value_or(0) > 2e6) // ns
             ++slow;
         });
  metric_registry metrics; // on the global bus
  metrics.add(metric_definition::distribution(
    "upload.latency", {"app", "upload", "stop"}, "duration", {"route"}));
  for (int i = 0; i < 200; ++i)
    span({"app", "upload"}, {{"route", "/upload"}}, [i] { upload(i); });
  auto p99 = metrics.collect("upload.latency", std::chrono::minutes{5})
               ->series[0]
               .distribution->quantile(0.99);
  std::printf("/upload: p99 %.2f ms over 200 uploads, %d slower than 2 ms\n",
              p99 / 1e6, slow.load());
  detach("log-slow");
  return 0;
}
