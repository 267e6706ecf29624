#include "progress.hpp"

#include <vector>

#include "caflens/telemetry/catalogue.hpp"

namespace caflens::cli {

namespace {

std::string meta(const telemetry::metadata& md, std::string_view key) {
  if (auto* v = md.find(key))
    return v->to_string();
  return {};
}

} // namespace

std::optional<std::string> describe(const telemetry::event_name& e,
                                    const telemetry::measurements& ms,
                                    const telemetry::metadata& md) {
  auto& seg = e.segments();
  if (seg.size() != 3)
    return std::nullopt;
  auto& what = seg[2];
  if (seg[1] == "coordinator") {
    if (what == "started")
      return "coordinator: investigation " + meta(md, "trace_id") + " started";
    if (what == "invoke_operators")
      return "coordinator: invoking operators " + meta(md, "skills");
    if (what == "operator_complete")
      return "coordinator: operator " + meta(md, "skill") + " complete (" +
             meta(md, "result") + ")";
    if (what == "operator_crashed")
      return "coordinator: operator " + meta(md, "skill") +
             " crashed: " + meta(md, "reason");
    if (what == "insight_produced")
      return "coordinator: insight " + meta(md, "insight");
    if (what == "llm_error")
      return "coordinator: LLM error: " + meta(md, "reason");
    if (what == "brain_fallback")
      return "coordinator: the model failed; the rule engine goes on";
    if (what == "max_iterations_reached")
      return "coordinator: max iterations reached";
    if (what == "loop_stopped")
      return "coordinator: stopped (" + meta(md, "reason") + ")";
    return std::nullopt;
  }
  if (seg[1] == "operator") {
    auto who = "  " + meta(md, "skill") + ": ";
    if (what == "started")
      return who + "operator started";
    if (what == "take_snapshot")
      return who + "snapshot " + meta(md, "snapshot_id");
    if (what == "notification_sent")
      return who + "notification " + meta(md, "notification");
    if (what == "state_change")
      return who + meta(md, "from") + " -> " + meta(md, "to") +
             (meta(md, "reason").empty() ? "" : ": " + meta(md, "reason"));
    if (what == "execute_error")
      return who + "Lua error: " + meta(md, "reason");
    if (what == "llm_error")
      return who + "LLM error: " + meta(md, "reason");
    if (what == "brain_fallback")
      return who + "the model failed; the rule engine finishes";
    if (what == "done")
      return who + "done (" + meta(md, "final_state") + ")";
    return std::nullopt;
  }
  if (seg[1] == "llm") {
    // Provider trouble: retries, waits for a breaker, fallbacks, budgets.
    if (what == "retry")
      return "LLM: " + meta(md, "reason") + " (" + meta(md, "client")
             + "), retrying";
    if (what == "circuit_open")
      return "LLM: circuit breaker of " + meta(md, "client") + " open ("
             + meta(md, "reason") + ")";
    if (what == "circuit_close")
      return "LLM: circuit breaker of " + meta(md, "client") + " closed";
    if (what == "fallback")
      return "LLM: " + meta(md, "from_client") + " failed ("
             + meta(md, "reason") + "), trying " + meta(md, "to_client");
    if (what == "stream" && meta(md, "complete") != "true")
      return "LLM: " + meta(md, "client") + " is writing ("
             + std::to_string(static_cast<int64_t>(
               ms.find("text_bytes").value_or(0)
               + ms.find("tool_bytes").value_or(0)))
             + " bytes so far)";
    if (what == "stall")
      return "LLM: the reply from " + meta(md, "client")
             + " stalled; dropped, retrying";
    if (what == "budget_exceeded")
      return "LLM: budget spent (" + meta(md, "limit")
             + "): asking for the final answer";
    return std::nullopt;
  }
  return std::nullopt;
}


progress_lines::progress_lines(progress& say, std::string handler_id)
  : id_(std::move(handler_id)) {
  if (say.quiet())
    return;
  std::vector<telemetry::event_name> events;
  for (auto& prefix : {telemetry::event_name{"caflens", "coordinator"},
                       telemetry::event_name{"caflens", "operator"},
                       telemetry::event_name{"caflens", "llm"}})
    for (auto& e : telemetry::event_names(prefix))
      events.push_back(e);
  attached_ = !telemetry::bus::global().attach_many(
    id_, events,
    [&say](const telemetry::event_name& e, const telemetry::measurements& ms,
           const telemetry::metadata& md, const std::any&) {
      if (auto line = describe(e, ms, md))
        say(*line);
    });
}

progress_lines::~progress_lines() {
  if (attached_)
    telemetry::bus::global().detach(id_);
}

} // namespace caflens::cli
