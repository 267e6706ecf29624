// libFuzzer target for the arguments a model sends with a tool call, and
// the JSON forms of notifications, insights and results that come back
// from the store, other nodes and the dashboard. The input is JSON text
// (the parser itself included); a parsed document goes through the
// validation of every tool caflens offers and through the typed readers.
// Nothing may throw or crash; what validates must be an object; what the
// readers accept must write out again.
//
// Input: byte 0 picks the tool (by index over the coordinator's tools,
// then an operator's), the rest is the JSON text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "caflens/actors/types.hpp"

#include "tools.hpp" // caflens/actors/src: the tools offered to models

namespace {

using namespace caflens;

const std::vector<const llm::tool_definition*>& all_tools() {
  static const auto coordinator = actors::coordinator_tools(
    {"actors", "memory", "os", "scheduler", "crashes", "logs", "telemetry",
     "supervision"},
    {{"restart_child", "supervisor, child", "restarts a child"}}, true);
  static const auto op = actors::operator_tools();
  static const auto all = [] {
    std::vector<const llm::tool_definition*> xs;
    for (auto& t : coordinator.tools())
      xs.push_back(&t);
    for (auto& t : op.tools())
      xs.push_back(&t);
    return xs;
  }();
  return all;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto& tools = all_tools();
  auto* tool = tools[data[0] % tools.size()];
  std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto args = nlohmann::json::parse(text, nullptr, false);
  if (args.is_discarded())
    return 0;
  auto problems = tool->problems(args);
  if (problems.empty() && !args.is_object())
    std::abort(); // arguments are always an object
  if (static_cast<bool>(tool->validate(args)) == problems.empty())
    std::abort(); // the two checks disagree
  if (auto n = caflens::notification_from_json(args))
    (void) caflens::to_json(*n).dump();
  if (auto i = caflens::insight_from_json(args))
    (void) caflens::to_json(*i).dump();
  if (auto r = caflens::investigation_result_from_json(args))
    (void) caflens::to_json(*r).dump();
  return 0;
}
