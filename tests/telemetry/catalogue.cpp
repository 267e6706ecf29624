#define CAF_SUITE telemetry.catalogue
#include "caf/test/unit_test.hpp"

#include <set>

#include "caflens/telemetry/catalogue.hpp"

using namespace caflens::telemetry;

CAF_TEST(every catalogue event is valid unique and documented) {
  std::set<std::string> names;
  for (auto& e : catalogue()) {
    CAF_CHECK(e.name.valid());
    CAF_CHECK_EQUAL(e.name.segments().front(), "caflens");
    CAF_CHECK(!e.description.empty());
    CAF_CHECK(!e.measurements.empty());
    CAF_CHECK(names.insert(e.name.str()).second);
  }
  CAF_CHECK_EQUAL(event_names().size(), catalogue().size());
}

CAF_TEST(the catalogue covers the areas the engine needs) {
  for (auto area : {"llm", "tool", "operator", "coordinator", "compaction",
                    "supervisor", "skill", "sandbox", "alert", "sink"})
    CAF_CHECK(!event_names({"caflens", area}).empty());
  // The operator and coordinator events of beamlens, one by one.
  for (auto what :
       {"started", "iteration_start", "state_change", "notification_sent",
        "take_snapshot", "get_snapshot", "get_snapshots", "execute_start",
        "execute_complete", "execute_error", "wait", "think", "done",
        "llm_error", "loop_stopped"})
    CAF_CHECK(info({"caflens", "operator", what}).has_value());
  for (auto what :
       {"started", "iteration_start", "get_notifications",
        "update_notification_statuses", "insight_produced", "done",
        "loop_stopped", "llm_error", "invoke_operators", "message_operator",
        "get_operator_statuses", "wait", "think",
        "operator_notification_received", "operator_complete",
        "operator_crashed", "max_iterations_reached"})
    CAF_CHECK(info({"caflens", "coordinator", what}).has_value());
}

CAF_TEST(info describes measurements and metadata) {
  auto stop = info({"caflens", "llm", "stop"});
  CAF_REQUIRE(stop);
  auto has = [](const std::vector<std::string>& xs, const char* x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  CAF_CHECK(has(stop->measurements, "duration"));
  CAF_CHECK(has(stop->metadata, "trace_id"));
  CAF_CHECK(has(stop->metadata, "tool_selected"));
  CAF_CHECK(!info({"caflens", "no", "such"}).has_value());
  CAF_CHECK(event_info_for({"caflens", "telemetry", "handler", "failure"}));
}
