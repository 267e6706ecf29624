// libFuzzer target for complete model replies of both providers, as the
// client receives them: the status line, headers and body of an HTTP
// response. The reply is decoded by the provider's wire format; its tool
// calls (structured, or written as text as local models do) are checked
// against the tools caflens really offers, the coordinator's and an
// operator's. Nothing may throw or crash; a decoded reply keeps its
// contract (tool calls named, arguments an object or null).
//
// Input: byte 0 picks the protocol (bit 0: OpenAI-compatible, else
// Anthropic); then the status code as text up to a newline, header lines
// `name: value` up to an empty line, and the body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "caflens/llm/detail/text_tool_calls.hpp"
#include "caflens/llm/wire_format.hpp"

#include "tools.hpp" // caflens/actors/src: the tools offered to models

namespace {

using namespace caflens;

struct parsed_input {
  llm::provider_kind kind;
  llm::http_response resp;
};

parsed_input split(const uint8_t* data, size_t size) {
  parsed_input out;
  out.kind = (data[0] & 1) != 0 ? llm::provider_kind::openai_compatible
                                 : llm::provider_kind::anthropic;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto line = [&]() -> std::string_view {
    auto nl = rest.find('\n');
    auto x = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{}
                                        : rest.substr(nl + 1);
    return x;
  };
  auto status = line();
  int code = 0;
  for (auto c : status.substr(0, 3))
    code = c >= '0' && c <= '9' ? code * 10 + (c - '0') : code;
  out.resp.status = code;
  for (auto h = line(); !h.empty(); h = line()) {
    auto colon = h.find(':');
    if (colon == std::string_view::npos)
      continue;
    std::string name{h.substr(0, colon)};
    for (auto& c : name)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    auto value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    out.resp.headers.push_back({std::move(name), std::string{value}});
  }
  out.resp.body = std::string{rest};
  return out;
}

const llm::tool_set& coordinator_tools() {
  static const auto tools = actors::coordinator_tools(
    {"actors", "memory", "os", "scheduler", "crashes", "logs", "telemetry",
     "supervision"},
    {{"restart_child", "supervisor, child", "restarts a child"}});
  return tools;
}

const llm::tool_set& operator_tools() {
  static const auto tools = actors::operator_tools();
  return tools;
}

void check_calls(const std::vector<llm::tool_call>& calls) {
  for (auto& call : calls) {
    if (!call.arguments.is_object() && !call.arguments.is_null())
      std::abort(); // the contract of `completion::tool_calls`
    for (auto* set : {&coordinator_tools(), &operator_tools()})
      if (auto* def = set->find(call.name))
        (void) def->problems(call.arguments); // a text, never a throw
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto in = split(data, size);
  auto format = llm::wire_format::make(in.kind);
  auto decoded = format->decode(in.resp);
  if (!decoded)
    return 0; // a classified error (rate_limited, invalid_response, ...)
  check_calls(decoded->tool_calls);
  if (decoded->tool_calls.empty() && !decoded->text.empty())
    for (auto* set : {&coordinator_tools(), &operator_tools()}) {
      auto calls = llm::detail::extract_text_tool_calls(decoded->text, *set,
                                                        "text_call_");
      for (auto& call : calls)
        if (set->find(call.name) == nullptr)
          std::abort(); // only declared tools come out of text
      check_calls(calls);
    }
  return 0;
}
