// Uses the installed caflens: a handler counts events, a metric sketches
// them.
#include <iostream>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"
#include "caflens/telemetry/trace_id.hpp"

int main() {
  using namespace caflens::telemetry;
  int calls = 0;
  if (auto err = attach("consumer", {"app", "work", "stop"},
                        [&](auto&, auto&, auto&, auto&) { ++calls; }))
    return 1;
  metric_registry reg;
  if (auto err = reg.add(metric_definition::distribution(
        "work", {"app", "work", "stop"}, "duration")))
    return 2;
  for (int i = 1; i <= 100; ++i)
    execute({"app", "work", "stop"}, {{"duration", double(i)}},
            {{"trace_id", generate_trace_id()}});
  auto mv = reg.collect("work");
  if (!mv || calls != 100 || mv->series.at(0).distribution->count() != 100)
    return 3;
  std::cout << "consumer: ok, p50 = "
            << mv->series[0].distribution->quantile(0.5) << '\n';
  return 0;
}
