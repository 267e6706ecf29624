#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "caflens/llm/message.hpp"
#include "caflens/llm/tool_definition.hpp"

namespace caflens::llm::detail {

/// Extracts tool calls that a model wrote as text instead of structured
/// calls: `<tool_call>{...}</tool_call>` (Hermes/Qwen), ```json fences, or a
/// bare JSON object/array; each candidate is `{name, arguments|parameters}`
/// (arguments may be a JSON string) or `{function:{name, arguments}}`. Only
/// calls naming a declared tool are returned; ids are `<id_prefix><n>`.
std::vector<tool_call> extract_text_tool_calls(std::string_view text,
                                               const tool_set& tools,
                                               const std::string& id_prefix);

} // namespace caflens::llm::detail
