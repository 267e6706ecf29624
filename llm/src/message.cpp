#include "caflens/llm/message.hpp"

namespace caflens::llm {

std::string_view to_string(role x) noexcept {
  switch (x) {
    case role::system:
      return "system";
    case role::user:
      return "user";
    case role::assistant:
      return "assistant";
    case role::tool:
      return "tool";
  }
  return "unknown";
}

message message::make_system(std::string text) {
  message result;
  result.role = role::system;
  result.text = std::move(text);
  return result;
}

message message::make_user(std::string text) {
  message result;
  result.role = role::user;
  result.text = std::move(text);
  return result;
}

message message::make_assistant(std::string text,
                                std::vector<tool_call> calls) {
  message result;
  result.role = role::assistant;
  result.text = std::move(text);
  result.tool_calls = std::move(calls);
  return result;
}

message message::make_tool_result(std::string call_id, std::string tool_name,
                                  std::string content, bool is_error) {
  message result;
  result.role = role::tool;
  result.tool_call_id = std::move(call_id);
  result.tool_name = std::move(tool_name);
  result.text = std::move(content);
  result.is_error = is_error;
  return result;
}

nlohmann::json to_json(const tool_call& x) {
  nlohmann::json result{
    {"id", x.id}, {"name", x.name}, {"arguments", x.arguments}};
  if (!x.arguments_text.empty())
    result["arguments_text"] = x.arguments_text;
  return result;
}

tool_call tool_call_from_json(const nlohmann::json& x) {
  tool_call result;
  result.id = x.value("id", "");
  result.name = x.value("name", "");
  if (auto i = x.find("arguments"); i != x.end())
    result.arguments = *i;
  result.arguments_text = x.value("arguments_text", "");
  return result;
}

nlohmann::json to_json(const message& x) {
  nlohmann::json result{{"role", to_string(x.role)}, {"text", x.text}};
  if (!x.tool_calls.empty()) {
    auto& calls = result["tool_calls"] = nlohmann::json::array();
    for (auto& call : x.tool_calls)
      calls.push_back(to_json(call));
  }
  if (x.role == role::tool) {
    result["tool_call_id"] = x.tool_call_id;
    result["tool_name"] = x.tool_name;
    result["is_error"] = x.is_error;
  }
  if (!x.snapshot_ids.empty())
    result["snapshot_ids"] = x.snapshot_ids;
  if (x.notification)
    result["notification"] = true;
  if (x.pinned)
    result["pinned"] = true;
  return result;
}

message message_from_json(const nlohmann::json& x) {
  message result;
  auto r = x.value("role", "user");
  result.role = r == "system"      ? role::system
                : r == "assistant" ? role::assistant
                : r == "tool"      ? role::tool
                                   : role::user;
  result.text = x.value("text", "");
  if (auto i = x.find("tool_calls"); i != x.end() && i->is_array())
    for (auto& call : *i)
      result.tool_calls.push_back(tool_call_from_json(call));
  result.tool_call_id = x.value("tool_call_id", "");
  result.tool_name = x.value("tool_name", "");
  result.is_error = x.value("is_error", false);
  if (auto i = x.find("snapshot_ids"); i != x.end() && i->is_array())
    result.snapshot_ids = i->get<std::vector<std::string>>();
  result.notification = x.value("notification", false);
  result.pinned = x.value("pinned", false);
  return result;
}

} // namespace caflens::llm
