#include "caflens/telemetry/catalogue.hpp"

#include <algorithm>

namespace caflens::telemetry {

namespace {

using strings = std::vector<std::string>;

// Measurement sets shared by most events.
const strings at{"system_time"};
const strings start_ms{"system_time", "monotonic_time"};
const strings stop_ms{"duration", "monotonic_time"};
const strings exc_ms{"duration", "monotonic_time"};

event_info ev(std::initializer_list<std::string_view> name, std::string desc,
              strings ms, strings md) {
  return {event_name{name}, std::move(desc), std::move(ms), std::move(md)};
}

std::vector<event_info> make_catalogue() {
  const strings span_exc_md{"kind", "reason", "telemetry_span_context"};
  auto with = [](strings xs, const strings& more) {
    xs.insert(xs.end(), more.begin(), more.end());
    return xs;
  };
  std::vector<event_info> xs{
    // -- telemetry itself --------------------------------------------------
    ev({"caflens", "telemetry", "handler", "failure"},
       "A handler threw and was detached.", at,
       {"handler_id", "event_name", "kind", "reason"}),
    ev({"caflens", "telemetry", "metric", "overflow"},
       "A metric reached its series cap; further tag sets fold into the "
       "overflow series.",
       at, {"metric", "max_series"}),
    // -- llm ---------------------------------------------------------------
    ev({"caflens", "llm", "start"}, "LLM call starting.", start_ms,
       {"trace_id", "iteration", "context_size", "client", "provider",
        "model", "telemetry_span_context"}),
    ev({"caflens", "llm", "stop"}, "LLM call completed.",
       {"duration", "monotonic_time", "input_tokens", "output_tokens",
        "cost_usd", "retries"},
       {"trace_id", "iteration", "client", "provider", "model",
        "tool_selected", "stop_reason", "telemetry_span_context"}),
    ev({"caflens", "llm", "exception"}, "LLM call failed.", exc_ms,
       with({"trace_id", "iteration", "client", "provider", "model"},
            span_exc_md)),
    ev({"caflens", "llm", "retry"}, "An LLM call is retried after an error.",
       {"system_time", "attempt", "delay_ms"},
       {"trace_id", "client", "reason", "status"}),
    ev({"caflens", "llm", "stream"},
       "A streamed LLM reply is arriving (at most once a second per call, "
       "and when it completes).",
       {"system_time", "elapsed_ms", "events", "text_bytes", "tool_bytes"},
       {"trace_id", "iteration", "client", "attempt", "complete"}),
    ev({"caflens", "llm", "stall"},
       "A streamed LLM reply sent nothing for the client's stall timeout; "
       "the attempt is dropped (and retried).",
       {"system_time", "silent_ms", "received_bytes"},
       {"trace_id", "client", "attempt"}),
    ev({"caflens", "llm", "fallback"},
       "The registry moved to the next client of a fallback chain.", at,
       {"trace_id", "from_client", "to_client", "reason"}),
    ev({"caflens", "llm", "circuit_open"},
       "A client's circuit breaker opened after repeated failures.",
       {"system_time", "failures"}, {"client", "reason"}),
    ev({"caflens", "llm", "circuit_close"},
       "A client's circuit breaker closed again.", at, {"client"}),
    ev({"caflens", "llm", "budget_exceeded"},
       "An investigation hit its token, cost or time budget.",
       {"system_time", "tokens", "cost_usd"},
       {"trace_id", "budget", "limit"}),
    ev({"caflens", "llm", "tool_error"},
       "A model's tool call was rejected (unknown tool, bad arguments, broken "
       "JSON) and sent back as a tool error.",
       {"system_time", "reasks"}, {"trace_id", "tool_name", "reason"}),
    // -- tools -------------------------------------------------------------
    ev({"caflens", "tool", "start"}, "Tool execution starting.", start_ms,
       {"trace_id", "iteration", "tool_name", "intent",
        "telemetry_span_context"}),
    ev({"caflens", "tool", "stop"}, "Tool execution completed.", stop_ms,
       {"trace_id", "iteration", "tool_name", "intent", "result",
        "telemetry_span_context"}),
    ev({"caflens", "tool", "exception"}, "Tool execution failed.", exc_ms,
       with({"trace_id", "iteration", "tool_name"}, span_exc_md)),
    // -- compaction --------------------------------------------------------
    ev({"caflens", "compaction", "start"}, "Context compaction starting.",
       {"system_time", "message_count", "context_tokens"},
       {"trace_id", "iteration", "strategy", "config"}),
    ev({"caflens", "compaction", "stop"}, "Context compaction completed.",
       {"system_time", "message_count", "context_tokens", "duration"},
       {"trace_id", "iteration", "strategy"}),
  };

  // -- operator ------------------------------------------------------------
  auto op = [&](std::string_view what, std::string desc, strings md) {
    xs.push_back(ev({"caflens", "operator", what}, std::move(desc), at,
                    with({"operator", "skill", "trace_id", "node"}, md)));
  };
  op("started", "Operator started.", {});
  op("iteration_start", "Operator iteration starting.",
     {"iteration", "operator_state"});
  op("state_change", "Operator state changed.", {"from", "to", "reason"});
  op("notification_sent", "Operator sent a notification.", {"notification"});
  op("notification_failed", "A notification was rejected.", {"reason"});
  op("take_snapshot", "Operator captured a snapshot.", {"snapshot_id"});
  op("get_snapshot", "Operator retrieved a snapshot.", {"snapshot_id"});
  op("get_snapshots", "Operator retrieved several snapshots.", {"count"});
  op("execute_start", "Operator Lua execution starting.", {"code"});
  op("execute_complete", "Operator Lua execution completed.",
     {"code", "result"});
  op("execute_error", "Operator Lua execution failed.", {"code", "reason"});
  op("wait", "Operator sleeping.", {"ms"});
  op("think", "Operator recorded a thought.", {"thought"});
  op("done", "Operator analysis completed.", {"final_state"});
  op("llm_error", "Operator LLM call failed.",
     {"reason", "retry_count", "will_retry"});
  op("brain_fallback",
     "Operator's model failed; the rule engine finishes its look.",
     {"reason"});
  op("loop_stopped", "Operator loop stopped.", {"final_state", "reason"});
  op("unexpected_message", "Operator received an unexpected message.",
     {"message"});

  // -- coordinator ---------------------------------------------------------
  auto co = [&](std::string_view what, std::string desc, strings md) {
    xs.push_back(ev({"caflens", "coordinator", what}, std::move(desc), at,
                    with({"trace_id"}, md)));
  };
  co("started", "Coordinator started.", {"running", "notification_count"});
  co("iteration_start", "Coordinator iteration starting.", {"iteration"});
  co("get_notifications", "Coordinator retrieved notifications.",
     {"status", "count"});
  co("update_notification_statuses",
     "Coordinator updated notification statuses.",
     {"notification_ids", "status"});
  co("insight_produced", "Coordinator created an insight.", {"insight"});
  co("done", "Coordinator analysis loop completed.",
     {"has_unread", "unread_count"});
  co("loop_stopped", "Coordinator loop stopped.", {"reason"});
  co("llm_error", "Coordinator LLM call failed.", {"reason"});
  co("brain_fallback",
     "Coordinator's model failed; the rule engine goes on with the "
     "evidence and operators start offline.",
     {"reason", "iteration"});
  co("unexpected_message", "Coordinator received an unexpected message.",
     {"message"});
  co("invoke_operators", "Coordinator invoked operators.",
     {"skills", "nodes"});
  co("message_operator", "Coordinator messaged a running operator.",
     {"skill"});
  co("get_operator_statuses", "Coordinator retrieved operator statuses.", {});
  co("wait", "Coordinator sleeping.", {"ms"});
  co("think", "Coordinator recorded a thought.", {"thought"});
  co("schedule", "Coordinator scheduled a follow-up check.",
     {"ms", "reason"});
  co("node_lost",
     "A node of the investigation was lost: its operators end as node_lost "
     "and the result is partial.",
     {"node", "reason", "skills"});
  co("operator_notification_received",
     "Notification received from a running operator.",
     {"notification_id", "skill", "node"});
  co("operator_complete", "Operator completed.", {"skill", "result"});
  co("operator_crashed", "Operator crashed.", {"skill", "reason"});
  co("max_iterations_reached", "Coordinator reached max iterations.",
     {"iteration"});
  co("investigation_queued", "An investigation waits for the running one.",
     {"reason", "queue_length"});

  // -- investigations (span) -----------------------------------------------
  xs.push_back(ev({"caflens", "investigation", "start"},
                  "An investigation starts.", start_ms,
                  {"trace_id", "reason", "trigger",
                   "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "investigation", "stop"},
                  "An investigation finished.",
                  {"duration", "monotonic_time", "insights", "notifications",
                   "input_tokens", "output_tokens", "cost_usd"},
                  {"trace_id", "partial", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "investigation", "exception"},
                  "An investigation failed.", exc_ms,
                  with({"trace_id"}, span_exc_md)));

  // -- supervision ---------------------------------------------------------
  auto sv = [&](std::string_view what, std::string desc, strings ms,
                strings md) {
    xs.push_back(ev({"caflens", "supervisor", what}, std::move(desc),
                    std::move(ms), with({"supervisor", "strategy"}, md)));
  };
  sv("started", "A supervisor started.", at, {"children"});
  sv("child_started", "A child started.", at,
     {"child_id", "child_type", "restart_type"});
  sv("child_start_error", "A child's start function failed.", at,
     {"child_id", "reason"});
  sv("child_ignored", "A child's start function returned ignore.", at,
     {"child_id"});
  sv("child_exited", "A child exited.", {"system_time", "restarts_in_period"},
     {"child_id", "reason", "restart_type"});
  sv("child_restarted", "A child was restarted after an exit.",
     {"system_time", "restarts_in_period"}, {"child_id", "reason"});
  sv("child_terminated", "A child was stopped by its supervisor.", at,
     {"child_id", "reason", "shutdown"});
  sv("intensity_exceeded",
     "More restarts than the intensity allows within the period; the "
     "supervisor shuts down.",
     {"system_time", "restarts", "intensity", "period_ms"}, {"child_id"});
  sv("auto_shutdown", "A significant child's exit shut the supervisor down.",
     at, {"child_id", "auto_shutdown"});
  sv("stopped", "A supervisor stopped.", at, {"reason"});

  // -- skills --------------------------------------------------------------
  xs.push_back(ev({"caflens", "skill", "snapshot", "start"},
                  "A skill snapshot starts.", start_ms,
                  {"skill", "trace_id", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "skill", "snapshot", "stop"},
                  "A skill snapshot completed.",
                  {"duration", "monotonic_time", "entries", "bytes"},
                  {"skill", "trace_id", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "skill", "snapshot", "exception"},
                  "A skill snapshot failed.", exc_ms,
                  with({"skill", "trace_id"}, span_exc_md)));
  xs.push_back(ev({"caflens", "skill", "finding"},
                  "A detector reported a finding.", at,
                  {"skill", "type", "severity", "actors", "trace_id"}));
  xs.push_back(ev({"caflens", "tracer", "capture"},
                  "The tracer captured a message.",
                  {"system_time", "handler_time", "captured"},
                  {"actor", "pattern", "trace_id"}));
  xs.push_back(ev({"caflens", "tracer", "stopped"},
                  "A trace ended (limit, timeout or request).",
                  {"system_time", "captured"}, {"actor", "reason"}));
  xs.push_back(ev({"caflens", "anomaly", "triggered"},
                  "The anomaly detector triggered an investigation.",
                  {"system_time", "z_score", "value", "baseline"},
                  {"skill", "field"}));
  xs.push_back(ev({"caflens", "anomaly", "baseline_ready"},
                  "The anomaly detector finished learning baselines.",
                  {"system_time", "fields"}, {}));

  // -- sandbox -------------------------------------------------------------
  xs.push_back(ev({"caflens", "sandbox", "execute", "start"},
                  "A Lua script starts in a fresh sandbox.", start_ms,
                  {"trace_id", "code", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "sandbox", "execute", "stop"},
                  "A Lua script finished.",
                  {"duration", "monotonic_time", "instructions",
                   "memory_bytes"},
                  {"trace_id", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "sandbox", "execute", "exception"},
                  "A Lua script failed.", exc_ms,
                  with({"trace_id"}, span_exc_md)));
  xs.push_back(ev({"caflens", "sandbox", "limit_exceeded"},
                  "A script hit a sandbox limit and was stopped.",
                  {"system_time", "limit_value"}, {"trace_id", "limit"}));
  xs.push_back(ev({"caflens", "sandbox", "callback"},
                  "A script called a skill callback.",
                  {"system_time", "duration"},
                  {"trace_id", "callback", "ok"}));

  // -- alerts, experiments, sinks, store, actions, nodes -------------------
  xs.push_back(ev({"caflens", "alert", "fired"}, "An alert rule fired.",
                  {"system_time", "value", "threshold"},
                  {"alert", "metric", "severity"}));
  xs.push_back(ev({"caflens", "alert", "resolved"}, "An alert resolved.",
                  {"system_time", "value"}, {"alert", "metric"}));
  xs.push_back(ev({"caflens", "experiment", "started"},
                  "An experiment started.", at,
                  {"experiment", "condition", "tags"}));
  xs.push_back(ev({"caflens", "experiment", "stopped"},
                  "An experiment stopped.", {"system_time", "samples"},
                  {"experiment", "condition"}));
  xs.push_back(ev({"caflens", "sink", "export", "start"},
                  "A sink starts exporting a batch.",
                  {"system_time", "monotonic_time", "batch_size"},
                  {"sink", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "sink", "export", "stop"},
                  "A sink exported a batch.",
                  {"duration", "monotonic_time", "batch_size"},
                  {"sink", "result", "telemetry_span_context"}));
  xs.push_back(ev({"caflens", "sink", "export", "exception"},
                  "A sink failed to export a batch.", exc_ms,
                  with({"sink"}, span_exc_md)));
  xs.push_back(ev({"caflens", "sink", "dropped"},
                  "A sink dropped events (queue full or export failed).",
                  {"system_time", "count"}, {"sink", "reason"}));
  xs.push_back(ev({"caflens", "store", "write"},
                  "The store wrote a batch.",
                  {"system_time", "rows", "duration"}, {"table"}));
  xs.push_back(ev({"caflens", "store", "error"}, "A store operation failed.",
                  at, {"operation", "reason"}));
  // Remediation (caflens/actors/actions.hpp): every change of an action
  // record; `target` is its arguments (JSON), `reason` why it was proposed
  // or, when denied, rejected or failed, why not.
  for (auto [what, doc] : std::initializer_list<std::pair<const char*,
                                                          const char*>>{
         {"proposed", "An insight or a model proposed an allow-listed action "
                      "(approve mode: it waits for approval)."},
         {"approved", "An action was approved (by a human, or autonomous "
                      "mode) and runs."},
         {"rejected", "A proposed action was rejected by a human."},
         {"denied", "An action was refused: read-only, not registered, not "
                    "allow-listed or bad arguments."},
         {"executed", "An approved action ran (audited)."},
         {"failed", "An approved action ran and failed."}})
    xs.push_back(ev({"caflens", "action", what}, doc, at,
                    {"id", "action", "target", "trace_id", "by", "reason"}));
  // Distribution (caflens/actors/cluster.hpp), on the connecting side;
  // `accepted` on the agent's side.
  xs.push_back(ev({"caflens", "node", "connected"},
                  "A remote caflens node connected (handshake passed).", at,
                  {"node", "address"}));
  xs.push_back(ev({"caflens", "node", "disconnected"},
                  "A remote caflens node was lost (died, frozen: no "
                  "heartbeat, link closed).", at,
                  {"node", "address", "reason"}));
  xs.push_back(ev({"caflens", "node", "refused"},
                  "A handshake failed: protocol version, cluster token, TLS, "
                  "or nothing answered.", at,
                  {"address", "reason"}));
  xs.push_back(ev({"caflens", "node", "accepted"},
                  "This node's agent accepted a coordinator's handshake.",
                  at, {"node"}));
  return xs;
}

} // namespace

const std::vector<event_info>& catalogue() {
  // Never destroyed, like every function-local static in caflens that an
  // actor may use: a process that exits with its actor system still running
  // (leaked, or held by a static) runs static destructors under its actors.
  static const auto& instance = *new std::vector<event_info>(make_catalogue());
  return instance;
}

std::vector<event_name> event_names() {
  std::vector<event_name> result;
  for (auto& x : catalogue())
    result.push_back(x.name);
  return result;
}

std::vector<event_name> event_names(const event_name& prefix) {
  std::vector<event_name> result;
  for (auto& x : catalogue())
    if (x.name.starts_with(prefix))
      result.push_back(x.name);
  return result;
}

std::optional<event_info> info(const event_name& name) {
  auto& xs = catalogue();
  auto i = std::find_if(xs.begin(), xs.end(),
                        [&](auto& x) { return x.name == name; });
  if (i == xs.end())
    return std::nullopt;
  return *i;
}

} // namespace caflens::telemetry
