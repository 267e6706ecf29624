#pragma once

#include <memory>
#include <vector>

#include "caflens/llm/brain.hpp"
#include "caflens/llm/recording.hpp"

namespace caflens::llm {

/// Replays a fixed sequence of tool calls (tests, and replaying a stored
/// investigation). Each call is appended to the conversation as an assistant
/// turn, so the loop answers it exactly as with a real model. Calls without
/// an id get `scripted_<n>`. Errors: `script_exhausted` after the last call,
/// `invalid_tool_call` for a call whose tool is not offered (the final-answer
/// tool, `done` by default, is always accepted, as `llm_brain` returns it for
/// plain-text answers). Not thread-safe.
class scripted_brain : public brain {
public:
  explicit scripted_brain(std::vector<tool_call> script,
                          std::string answer_tool = "done");

  /// The decisions of a recorded investigation, optionally only those of
  /// `trace_id`.
  static scripted_brain from_recording(const recording& rec,
                                       const std::string& trace_id = {});

  /// The decisions of one loop (`decision::loop`, e.g. "coordinator" or
  /// "operator:<skill>") of a recorded investigation (every trace when
  /// `trace_id` is empty): the loops of one investigation share its trace
  /// id, so replaying it takes one such brain per loop.
  static scripted_brain from_recording(const recording& rec,
                                       const std::string& trace_id,
                                       const std::string& loop);

  caf::expected<tool_call> decide(conversation& conv,
                                  const tool_set& tools) override;

  std::string_view kind() const noexcept override { return "scripted"; }

  size_t remaining() const noexcept { return script_.size() - next_; }

private:
  std::vector<tool_call> script_;
  std::string answer_tool_;
  size_t next_ = 0;
};

} // namespace caflens::llm
