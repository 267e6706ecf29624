#define CAF_SUITE telemetry.catalogue
#include "caf/test/unit_test.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

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

// The catalogue promises that every event it lists is emitted. Each event is
// asserted by a test of the component that emits it (catching it from the
// real emitter); this guard keeps that true: an event added to the
// catalogue without a test that names it fails here, with its name.
CAF_TEST(every catalogue event is named by a test of its emitter) {
  namespace fs = std::filesystem;
  std::string corpus;
  for (auto& entry : fs::recursive_directory_iterator{CAFLENS_TESTS_DIR}) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")
        || entry.path().filename() == "catalogue.cpp")
      continue;
    std::ifstream in{entry.path()};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    // Whitespace collapsed: segment lists wrap across lines.
    bool space = false;
    for (char c : text) {
      bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (!ws || !space)
        corpus += ws ? ' ' : c;
      space = ws;
    }
    corpus += ' ';
  }
  CAF_REQUIRE(corpus.size() > 100'000); // the tests were found
  std::vector<std::string> unnamed;
  for (auto& name : event_names()) {
    // Dotted ("caflens.node.accepted") or as segments
    // ({"caflens", "node", "accepted"}, the last two suffice).
    auto& segs = name.segments();
    auto n = segs.size();
    auto pair = "\"" + segs[n - 2] + "\", \"" + segs[n - 1] + "\"";
    // The dotted name as a string literal, or escaped inside one.
    auto quoted = [&](const std::string& x) {
      for (auto i = corpus.find(x); i != std::string::npos;
           i = corpus.find(x, i + 1)) {
        auto end = i + x.size();
        if (i > 0 && corpus[i - 1] == '"' && end < corpus.size()
            && (corpus[end] == '"' || corpus[end] == '\\'))
          return true;
      }
      return false;
    };
    if (!quoted(name.str()) && corpus.find(pair) == std::string::npos)
      unnamed.push_back(name.str());
  }
  CAF_CHECK_EQUAL(unnamed, std::vector<std::string>{});
}
