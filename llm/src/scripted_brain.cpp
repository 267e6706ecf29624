#include "caflens/llm/scripted_brain.hpp"

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

brain::~brain() = default;

scripted_brain::scripted_brain(std::vector<tool_call> script,
                               std::string answer_tool)
  : script_(std::move(script))
  , answer_tool_(std::move(answer_tool)) {}

scripted_brain scripted_brain::from_recording(const recording& rec,
                                              const std::string& trace_id) {
  std::vector<tool_call> calls;
  for (auto& d : rec.decisions())
    if (trace_id.empty() || d.trace_id == trace_id)
      calls.push_back(d.call);
  return scripted_brain{std::move(calls)};
}

scripted_brain scripted_brain::from_recording(const recording& rec,
                                              const std::string& trace_id,
                                              const std::string& loop) {
  std::vector<tool_call> calls;
  for (auto& d : rec.decisions())
    if ((trace_id.empty() || d.trace_id == trace_id) && d.loop == loop)
      calls.push_back(d.call);
  return scripted_brain{std::move(calls)};
}

caf::expected<tool_call> scripted_brain::decide(conversation& conv,
                                                const tool_set& tools) {
  conv.next_iteration();
  if (next_ >= script_.size())
    return detail::llm_error(llm_errc::script_exhausted,
                             "scripted brain: all " +
                               std::to_string(script_.size()) +
                               " scripted calls were used");
  auto call = script_[next_++];
  if (call.id.empty())
    call.id = "scripted_" + std::to_string(next_);
  if (!tools.empty() && call.name != answer_tool_ &&
      tools.find(call.name) == nullptr)
    return detail::llm_error(
      llm_errc::invalid_tool_call,
      "scripted brain: call " + std::to_string(next_) + " names tool '" +
        call.name + "' which is not offered; offered: " + tools.names());
  conv.add(message::make_assistant({}, {call}));
  return call;
}

} // namespace caflens::llm
