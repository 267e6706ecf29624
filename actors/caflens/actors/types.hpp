// The data an investigation produces. Every type is a plain value with an
// `inspect` overload (serializable between CAF nodes once announced by
// `caflens::add_message_types`) and a JSON form (`to_json` / `from_json`).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"
#include "caf/meta/type_name.hpp"

#include "caflens/skills/skill.hpp"

namespace caflens {

namespace detail {

/// CAF 0.17 writes a double by halving it until it is below 2, which never
/// ends for an infinity (caf/detail/ieee_754.hpp, `pack754`): a message
/// holding one would hang the thread that sends it to another node (found
/// by the node_message fuzzer). Before a caflens double is written, an
/// infinity becomes the largest finite value of its sign.
template <class Inspector>
void finite_on_the_wire(Inspector&, double& x) noexcept {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value)
    if (std::isinf(x))
      x = std::copysign(std::numeric_limits<double>::max(), x);
}

} // namespace detail

/// info < warning < critical (shared with the skills' findings).
using skills::severity;

/// Parses "info", "warning", "critical"; false for anything else.
bool parse_severity(std::string_view x, severity& out);

/// An operator's view of its area.
enum class operator_state : uint8_t { healthy, observing, warning, critical };

std::string_view to_string(operator_state x) noexcept;
bool parse_operator_state(std::string_view x, operator_state& out);

/// How the notifications of an insight relate.
enum class correlation : uint8_t {
  /// They happened together.
  temporal,
  /// One explains the other (a known failure pattern).
  causal,
  /// A symptom of another insight's root cause.
  symptomatic,
};

std::string_view to_string(correlation x) noexcept;
bool parse_correlation(std::string_view x, correlation& out);

/// What an operator reports: facts (`context`, `observation`) kept apart
/// from guesses (`hypothesis`), backed by at least one snapshot.
struct notification {
  std::string id;
  std::string skill;
  /// The anomaly's stable id ("mailbox_growth", "crash_loop", ...).
  std::string anomaly_type;
  caflens::severity severity = severity::warning;
  /// Measured facts as a JSON object text.
  std::string context = "{}";
  /// What was seen, with the numbers.
  std::string observation;
  /// A guess at the cause; empty when the operator makes none.
  std::string hypothesis;
  std::vector<std::string> snapshot_ids;
  /// Names of the actors involved, culprits first.
  std::vector<std::string> actors;
  /// Unix time in milliseconds.
  int64_t detected_at = 0;
  std::string node;
  std::string trace_id;
  /// unread, acknowledged or resolved (the coordinator's bookkeeping).
  std::string status = "unread";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notification& x) {
  return f(caf::meta::type_name("caflens::notification"), x.id, x.skill,
           x.anomaly_type, x.severity, x.context, x.observation, x.hypothesis,
           x.snapshot_ids, x.actors, x.detected_at, x.node, x.trace_id,
           x.status);
}

/// The coordinator's conclusion: a failure pattern, its culprits and the
/// evidence (the notifications) behind it.
/// A culprit a user can act on: what it is, its name, and where to find it.
struct culprit {
  /// actor, supervisor, metric_series, log_source, node or unknown.
  std::string kind = "unknown";
  std::string name;
  /// The actor id (actor, supervisor) when it is alive and tracked; 0
  /// otherwise.
  uint64_t id = 0;
  std::string node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, culprit& x) {
  return f(caf::meta::type_name("caflens::culprit"), x.kind, x.name, x.id,
           x.node);
}

struct insight {
  std::string id;
  /// Stable id of the failure pattern ("slow_consumer", "memory_leak", ...).
  std::string pattern;
  std::vector<std::string> notification_ids;
  caflens::correlation correlation = correlation::temporal;
  std::string summary;
  std::vector<std::string> matched_observations;
  /// True only when independent operators corroborate it.
  bool grounded = false;
  std::string root_cause;
  /// low, medium or high.
  std::string confidence = "medium";
  /// Actor names (or ids) to blame, most likely first.
  std::vector<std::string> culprits;
  /// The same culprits, typed (same order).
  std::vector<culprit> culprit_details;
  caflens::severity severity = severity::warning;
  int64_t created_at = 0;
  std::string trace_id;
  /// The nodes its evidence came from (several: a cluster-wide insight).
  std::vector<std::string> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, insight& x) {
  return f(caf::meta::type_name("caflens::insight"), x.id, x.pattern,
           x.notification_ids, x.correlation, x.summary,
           x.matched_observations, x.grounded, x.root_cause, x.confidence,
           x.culprits, x.culprit_details, x.severity, x.created_at,
           x.trace_id, x.nodes);
}

