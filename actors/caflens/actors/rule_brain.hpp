#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/actors/config.hpp"
#include "caflens/actors/types.hpp"
#include "caflens/llm/brain.hpp"

namespace caflens {

/// A known failure pattern: which findings point to it and how it is told.
struct failure_pattern {
  /// Stable id carried in `insight::pattern`.
  std::string id;
  /// Notification types (detector finding types) that make it up.
  std::vector<std::string> anomaly_types;
  /// Lower ranks win when several patterns are present: a root cause
  /// (a blocked handler) outranks its symptoms (a growing mailbox).
  int rank = 100;
  /// Readable root cause; "{culprits}" is replaced by the culprit names.
  std::string root_cause;
};

/// The table the rule brain correlates with: slow_consumer, memory_leak,
/// crash_loop, scheduler_starvation, unresponsive, error_burst,
/// latency_regression (plus system-level resource patterns).
const std::vector<failure_pattern>& failure_patterns();

/// The data source behind a notification: `context.source` when the skill
/// named one, "process_table" for everything read from tracked actors'
/// counters (whichever skill read them), else the skill. An insight is
/// grounded only when its notifications come from two sources.
std::string evidence_source(const notification& n);

/// `failure_patterns()` with what registered skills declared: their finding
/// types joined to the built-in patterns they name, and their own patterns.
/// By rank. What the coordinator's prompt lists.
std::vector<failure_pattern> known_patterns();

/// The pattern of a notification type, or nullptr.
const failure_pattern* pattern_for(const std::string& anomaly_type);

/// Correlates notifications into `produce_insight` arguments (JSON objects
/// ready for the coordinator's tool), best first: grouped by pattern,
/// culprits ordered by severity, grounded when several skills agree, a
/// lower-ranked insight sharing a culprit with a higher one marked
/// symptomatic. With several `nodes` (the investigation's, besides those of
/// the notes) culprits are named "actor@node", a pattern seen on several
/// nodes is one cluster-wide insight naming them, one on a single node
/// names it, and errors or latencies on one node that name the culprit of
/// another are linked to it as symptoms.
std::vector<nlohmann::json>
correlate(const std::vector<notification>& notes,
          const std::vector<std::string>& nodes = {});

/// Teaches the rule brain a skill's declared finding types (each joins its
/// pattern; a pattern the table does not know becomes one of its own) and
/// its routing keywords. Every lens registers its skills; a later
/// registration of a skill name replaces its keywords. Thread-safe.
void register_skill(const skills::skill& sk);

/// The skills every rule-brain investigation runs, whatever its reason:
/// actors, crashes, supervision, memory.
const std::vector<std::string>& core_skills();

/// Picks the skills of an investigation: the core set, plus those the words
/// of `reason` point to (a latency, a backlog, a crash, errors, ...), or
/// every available skill when no word is known. Only available skills are
/// returned.
std::vector<std::string> route_skills(const std::string& reason,
                                      const std::vector<std::string>& available);

/// The offline brain: operators snapshot, wait, snapshot again, turn the
/// detectors' findings into notifications and finish; the coordinator
/// invokes the relevant operators, waits for them, correlates their
/// notifications with `failure_patterns()` and finishes. Deterministic.
std::unique_ptr<llm::brain> make_rule_brain(const brain_request& req,
                                            const rule_brain_options& opts);

} // namespace caflens
