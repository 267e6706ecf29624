#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/llm/budget.hpp"
#include "caflens/llm/message.hpp"

namespace caflens::llm {

/// Rough token count of a text (≈ 4 bytes per token, the usual English/JSON
/// average of BPE tokenizers); used for budgets and compaction decisions.
size_t estimate_tokens(std::string_view text) noexcept;

/// Token estimate of one message including per-message overhead and its tool
/// calls.
size_t estimate_tokens(const message& x);

/// The context of one brain: system prompt, messages, trace id, iteration
/// counter, the investigation's budget and the final-answer flag. A value
/// type; not synchronized (one conversation belongs to one loop).
class conversation {
public:
  conversation() = default;

  explicit conversation(std::string system_prompt, std::string trace_id = {});

  // -- properties -------------------------------------------------------------

  const std::string& system_prompt() const noexcept { return system_prompt_; }

  void system_prompt(std::string x) { system_prompt_ = std::move(x); }

  const std::string& trace_id() const noexcept { return trace_id_; }

  void trace_id(std::string x) { trace_id_ = std::move(x); }

  const std::vector<message>& messages() const noexcept { return messages_; }

  /// Mutable access for compaction and tests.
  std::vector<message>& messages() noexcept { return messages_; }

  int64_t iteration() const noexcept { return iteration_; }

  void next_iteration() noexcept { ++iteration_; }

  const std::shared_ptr<llm::budget>& budget() const noexcept {
    return budget_;
  }

  void budget(std::shared_ptr<llm::budget> x) { budget_ = std::move(x); }

  // -- building ---------------------------------------------------------------

  void add(message x) { messages_.push_back(std::move(x)); }

  void add_user(std::string text);

  /// Answers the pending call `call_id` (its tool name is looked up).
  /// `snapshot_ids` and `notification` mark the result for compaction.
  void add_tool_result(const std::string& call_id, std::string content,
                       bool is_error = false,
                       std::vector<std::string> snapshot_ids = {},
                       bool notification = false,
                       std::shared_ptr<const nlohmann::json> data = nullptr);

  /// Calls of the last assistant message that have no result yet, in order.
  std::vector<tool_call> pending_calls() const;

  // -- final answer
  // -------------------------------------------------------------

  /// True once the loop was asked for its final answer (budget hit).
  bool final_answer_requested() const noexcept {
    return final_answer_requested_;
  }

  /// Sets the flag and appends `instruction` as a user message (once).
  void request_final_answer(std::string instruction);

  // -- measuring
  // ----------------------------------------------------------------

  /// Estimated prompt tokens: system prompt plus all messages.
  size_t estimated_tokens() const;

  // -- serialization
  // ------------------------------------------------------------

  nlohmann::json to_json() const;

  static conversation from_json(const nlohmann::json& x);

private:
  std::string system_prompt_;
  std::string trace_id_;
  std::vector<message> messages_;
  int64_t iteration_ = 0;
  bool final_answer_requested_ = false;
  std::shared_ptr<llm::budget> budget_;
};

} // namespace caflens::llm