/// One bounded view of a skill's area at one moment.
struct snapshot {
  std::string id;
  std::string skill;
  /// Unix time in milliseconds.
  int64_t captured_at = 0;
  /// The skill's snapshot as JSON text.
  std::string data;
  std::string node;
  std::string trace_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot& x) {
  return f(caf::meta::type_name("caflens::snapshot"), x.id, x.skill,
           x.captured_at, x.data, x.node, x.trace_id);
}

/// How one operator's run ended.
struct operator_result {
  std::string skill;
  std::string node;
  operator_state state = operator_state::healthy;
  /// The operator's closing words (`done`), or why it stopped.
  std::string summary;
  std::vector<std::string> notification_ids;
  std::vector<std::string> snapshot_ids;
  int32_t iterations = 0;
  /// Why the loop stopped: done, max_iterations, deadline, cancelled,
  /// llm_error, crashed.
  std::string stop_reason;
  /// Set when the operator failed (LLM error, crash).
  std::string error;
  int32_t restarts = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  /// Model calls of this loop and the retries within them.
  int64_t llm_calls = 0;
  int64_t llm_retries = 0;
  /// The run's own time on its node (start to result), in microseconds.
  int64_t duration_us = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_result& x) {
  detail::finite_on_the_wire(f, x.cost_usd);
  return f(caf::meta::type_name("caflens::operator_result"), x.skill, x.node,
           x.state, x.summary, x.notification_ids, x.snapshot_ids,
           x.iterations, x.stop_reason, x.error, x.restarts, x.input_tokens,
           x.output_tokens, x.cost_usd, x.llm_calls, x.llm_retries,
           x.duration_us);
}

/// Where an action stands.
enum class action_status : uint8_t {
  /// Waits for approval.
  proposed,
  /// Approved; running.
  approved,
  /// A human said no.
  rejected,
  /// Refused: not registered, not allow-listed, bad arguments, or actions
  /// are read-only.
  denied,
  /// Ran; `result` holds what it returned.
  executed,
  /// Ran and failed; `result` holds the error.
  failed,
};

std::string to_string(action_status x);

/// One action's audit record: one per action, updated in place as it is
/// proposed, approved or rejected, run (what subscribers receive at every
/// change; each change is also a `caflens.action.*` event).
struct action_record {
  /// "a-1", unique within the lens.
  std::string id;
  std::string action;
  /// The arguments (JSON text).
  std::string args;
  action_status status = action_status::proposed;
  /// Why it was proposed (the insight's summary or the model's words).
  std::string reason;
  std::string trace_id;
  std::string insight_id;
  /// Who proposed it (the brain: "rule", "llm", ...).
  std::string by;
  /// Who approved or rejected it (an approver's name, "autonomous"); empty
  /// while proposed.
  std::string approved_by;
  /// The action's result (JSON text) or the error / refusal text.
  std::string result;
  /// Unix milliseconds of the last change.
  int64_t at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action_record& x) {
  return f(caf::meta::type_name("caflens::action_record"), x.id, x.action,
           x.args, x.status, x.reason, x.trace_id, x.insight_id, x.by,
           x.approved_by, x.result, x.at);
}

nlohmann::json to_json(const action_record& x);

