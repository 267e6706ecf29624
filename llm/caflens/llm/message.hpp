#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace caflens::llm {

/// Who speaks in a message.
enum class role : uint8_t {
  /// Instructions; providers get it as the system prompt.
  system,
  /// The task, instructions from the loop (e.g. "give your final answer").
  user,
  /// The model: text and/or tool calls.
  assistant,
  /// The result of one tool call (answers `tool_call_id`).
  tool,
};

std::string_view to_string(role x) noexcept;

/// One tool call made by the model. A value type.
struct tool_call {
  /// Provider-assigned id, echoed verbatim in the result (`toolu_...`,
  /// `call_...`, or ids without prefix); synthesized (`text_call_<n>`) when the
  /// call was parsed from plain text.
  std::string id;
  /// Tool name as the model wrote it (may be unknown).
  std::string name;
  /// The arguments object, or null when the model sent broken JSON.
  nlohmann::json arguments = nlohmann::json::object();
  /// The arguments text exactly as received (OpenAI sends a JSON string); used
  /// to echo the call verbatim. Empty when the provider sent an object.
  std::string arguments_text;

  friend bool operator==(const tool_call& x, const tool_call& y) {
    return x.id == y.id && x.name == y.name && x.arguments == y.arguments;
  }
};

/// One message of a conversation. A value type.
struct message {
  llm::role role = llm::role::user;
  /// Text content (assistant text, user text, or the tool result).
  std::string text;
  /// Assistant only: the tool calls of this turn, in order.
  std::vector<tool_call> tool_calls;
  /// Tool only: the id of the call this result answers, and its tool name.
  std::string tool_call_id;
  std::string tool_name;
  /// Tool only: the result reports a failure (unknown tool, bad arguments).
  bool is_error = false;
  /// Tool only: the structured result `text` renders (possibly bounded),
  /// for brains that read data rather than text (the rule brain). Never
  /// sent to a provider, never recorded.
  std::shared_ptr<const nlohmann::json> data;

  // -- compaction hints -------------------------------------------------------

  /// Snapshot ids this message refers to; compaction never drops them.
  std::vector<std::string> snapshot_ids;
  /// The message is (or carries) a notification; compaction keeps it.
  bool notification = false;
  /// The message is a compaction summary or otherwise must be kept.
  bool pinned = false;

  // -- factories --------------------------------------------------------------

  static message make_system(std::string text);
  static message make_user(std::string text);
  static message make_assistant(std::string text,
                                std::vector<tool_call> calls = {});
  static message make_tool_result(std::string call_id, std::string tool_name,
                                  std::string content, bool is_error = false);

  /// True when compaction must keep this message (snapshot ids, notification,
  /// pinned).
  bool must_keep() const noexcept {
    return pinned || notification || !snapshot_ids.empty();
  }
};

/// Serializes a message (for recordings); `from_json` is its inverse.
nlohmann::json to_json(const message& x);
message message_from_json(const nlohmann::json& x);
nlohmann::json to_json(const tool_call& x);
tool_call tool_call_from_json(const nlohmann::json& x);

} // namespace caflens::llm
