// Uses the installed caflens: a handler counts events, a metric sketches
// them; a lens investigates a skill of the consumer's own, offline.
#include <cstdlib>
#include <iostream>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/caflens.hpp"

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
  // The engine, offline.
  ::setenv("CAFLENS_BRAIN", "rule", 1);
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  caf::actor_system sys{cfg};
  caflens::skills::skill_definition def;
  def.name = "queues";
  def.title = "Queues";
  def.description = "the consumer's queues";
  def.system_prompt = "Inspect the queues.";
  def.snapshot = [] { return nlohmann::json{{"depth", 5000}}; };
  def.detect = [](const nlohmann::json&, const std::vector<nlohmann::json>&) {
    return std::vector<caflens::skills::finding>{
      {"mailbox_backlog", caflens::severity::warning, "ingest mailbox 5000",
       {"ingest"}, nlohmann::json::object()}};
  };
  caflens::config lc;
  lc.builtin_skills = false;
  lc.skills = {caflens::skills::make_skill(std::move(def))};
  lc.rule.sample_interval = std::chrono::milliseconds{10};
  auto lens = caflens::start(sys, lc);
  if (!lens)
    return 4;
  auto res = lens->investigate("queue depth over 1000");
  if (!res)
    return 5;
  auto* top = res->top(caflens::severity::warning);
  if (top == nullptr || top->pattern != "slow_consumer"
      || top->culprits.at(0) != "ingest")
    return 6;
  std::cout << "consumer: lens ok, " << top->pattern << " in "
            << top->culprits[0] << '\n';
  lens->stop();
  return 0;
}
