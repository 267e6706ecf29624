// One tool loop step, shared by operators and the coordinator (private).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "caf/expected.hpp"

#include "caflens/llm/brain.hpp"
#include "caflens/llm/conversation.hpp"
#include "caflens/llm/tool_definition.hpp"
#include "caflens/telemetry/value.hpp"

namespace caflens::actors {

/// Emits `caflens.<group>.<what>` with the system time and `md`.
void emit(std::string_view group, std::string_view what,
          const std::vector<telemetry::meta_entry>& md);

/// What executing one tool call produced.
struct tool_outcome {
  enum next_t : uint8_t { step, wait, finish };
  /// The tool result for the brain (JSON text or a message).
  std::string content;
  bool is_error = false;
  std::vector<std::string> snapshot_ids;
  bool notification = false;
  next_t next = step;
  int64_t wait_ms = 0;
  /// For `finish`: the closing summary.
  std::string summary;
  /// The structured result behind `content`, complete (the rule brain reads
  /// it; `content` may be bounded for a model).
  std::shared_ptr<const nlohmann::json> data;

  static tool_outcome ok(std::string content) {
    tool_outcome x;
    x.content = std::move(content);
    return x;
  }

  /// A structured result: `content` is its JSON text.
  static tool_outcome structured(nlohmann::json value) {
    tool_outcome x;
    x.content = value.dump();
    x.data = std::make_shared<const nlohmann::json>(std::move(value));
    return x;
  }

  /// The end of a loop: `finish` with the summary of a `done` call
  /// (`summary`, or a plain-text answer's `answer`).
  static tool_outcome done(const nlohmann::json& args) {
    auto out = ok(R"({"ok":true})");
    out.next = finish;
    if (auto i = args.find("summary"); i != args.end() && i->is_string())
      out.summary = i->get<std::string>();
    else if (auto j = args.find("answer"); j != args.end() && j->is_string())
      out.summary = j->get<std::string>();
    return out;
  }

  static tool_outcome error(std::string content) {
    tool_outcome x;
    x.content = std::move(content);
    x.is_error = true;
    return x;
  }
};

/// Runs `dispatch(name, arguments)` between the `caflens.tool.start` and
/// `caflens.tool.stop` events; an exception ends the span with
/// `caflens.tool.exception` instead and becomes a tool error.
tool_outcome run_timed(
  const std::string& trace_id, int64_t iteration, std::string_view intent,
  const llm::tool_call& call,
  const std::function<tool_outcome(const std::string&, const nlohmann::json&)>&
    dispatch);

/// `x` within `max_bytes` of JSON text by whole items: the longest arrays
/// are shortened from the end and each shortened array is noted in
/// `"more"` (path → items left out); a top-level array becomes
/// `{"items": [...], "total": n, "more": m}`. Never cuts inside a value.
nlohmann::json bound_result(const nlohmann::json& x, size_t max_bytes);

/// What runs one tool: its arguments arrive validated against its
/// definition.
using tool_handler = std::function<tool_outcome(const nlohmann::json& args)>;

/// A loop's tools: each one's definition (what a brain is offered) with the
/// handler that runs it.
class tool_table {
public:
  /// Adds `def` with `run`. Errors: the tool set's (a duplicate or a bad
  /// name).
  caf::error add(llm::tool_definition def, tool_handler run);

  /// The handler of `name`, or nullptr.
  const tool_handler* find(std::string_view name) const;

  /// What a brain is offered.
  const llm::tool_set& definitions() const noexcept {
    return defs_;
  }

private:
  llm::tool_set defs_;
  std::vector<std::pair<std::string, tool_handler>> handlers_;
};

/// Adds tool `name` (its definition from `defs`) whose handler runs
/// `fn(Loop{self}, args)`: loops are views made per message from the actor.
template <class Loop, class Self>
void bind_tool(tool_table& t, const llm::tool_set& defs, const char* name,
               Self self, tool_outcome (*fn)(Loop&, const nlohmann::json&)) {
  if (auto* def = defs.find(name))
    std::ignore = t.add(*def, [self, fn](const nlohmann::json& args) {
      Loop l{self};
      return fn(l, args);
    });
}

/// A conversation, a brain and its tools, with the iteration bookkeeping.
struct loop_core {
  llm::conversation conv;
  std::unique_ptr<llm::brain> brain;
  tool_table tools;
  /// Who runs the tools ("coordinator", the operator's skill): the intent of
  /// the `caflens.tool.*` events.
  std::string intent;
  int32_t max_iterations = 25;
  int32_t iteration = 0;
  /// Ticks carry the generation they were sent for; a stale tick (after an
  /// early wake-up) is ignored.
  uint64_t generation = 0;
  bool finished = false;
  size_t max_result_bytes = 16 * 1024;
  /// The one step past `max_iterations` for the final answer was given.
  bool final_step_granted = false;
  /// The model-backed brain failed and the rule brain took over: why.
  std::string degraded;
  /// Called by `run` with every call before it runs: the kind of the brain
  /// at that moment (a degraded loop's calls are the rule brain's), the
  /// iteration and the call (the store's decisions).
  std::function<void(std::string_view brain, int64_t iteration,
                     const llm::tool_call& call)>
    on_call;

  /// Asks the brain for the next call, validates it against its tool's
  /// definition, runs the tool's handler (between the `caflens.tool.*`
  /// events) and answers the call in the conversation. Errors: the brain's.
  caf::expected<tool_outcome> step();

  /// Runs `call` as `step` would (validated, timed) and answers it.
  tool_outcome run(const llm::tool_call& call);

  /// A plain-text final answer arrives as `done{answer}` (the llm layer's
  /// convention); our `done` calls it `summary`.
  static void normalize_final_answer(llm::tool_call& call);

  /// Answers `call` with `out`. A result longer than `max_result_bytes` is
  /// bounded by whole items (see `bound_result`), never cut inside a JSON
  /// document; the complete structured result stays with the message.
  void answer(const llm::tool_call& call, const tool_outcome& out);

  /// What the loop's brains spent (the current one and any it replaced).
  llm::brain_usage usage() const;

  /// At the iteration limit: true once for a model-backed brain, after
  /// asking it for its final answer (calls still open are answered as not
  /// run); the loop then takes one more step. False: the loop is over.
  bool grant_final_step();

  /// The brain failed with `err`: true when the loop goes on with
  /// `fallback` (the rule brain) — not for the rule brain itself, nor when
  /// the investigation is cancelled or out of time. Keeps the first failure
  /// in `degraded` and the previous brain's usage.
  bool degrade(const caf::error& err, std::unique_ptr<llm::brain> fallback);

private:
  /// Usage of brains replaced by `degrade`.
  llm::brain_usage spent_;
};

} // namespace caflens::actors
