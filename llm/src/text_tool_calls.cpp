#include "caflens/llm/detail/text_tool_calls.hpp"

#include <nlohmann/json.hpp>

namespace caflens::llm::detail {

namespace {

std::string_view trim(std::string_view x) {
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.front())))
    x.remove_prefix(1);
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.back())))
    x.remove_suffix(1);
  return x;
}

// Candidate JSON snippets, most specific first.
std::vector<std::string_view> candidates(std::string_view text) {
  std::vector<std::string_view> result;
  // <tool_call> ... </tool_call> (closing tag sometimes missing)
  for (size_t pos = 0;;) {
    auto open = text.find("<tool_call>", pos);
    if (open == std::string_view::npos)
      break;
    auto start = open + 11;
    auto close = text.find("</tool_call>", start);
    auto end = close == std::string_view::npos ? text.size() : close;
    result.push_back(trim(text.substr(start, end - start)));
    pos = close == std::string_view::npos ? text.size() : close + 12;
  }
  if (!result.empty())
    return result;
  // ```json ... ``` or ``` ... ```
  for (size_t pos = 0;;) {
    auto open = text.find("```", pos);
    if (open == std::string_view::npos)
      break;
    auto line_end = text.find('\n', open);
    if (line_end == std::string_view::npos)
      break;
    auto close = text.find("```", line_end);
    if (close == std::string_view::npos)
      close = text.size();
    result.push_back(trim(text.substr(line_end + 1, close - line_end - 1)));
    pos = close + 3;
    if (pos >= text.size())
      break;
  }
  if (!result.empty())
    return result;
  auto body = trim(text);
  if (!body.empty() && (body.front() == '{' || body.front() == '[')) {
    result.push_back(body);
    return result;
  }
  // JSON embedded in prose: first '{' to last '}'.
  auto first = body.find('{');
  auto last = body.rfind('}');
  if (first != std::string_view::npos && last != std::string_view::npos &&
      last > first)
    result.push_back(body.substr(first, last - first + 1));
  return result;
}

bool to_call(const nlohmann::json& x, tool_call& out) {
  if (!x.is_object())
    return false;
  const nlohmann::json* src = &x;
  if (auto fn = x.find("function"); fn != x.end() && fn->is_object())
    src = &*fn;
  auto name = src->find("name");
  if (name == src->end() || !name->is_string())
    return false;
  out.name = name->get<std::string>();
  const nlohmann::json* args = nullptr;
  for (auto key : {"arguments", "parameters", "input", "args"})
    if (auto i = src->find(key); i != src->end()) {
      args = &*i;
      break;
    }
  if (args == nullptr) {
    out.arguments = nlohmann::json::object();
  } else if (args->is_string()) {
    out.arguments_text = args->get<std::string>();
    out.arguments = nlohmann::json::parse(out.arguments_text, nullptr, false);
    if (out.arguments.is_discarded())
      out.arguments = nullptr;
  } else {
    out.arguments = *args;
  }
  return true;
}

} // namespace

std::vector<tool_call> extract_text_tool_calls(std::string_view text,
                                               const tool_set& tools,
                                               const std::string& id_prefix) {
  std::vector<tool_call> result;
  for (auto snippet : candidates(text)) {
    auto doc = nlohmann::json::parse(snippet, nullptr, false);
    if (doc.is_discarded())
      continue;
    std::vector<nlohmann::json> items;
    if (doc.is_array())
      items.assign(doc.begin(), doc.end());
    else
      items.push_back(doc);
    for (auto& item : items) {
      tool_call call;
      if (to_call(item, call) && tools.find(call.name) != nullptr) {
        call.id = id_prefix + std::to_string(result.size() + 1);
        result.push_back(std::move(call));
      }
    }
  }
  return result;
}

} // namespace caflens::llm::detail
