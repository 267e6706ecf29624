#include "caflens/llm/conversation.hpp"

#include <algorithm>

namespace caflens::llm {

size_t estimate_tokens(std::string_view text) noexcept {
  return (text.size() + 3) / 4;
}

size_t estimate_tokens(const message& x) {
  size_t result = 4 + estimate_tokens(x.text);
  for (auto& call : x.tool_calls) {
    result += 8 + estimate_tokens(call.name) + estimate_tokens(call.id);
    if (!call.arguments_text.empty())
      result += estimate_tokens(call.arguments_text);
    else
      result += estimate_tokens(call.arguments.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  if (x.role == role::tool)
    result += 4 + estimate_tokens(x.tool_call_id);
  return result;
}

conversation::conversation(std::string system_prompt, std::string trace_id)
  : system_prompt_(std::move(system_prompt))
  , trace_id_(std::move(trace_id)) {}

void conversation::add_user(std::string text) {
  messages_.push_back(message::make_user(std::move(text)));
}

void conversation::add_tool_result(const std::string& call_id,
                                   std::string content, bool is_error,
                                   std::vector<std::string> snapshot_ids,
                                   bool notification,
                                   std::shared_ptr<const nlohmann::json> data) {
  std::string name;
  for (auto i = messages_.rbegin(); i != messages_.rend() && name.empty(); ++i)
    for (auto& call : i->tool_calls)
      if (call.id == call_id)
        name = call.name;
  auto msg = message::make_tool_result(call_id, std::move(name),
                                       std::move(content), is_error);
  msg.snapshot_ids = std::move(snapshot_ids);
  msg.notification = notification;
  msg.data = std::move(data);
  messages_.push_back(std::move(msg));
}

std::vector<tool_call> conversation::pending_calls() const {
  auto last = std::find_if(messages_.rbegin(), messages_.rend(),
                           [](auto& m) { return m.role == role::assistant; });
  if (last == messages_.rend())
    return {};
  std::vector<tool_call> result;
  auto answered = [&](const std::string& id) {
    return std::any_of(messages_.rbegin(), last, [&](auto& m) {
      return m.role == role::tool && m.tool_call_id == id;
    });
  };
  for (auto& call : last->tool_calls)
    if (!answered(call.id))
      result.push_back(call);
  return result;
}

void conversation::request_final_answer(std::string instruction) {
  if (final_answer_requested_)
    return;
  final_answer_requested_ = true;
  messages_.push_back(message::make_user(std::move(instruction)));
  messages_.back().pinned = true;
}

size_t conversation::estimated_tokens() const {
  size_t result = estimate_tokens(system_prompt_);
  for (auto& msg : messages_)
    result += estimate_tokens(msg);
  return result;
}

nlohmann::json conversation::to_json() const {
  nlohmann::json msgs = nlohmann::json::array();
  for (auto& msg : messages_)
    msgs.push_back(llm::to_json(msg));
  return {{"system", system_prompt_},
          {"trace_id", trace_id_},
          {"iteration", iteration_},
          {"final_answer_requested", final_answer_requested_},
          {"messages", std::move(msgs)}};
}

conversation conversation::from_json(const nlohmann::json& x) {
  conversation result{x.value("system", ""), x.value("trace_id", "")};
  result.iteration_ = x.value("iteration", int64_t{0});
  result.final_answer_requested_ = x.value("final_answer_requested", false);
  if (auto i = x.find("messages"); i != x.end() && i->is_array())
    for (auto& msg : *i)
      result.messages_.push_back(message_from_json(msg));
  return result;
}

} // namespace caflens::llm
