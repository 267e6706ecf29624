#pragma once

#include <memory>
#include <string>
#include <vector>

#include "caflens/llm/brain.hpp"
#include "caflens/llm/client_registry.hpp"
#include "caflens/llm/compaction.hpp"
#include "caflens/llm/recording.hpp"

namespace caflens::llm {

/// Settings of an `llm_brain`.
struct llm_brain_config {
  /// Consecutive invalid replies (unknown tool, broken JSON, schema
  /// violation, empty reply) sent back to the model as tool errors before
  /// `decide` gives up with `invalid_tool_call`.
  int max_reasks = 2;
  /// The call returned for a plain-text answer, and its argument name.
  std::string answer_tool = "done";
  std::string answer_argument = "answer";
  /// Accept tool calls written as JSON in the text (```json fences, bare
  /// JSON, <tool_call> tags) when the provider returned none.
  bool parse_text_tool_calls = true;
  bool compaction_enabled = true;
  compaction_policy compaction;
  /// Appended once when the budget is spent (the reason is added).
  std::string final_answer_instruction =
    "The investigation budget is exhausted. Do not call any more tools for "
    "data: give your final answer now with what you have.";
};

/// Asks a model through a `client_registry`. Per `decide`: answers pending
/// calls first, checks the budget (asks for the final answer instead of
/// cutting off), compacts the context when it outgrows its budget (and once
/// more on a context overflow), validates every call against the tool set
/// and re-asks a bounded number of times with tool errors. Not thread-safe.
class llm_brain : public brain {
public:
  explicit llm_brain(std::shared_ptr<client_registry> clients,
                     llm_brain_config cfg = {});

  caf::expected<tool_call> decide(conversation& conv,
                                  const tool_set& tools) override;

  std::string_view kind() const noexcept override { return "llm"; }

  bool model_backed() const noexcept override { return true; }

  brain_usage usage() const override;

  /// Records every decision (the clients record exchanges themselves).
  void record_to(std::shared_ptr<recording> rec) {
    recording_ = std::move(rec);
  }

  /// Names the loop this brain decides for ("coordinator",
  /// "operator:<skill>"): every request carries it (`completion_request::
  /// loop`; a compaction call "<label>#summary"), and so do the recorded
  /// exchanges and decisions.
  void label(std::string x) { label_ = std::move(x); }

  const std::string& label() const noexcept { return label_; }

  /// Every successful LLM call made by this brain (accounting).
  const std::vector<completion>& calls() const noexcept { return calls_; }

  /// Tool errors sent back to the model so far.
  int tool_errors() const noexcept { return tool_errors_; }

  const llm_brain_config& config() const noexcept { return cfg_; }

private:
  caf::expected<tool_call> decide_impl(conversation& conv,
                                       const tool_set& tools);

  /// Returns the problem with `call` or "" when it is valid.
  std::string check(const tool_call& call, const tool_set& tools) const;

  void maybe_compact(conversation& conv, size_t target);

  tool_call remember(const conversation& conv, tool_call call);

  std::shared_ptr<client_registry> clients_;
  llm_brain_config cfg_;
  std::shared_ptr<recording> recording_;
  std::string label_;
  std::vector<completion> calls_;
  int reasks_ = 0;
  int tool_errors_ = 0;
  bool final_call_made_ = false;
};

} // namespace caflens::llm
