#pragma once

#include <cstdint>
#include <string_view>

#include "caf/expected.hpp"

#include "caflens/llm/conversation.hpp"
#include "caflens/llm/message.hpp"
#include "caflens/llm/tool_definition.hpp"

namespace caflens::llm {

/// Decides the next step of an investigation loop: given the conversation and
/// the tools on offer, returns the next tool call (DESIGN.md section 3).
///
/// Contract: on success the assistant turn is already appended to `conv`;
/// the loop executes the call and answers it with
/// `conv.add_tool_result(call.id, ...)`. When a model makes several calls in
/// one turn, `decide` returns them one by one before asking again. A plain
/// text answer comes back as a call of the final-answer tool (`done` by
/// default) with the text under `answer`. Implementations are not
/// thread-safe: one brain per loop.
/// What a brain spent asking a model (zero for brains that ask none).
struct brain_usage {
  int64_t calls = 0;
  /// Retries within those calls (each call's attempts less one).
  int64_t retries = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;

  brain_usage& operator+=(const brain_usage& x) noexcept {
    calls += x.calls;
    retries += x.retries;
    input_tokens += x.input_tokens;
    output_tokens += x.output_tokens;
    cost_usd += x.cost_usd;
    return *this;
  }
};

class brain {
public:
  virtual ~brain();

  virtual caf::expected<tool_call> decide(conversation& conv,
                                          const tool_set& tools) = 0;

  /// "llm", "scripted", "rule".
  virtual std::string_view kind() const noexcept = 0;

  /// True for a brain that asks a model: it is asked for a final answer at
  /// the iteration limit, and an investigation goes on offline when it
  /// fails. Scripted and rule brains are not.
  virtual bool model_backed() const noexcept { return false; }

  /// Calls, retries, tokens and cost so far: a new model-backed brain
  /// reports its own, and loops account for it without knowing its type.
  virtual brain_usage usage() const { return {}; }
};

} // namespace caflens::llm
