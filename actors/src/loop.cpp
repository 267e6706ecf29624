#include "loop.hpp"

#include "caflens/llm/llm_brain.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::actors {

void emit(std::string_view group, std::string_view what,
          const std::vector<telemetry::meta_entry>& md) {
  const telemetry::measurement ms[]
    = {{"system_time", static_cast<double>(telemetry::bus::system_time())}};
  telemetry::bus::global().execute(
    telemetry::event_name{"caflens", group, what},
    telemetry::measurements{ms, 1}, telemetry::metadata{md});
}

tool_outcome run_timed(
  const std::string& trace_id, int64_t iteration, std::string_view intent,
  const llm::tool_call& call,
  const std::function<tool_outcome(const std::string&, const nlohmann::json&)>&
    dispatch) {
  auto& bus = telemetry::bus::global();
  auto t0 = telemetry::bus::monotonic_time();
  bus.execute(telemetry::event_name{"caflens", "tool", "start"},
              {{"system_time",
                static_cast<double>(telemetry::bus::system_time())},
               {"monotonic_time", static_cast<double>(t0)}},
              {{"trace_id", trace_id},
               {"iteration", iteration},
               {"tool_name", call.name},
               {"intent", intent}});
  tool_outcome out;
  try {
    out = dispatch(call.name, call.arguments);
  } catch (const std::exception& ex) {
    out = tool_outcome::error(call.name + " failed: " + ex.what());
  } catch (...) {
    out = tool_outcome::error(call.name + " failed: unknown exception");
  }
  auto t1 = telemetry::bus::monotonic_time();
  bus.execute(telemetry::event_name{"caflens", "tool", "stop"},
              {{"duration", static_cast<double>(t1 - t0)},
               {"monotonic_time", static_cast<double>(t1)}},
              {{"trace_id", trace_id},
               {"iteration", iteration},
               {"tool_name", call.name},
               {"intent", intent},
               {"result", out.is_error ? "error" : "ok"}});
  return out;
}

void loop_core::normalize_final_answer(llm::tool_call& call) {
  if (call.name != "done" || !call.arguments.is_object())
    return;
  auto i = call.arguments.find("answer");
  if (i == call.arguments.end())
    return;
  if (!call.arguments.contains("summary"))
    call.arguments["summary"] = *i;
  call.arguments.erase("answer");
}

void loop_core::answer(const llm::tool_call& call, const tool_outcome& out) {
  auto pending = conv.pending_calls();
  bool is_pending = false;
  for (auto& p : pending)
    if (p.id == call.id)
      is_pending = true;
  if (!is_pending)
    return;
  if (out.content.size() <= max_result_bytes) {
    conv.add_tool_result(call.id, out.content, out.is_error, out.snapshot_ids,
                         out.notification);
    return;
  }
  auto text = out.content.substr(0, max_result_bytes);
  text += "\n[cut: " + std::to_string(out.content.size())
          + " bytes; ask for less]";
  conv.add_tool_result(call.id, std::move(text), out.is_error,
                       out.snapshot_ids, out.notification);
}

void loop_core::usage(int64_t& input, int64_t& output, double& cost) const {
  input = output = 0;
  cost = 0;
  auto* lb = dynamic_cast<const llm::llm_brain*>(brain.get());
  if (lb == nullptr)
    return;
  for (auto& c : lb->calls()) {
    input += c.usage.prompt_tokens();
    output += c.usage.output_tokens;
    cost += c.cost_usd;
  }
}

} // namespace caflens::actors