/// Everything one investigation produced.
struct investigation_result {
  std::string trace_id;
  std::string reason;
  /// manual, alert, schedule, anomaly, threshold, follow_up.
  std::string trigger;
  /// Ordered: the most severe, most likely root cause first.
  std::vector<insight> insights;
  std::vector<notification> notifications;
  std::vector<operator_result> operators;
  /// The coordinator's closing summary.
  std::string summary;
  /// True when the investigation stopped early (deadline, cancel, max
  /// iterations, a crashed or failed operator).
  bool partial = false;
  std::vector<std::string> errors;
  int32_t iterations = 0;
  /// Over every loop (coordinator and operators).
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  int64_t llm_calls = 0;
  int64_t llm_retries = 0;
  /// Unix milliseconds.
  int64_t started_at = 0;
  int64_t finished_at = 0;
  /// rule, scripted or llm.
  std::string brain;
  std::string node;
  /// Actions the insights proposed (or ran, autonomous), as they stood when
  /// the investigation ended; `lens::actions()` has their later fate.
  std::vector<action_record> actions;

  /// The first insight of at least `min` severity, or nullptr.
  const insight* top(severity min = severity::info) const noexcept;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        investigation_result& x) {
  detail::finite_on_the_wire(f, x.cost_usd);
  return f(caf::meta::type_name("caflens::investigation_result"), x.trace_id,
           x.reason, x.trigger, x.insights, x.notifications, x.operators,
           x.summary, x.partial, x.errors, x.iterations, x.input_tokens,
           x.output_tokens, x.cost_usd, x.llm_calls, x.llm_retries,
           x.started_at, x.finished_at, x.brain, x.node, x.actions);
}

/// Per-investigation options; unset fields take the lens configuration's
/// values. All of them are honoured.
struct investigate_options {
  /// Restrict the operators to these skills (empty: the coordinator picks).
  std::vector<std::string> skills;
  /// Coordinator iterations (0: config default, 25).
  int32_t max_iterations = 0;
  /// Iterations of each operator (0: config default, 25).
  int32_t operator_max_iterations = 0;
  /// Whole investigation (0: config default, 300 000 ms).
  int64_t deadline_ms = 0;
  /// What started it: manual, alert, schedule, anomaly, threshold.
  std::string trigger = "manual";
  /// Extra facts for the coordinator and operators (JSON object text).
  std::string context;
  /// Wait behind a running investigation (true) or fail with `busy`.
  bool queue = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, investigate_options& x) {
  return f(caf::meta::type_name("caflens::investigate_options"), x.skills,
           x.max_iterations, x.operator_max_iterations, x.deadline_ms,
           x.trigger, x.context, x.queue);
}

// -- JSON ---------------------------------------------------------------------

nlohmann::json to_json(const notification& x);
nlohmann::json to_json(const culprit& x);
nlohmann::json to_json(const insight& x);
nlohmann::json to_json(const snapshot& x);
nlohmann::json to_json(const operator_result& x);
nlohmann::json to_json(const investigation_result& x);

/// Inverses of `to_json`; missing keys keep their defaults, values of the
/// wrong type fail with `invalid_request`.
caf::expected<notification> notification_from_json(const nlohmann::json& x);
caf::expected<insight> insight_from_json(const nlohmann::json& x);
caf::expected<investigation_result>
investigation_result_from_json(const nlohmann::json& x);

/// What happened to one of the lens's operators (`lens::subscribe`).
enum class operator_event : uint8_t {
  /// It crashed; its supervisor restarts it (`restarts` < `max_restarts`).
  crashed,
  /// The crashed operator is back and goes on with its task.
  restarted,
  /// It crashed once too often: the investigation goes on without it.
  given_up,
};

std::string to_string(operator_event x);

/// A report to the subscribers of a lens: one operator's crash, restart or
/// give-up, with the investigation it worked for.
struct operator_report {
  operator_event event = operator_event::crashed;
  std::string skill;
  std::string node;
  std::string trace_id;
  /// The exit reason of the crash (empty for `restarted`).
  std::string reason;
  /// Crashes of this operator in this investigation so far.
  int32_t crashes = 0;
  /// Restarts the lens allows per operator (`config.operator_max_restarts`).
  int32_t max_restarts = 0;
  /// Unix milliseconds.
  int64_t at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_report& x) {
  return f(caf::meta::type_name("caflens::operator_report"), x.event,
           x.skill, x.node, x.trace_id, x.reason, x.crashes, x.max_restarts,
           x.at);
}

/// A readable multi-line report (the demo's output).
std::string render_report(const investigation_result& x);

} // namespace caflens
