#pragma once

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
};

} // namespace caflens::llm
