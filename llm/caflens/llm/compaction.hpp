#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "caf/expected.hpp"

#include "caflens/llm/conversation.hpp"

namespace caflens::llm {

/// How a conversation shrinks when it outgrows its context budget.
enum class compaction_strategy : uint8_t {
  /// Drop the oldest turns; keep the task, snapshot ids, notifications and
  /// the last K tool results.
  sliding_window,
  /// Replace the oldest turns by a summary written by one extra LLM call
  /// (falls back to the sliding window if that call fails).
  summarize,
};

std::string_view to_string(compaction_strategy x) noexcept;

/// When and how far to compact.
struct compaction_policy {
  compaction_strategy strategy = compaction_strategy::sliding_window;
  /// Compaction runs when the estimate exceeds this many tokens.
  size_t max_context_tokens = 24000;
  /// ... and shrinks the conversation to `target_ratio * max_context_tokens`.
  double target_ratio = 0.6;
  /// The most recent tool results kept verbatim.
  size_t keep_last_tool_results = 3;
  /// Older results that must be kept (snapshot ids, notifications) are cut to
  /// this many characters plus their snapshot ids.
  size_t kept_result_chars = 300;
};

/// What a compaction did.
struct compaction_result {
  size_t tokens_before = 0;
  size_t tokens_after = 0;
  size_t messages_before = 0;
  size_t messages_after = 0;
  /// Messages removed (or folded into the summary).
  size_t dropped = 0;
  /// Kept messages whose text was shortened.
  size_t shortened = 0;
  /// True when a summary replaced the dropped messages.
  bool summarized = false;
};

/// Writes a summary of `dropped` (one extra LLM call in `llm_brain`).
using summarizer = std::function<caf::expected<std::string>(
  const std::vector<message>& dropped)>;

/// True when `conv` exceeds `policy.max_context_tokens`.
bool needs_compaction(const conversation& conv,
                      const compaction_policy& policy);

/// Compacts `conv` towards `target_tokens` (default: the policy's target).
/// Never splits an assistant tool call from its results, never drops the
/// first user message, snapshot ids, notifications or pinned messages, and
/// keeps the last K tool results verbatim. Emits `caflens.compaction.start`
/// and `caflens.compaction.stop`. Errors only for an invalid policy.
caf::expected<compaction_result> compact(conversation& conv,
                                         const compaction_policy& policy,
                                         const summarizer& summarize = {},
                                         size_t target_tokens = 0);

} // namespace caflens::llm
