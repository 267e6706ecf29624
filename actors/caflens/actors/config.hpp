#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/error.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/actions.hpp"
#include "caflens/actors/cluster.hpp"
#include "caflens/llm/brain.hpp"
#include "caflens/llm/llm_brain.hpp"
#include "caflens/sandbox/limits.hpp"
#include "caflens/skills/anomaly.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/skill.hpp"
#include "caflens/sinks/alerts.hpp"
#include "caflens/sinks/otlp.hpp"
#include "caflens/sinks/prometheus.hpp"
#include "caflens/sinks/sink.hpp"
#include "caflens/sinks/statsd_sink.hpp"
#include "caflens/store/store.hpp"

namespace caflens::llm {
class client_registry;
} // namespace caflens::llm

namespace caflens::skills {
class log_buffer;
class process_table;
} // namespace caflens::skills

namespace caflens::telemetry {
class metric_registry;
} // namespace caflens::telemetry

namespace caflens {

/// Who asks for a brain: the coordinator or the operator of `skill`.
struct brain_request {
  /// "coordinator" or "operator".
  std::string role;
  /// The operator's skill (empty for the coordinator).
  std::string skill;
  std::string trace_id;
  /// The investigation's reason.
  std::string reason;
  /// Structured context of the trigger (its name, the options' context:
  /// alert fields, metric, actor) that may help pick skills.
  std::string hints;
  /// The loop's iteration limit (a brain plans within it).
  int32_t max_iterations = 0;
  /// The investigation's model failed: make the offline brain.
  bool offline = false;
};

/// Makes one brain per loop. Returning nullptr falls back to the rule brain.
using brain_factory
  = std::function<std::unique_ptr<llm::brain>(const brain_request&)>;

/// Settings of the offline brain.
struct rule_brain_options {
  /// Operators take a second snapshot this long after the first, so that
  /// detectors can measure growth (mailboxes, state, memory). 0: one snapshot.
  std::chrono::milliseconds sample_interval{400};
  /// The coordinator waits this long per `wait` for its operators (it wakes
  /// as soon as they are all done).
  std::chrono::milliseconds operator_wait{10'000};
  /// A finding with `evidence.recheck_ms` (a suspect below its threshold)
  /// makes the operator look again then, up to this much extra time.
  std::chrono::milliseconds max_recheck{3'000};
};

/// Everything `caflens::start` needs. Filled from code, then overridden by
/// the `caflens` section of CAF's config (see `add_config_options`), then
/// by environment variables (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`,
/// `CAFLENS_LLM_BASE_URL`, `CAFLENS_LLM_PROVIDER`, `CAFLENS_LLM_MODEL`,
/// `CAFLENS_BRAIN`).
struct config {
  /// Tags notifications and snapshots (default: the host name).
  std::string node_name;
  /// Gives the lens threads of its own: its supervisors, the coordinator
  /// and every operator run detached instead of on the application's
  /// scheduler. CAF lets an actor whose mailbox never empties keep its
  /// thread (`caf.scheduler.max-throughput` is unlimited by default), so
  /// an application can starve everything else on the scheduler, the lens
  /// included; isolated, the lens still investigates then. Costs three
  /// idle threads while dormant (plus the coordinator's) and one per
  /// running operator. `[caflens] isolated`, `CAFLENS_ISOLATED=1`.
  bool isolated = false;

  // -- what the operators can see ---------------------------------------------

  /// Register the built-in skills (actors, memory, os, scheduler, crashes,
  /// logs, telemetry, supervision, anomaly).
  bool builtin_skills = true;
  /// More skills (replace a built-in of the same name).
  std::vector<skills::skill_ptr> skills;
  skills::detector_thresholds thresholds;
  /// Entries per list and bytes per snapshot of the built-in skills.
  skills::skill_limits skill_limits;
  /// The process table to inspect (default: the global one).
  skills::process_table* processes = nullptr;
  /// The log ring buffer behind the logs skill (default: a new one; see
  /// `lens::logs()`).
  std::shared_ptr<skills::log_buffer> logs;
  /// The application's metrics behind the telemetry skill (default: a new,
  /// empty registry; see `lens::metrics()`).
  std::shared_ptr<telemetry::metric_registry> metrics;
  /// Supervisors whose trees the supervision skill shows (the lens's own
  /// tree is always included).
  std::vector<caf::actor> supervisors;

  // -- brains -----------------------------------------------------------------

  /// Explicit brains (tests, replay). Takes precedence over `llm`.
  brain_factory brain;
  /// A configured LLM; null and no provider in the environment: rule brain.
  std::shared_ptr<llm::client_registry> llm;
  llm::llm_brain_config llm_brain;
  rule_brain_options rule;
  /// Token / cost limits shared by all loops of one investigation (LLM
  /// only); when one is spent (or the deadline nears) the LLM brain asks
  /// for the final answer instead of more tool calls.
  /// Default: a million tokens, a cap against a runaway loop (a typical
  /// investigation spends 100 000 to 200 000; see BENCHMARKS.md).
  std::optional<int64_t> max_tokens = 1'000'000;
  std::optional<double> max_cost_usd;
  /// What is redacted besides the built-in rules (API keys, bearer tokens,
  /// password/secret/token values): keys, patterns and literals of your
  /// own. Applied to what the environment-configured client sends, and to
  /// every line of the log buffer as it arrives. From code, the
  /// `[caflens]` keys redact-keys and redact-patterns (lists), and the
  /// environment (CAFLENS_REDACT_KEYS, comma-separated; CAFLENS_REDACT_PATTERN,
  /// one regular expression).
  llm::redaction_config redaction;
  /// When a model-backed brain fails (provider down, quota, invalid tool
  /// calls beyond the re-asks, budget spent), its loop goes on with the
  /// rule brain and so does the rest of the investigation: the result is
  /// partial and names the failure, but keeps every finding. False: the
  /// loop stops and hands in what it has.
  bool llm_fallback = true;

  // -- remediation --------------------------------------------------------------

  /// Read-only by default: no action is offered to a brain and none runs.
  /// Actions exist only when registered here (`actions::restart_child`,
  /// ... or your own) and run only when allow-listed; `mode` approve lets
  /// insights propose them for `lens::approve_action`, autonomous runs them
  /// at once. `[caflens]` action-mode and action-allow (and
  /// CAFLENS_ACTION_MODE, CAFLENS_ACTION_ALLOW, comma-separated) may set the
  /// mode and the allow-list; registering stays with the code.
  action_settings actions;

  // -- distribution -------------------------------------------------------------

  /// Other nodes (caflens/actors/cluster.hpp): listen for coordinators,
  /// connect to peers. `[caflens]` listen ("host:port"; port 0: any),
  /// peers (list of "host:port"), cluster-tls, heartbeat-interval-ms,
  /// heartbeat-timeout-ms; the environment CAFLENS_LISTEN, CAFLENS_PEERS
  /// (comma-separated) and CAFLENS_CLUSTER_TOKEN (the token, never logged).
  cluster_config cluster;

  // -- telemetry out ------------------------------------------------------------

  /// Where caflens's events and metrics go (caflens/sinks): each sink and
  /// exporter is an actor under the lens's `telemetry_sup` (one_for_one; a
  /// crashed sink restarts and reopens its destination).
  struct telemetry_out {
    /// Sinks made by these factories: `sinks::file_sink_factory`,
    /// `sinks::statsd_sink_factory` or your own.
    std::vector<sinks::sink_factory> sinks;
    /// Serve the metrics registry (`metrics`) for Prometheus scrapes.
    std::optional<sinks::prometheus_options> prometheus;
    /// Send metrics to StatsD: `statsd->metrics`, or when empty the
    /// registry's definitions as the lens starts.
    std::optional<sinks::statsd_options> statsd;
    /// OTLP/HTTP (JSON): the registry's metrics every interval to
    /// <endpoint>/v1/metrics, investigations as traces to /v1/traces.
    std::optional<sinks::otlp_options> otlp;
    /// Push the registry to a Pushgateway every interval.
    std::optional<sinks::pushgateway_options> pushgateway;
    /// When any exporter is configured, the registry also gets caflens's
    /// own metrics (`actors::caflens_metrics()`).
    bool builtin_metrics = true;
  };

  /// `[caflens]` events-file (JSONL), log-file (text lines), csv-file,
  /// statsd ("host:port": the registry's metrics), prometheus-listen
  /// ("host:port"; port 0: any), pushgateway (URL), otlp-endpoint (URL;
  /// also OTEL_EXPORTER_OTLP_ENDPOINT, CAFLENS_OTLP_ENDPOINT); the environment
  /// CAFLENS_PROMETHEUS_LISTEN, CAFLENS_PROMETHEUS_TOKEN (a bearer token,
  /// required off loopback), CAFLENS_STATSD, CAFLENS_EVENTS_FILE.
  telemetry_out telemetry;

  /// Alert rules over the metrics registry (caflens/sinks/alerts.hpp),
  /// evaluated every `interval` by an actor under `telemetry_sup`. A rule
  /// that fires emits `caflens.alert.fired`, posts to every webhook and,
  /// with `investigate`, starts an investigation whose reason names the
  /// alert and carries its value, threshold and series (rate-limited like
  /// every automatic trigger), and calls the application's `handlers`.
  /// `[caflens]` alert-webhook (a URL).
  struct alert_settings {
    std::vector<sinks::alert_rule> rules;
    std::chrono::milliseconds interval{1000};
    std::vector<sinks::webhook_options> webhooks;
    bool investigate = true;
    /// The application's own handlers: every state change (fired and
    /// resolved), on the evaluator's thread; they must not block.
    std::vector<sinks::alert_handler> handlers;
  };
  alert_settings alerts;

  /// Persist investigations (results, insights, notifications, snapshots,
  /// timelines, the calls of every loop and, with `llm_exchanges = full`,
  /// the HTTP exchanges with the model) in SQLite
  /// (caflens/store/store.hpp); query them with `lens::history` and
  /// `lens::stored`. Snapshots, decisions and exchanges are redacted with
  /// `redaction` first. Its writer is a sink under `telemetry_sup`: an
  /// investigation never waits for it. `[caflens]` store (the file) and
  /// store-llm-exchanges (none, decisions, full), CAFLENS_STORE and
  /// CAFLENS_STORE_LLM_EXCHANGES.
  std::optional<store::store_options> store;

  // -- loops --------------------------------------------------------------------

  int32_t max_iterations = 25;
  int32_t operator_max_iterations = 25;
  std::chrono::milliseconds deadline{300'000};
  /// Investigations waiting behind the running one.
  size_t max_queue = 16;
  /// Restarts of one crashed operator within an investigation; after that
  /// the operator is given up and the investigation goes on without it.
  int32_t operator_max_restarts = 1;
  sandbox::limits sandbox;
  /// Tool results longer than this are cut (with a note) before they reach
  /// the brain.
  size_t max_tool_result_bytes = 16 * 1024;

  // -- always-on ----------------------------------------------------------------

  /// Periodic checks (0: off).
  std::chrono::milliseconds check_interval{0};
  std::string check_reason = "periodic health check";
  /// Feed the anomaly detector every `anomaly_interval` and investigate when
  /// it triggers.
  bool anomaly_trigger = false;
  std::chrono::milliseconds anomaly_interval{10'000};
  skills::anomaly_options anomaly;
  /// Automatic triggers (anomaly, alert, follow-ups) are rate-limited: at
  /// least this long apart ... (periodic checks are not: they run at their
  /// interval, skipped while an investigation runs)
  std::chrono::milliseconds min_trigger_interval{60'000};
  /// ... and at most this many per hour.
  size_t max_triggers_per_hour = 6;

  /// Checks every value; the error names the key and the bad value.
  caf::error validate() const;
};

/// caflens's own metrics, added to the lens's registry when telemetry goes
/// out: investigations (count by partial, duration in ns), notifications,
/// insights, LLM tokens and cost by provider and model, supervisor
/// restarts, and sink drops by sink and reason.
std::vector<telemetry::metric_definition> caflens_metrics();

/// Declares the `caflens.*` options (config file section `[caflens]`, or
/// `--caflens.max-iterations=...` on the command line): every key of the
/// README's configuration reference (engine and budgets, brains and
/// models, triggers, telemetry out, store, cluster). Call before parsing.
void add_config_options(caf::actor_system_config& cfg);

/// Announces every caflens message type (engine, supervision) and error
/// category with `cfg` — the project-wide type list. Call before the actor
/// system is created on every node that talks to a lens.
void add_message_types(caf::actor_system_config& cfg);

} // namespace caflens
