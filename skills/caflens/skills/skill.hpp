#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "caflens/sandbox/callback.hpp"

namespace caflens::skills {

/// A named function of 0–2 JSON arguments that a skill offers to operators;
/// the sandbox exposes each as a Lua function.
struct callback {
  std::string name;
  /// One line, shown to the model, e.g. "actors_top(n, by) — top actors by
  /// mailbox depth, processed, handler_time or state_bytes".
  std::string doc;
  std::function<caf::expected<nlohmann::json>(
    const std::vector<nlohmann::json>& args)>
    fn;
  /// Time the callback needs by design (sampling over a window); budgets
  /// account for it instead of killing it.
  std::chrono::milliseconds declared_duration{0};
  /// The 0–2 parameters with their types, bounds and defaults: the sandbox
  /// validates every call against them in one place. Empty: the names
  /// between the parentheses of `doc`, accepting anything.
  std::vector<sandbox::param> params = {};
};

class skill;

/// `cb` as the sandbox runs it (parameters from `doc` when none are
/// declared).
sandbox::callback to_sandbox(const callback& cb);

/// Every callback of `sk` as the sandbox runs it.
std::vector<sandbox::callback> sandbox_callbacks(skill& sk);

enum class severity : uint8_t { info, warning, critical };

std::string_view to_string(severity x) noexcept;

/// What a detector found: the offline brain turns findings into
/// notifications.
struct finding {
  /// Stable id of the anomaly, e.g. "mailbox_growth", "blocked_handler".
  std::string type;
  severity level = severity::warning;
  /// The facts with the measured numbers ("worker-7 mailbox 48213, +900/s").
  std::string observation;
  /// Names of the actors involved (the culprits first).
  std::vector<std::string> actors;
  /// Machine-readable numbers behind the observation.
  nlohmann::json evidence = nlohmann::json::object();
};

nlohmann::json to_json(const finding& x);

/// Limits every skill honours.
struct skill_limits {
  /// Entries per list in a snapshot (top actors, recent errors, ...).
  size_t max_entries = 20;
  /// Upper bound of a snapshot's JSON text.
  size_t max_snapshot_bytes = 64 * 1024;
};

/// How an operator should look at a skill's area to let its detectors
/// judge: how many snapshots, how far apart. Growth detectors need at least
/// two looks (three tell a trend from a burst); views of recorded history
/// need one.
struct sample_plan {
  int looks = 2;
  std::chrono::milliseconds interval{400};
};

/// A type of finding a skill reports, and the failure pattern it points to
/// (an id of the rule brain's table, e.g. "slow_consumer", or a new one).
/// The rule brain correlates by these declarations.
struct finding_type {
  std::string type;
  std::string pattern;
  /// One line: what it means ("mailbox grows at every look").
  std::string description;
  /// A new pattern's readable root cause ("{culprits}" is replaced) and
  /// rank (lower wins; built-in root causes rank 10..95). Ignored when
  /// `pattern` is a built-in one.
  std::string root_cause = {};
  int rank = 90;
};

/// One field of a skill's snapshot, as the model is told about it: where it
/// is, its unit and what it means. Paths use `.` for a nested key and `[]`
/// for the entries of a list ("top[].mailbox"); `*` stands for keys that
/// are data (a map by actor kind: "kinds.*.count").
struct field_doc {
  std::string path;
  /// "messages", "msg/s", "ms", "us", "bytes", "count", "unix ms", ...;
  /// empty for names, flags and text.
  std::string unit;
  /// One short line.
  std::string meaning;
};

/// True when `doc` documents the concrete `path` of a snapshot ("kinds.*"
/// covers "kinds.worker"; "top[].x" covers only itself).
bool documents(std::string_view doc, std::string_view path) noexcept;

/// The paths of `snapshot` (objects' keys; the keys of a list's objects
/// under `list[]`), each once, for checking a glossary against a real look.
std::vector<std::string> field_paths(const nlohmann::json& snapshot);

/// What one look at a skill's area produced (`skill::observe`).
struct observation {
  /// The bounded snapshot.
  nlohmann::json data;
  /// The detectors' findings against the earlier looks.
  std::vector<finding> findings;
  /// Bytes of `data` as JSON text.
  size_t bytes = 0;
};

/// One area of the runtime an operator can inspect: a cheap bounded
/// snapshot, callbacks for digging deeper, and detectors for the offline
/// brain.
///
/// In the manner of spdlog's `base_sink`: the public `observe` is the one
/// way the engine looks — it times the look, emits the events, keeps this
/// skill's history, runs the detectors with exceptions contained and bounds
/// the output — and a subclass implements only `collect_` and `detect_`.
/// Adding a skill is one class (its name, prompt, callbacks, finding types
/// and keywords) and one line that registers it.
///
/// Implementations must be thread-safe: operators of different
/// investigations may use one skill at once.
class skill {
public:
  virtual ~skill();

  /// Short id ("actors"); unique in a registry.
  virtual std::string name() const = 0;

  /// Human title ("Actors and mailboxes").
  virtual std::string title() const = 0;

  /// One line the coordinator reads to choose operators.
  virtual std::string description() const = 0;

  /// The operator's system prompt for this skill.
  virtual std::string system_prompt() const = 0;

  /// Functions for the sandbox.
  virtual std::vector<callback> callbacks() = 0;

  /// How to sample this area (default: two looks 400 ms apart).
  virtual sample_plan plan() const {
    return {};
  }

  /// The finding types `detect_` reports and their patterns.
  virtual std::vector<finding_type> finding_types() const {
    return {};
  }

  /// What each field of the snapshot means and its unit: the glossary the
  /// operator's model is given with its task.
  virtual std::vector<field_doc> snapshot_fields() const {
    return {};
  }

  /// Words of an investigation's reason that make this skill worth asking
  /// (matched at the start of a word: "p9" matches "p95"; with a space,
  /// anywhere).
  virtual std::vector<std::string> keywords() const {
    return {};
  }

  // -- looking ----------------------------------------------------------------

  /// One look: `caflens.skill.snapshot.start/stop` (or `.exception` when
  /// collecting fails: then the error), the snapshot bounded to
  /// `max_snapshot_bytes`, the detectors run against this skill's earlier
  /// looks (at most 8, none older than 60 s; a detector that throws yields
  /// an info finding `detector_failed`), one `caflens.skill.finding` per
  /// finding; then the look joins the history.
  caf::expected<observation> observe(std::string_view trace_id = {});

  /// A bounded snapshot without history or events (polling, tests).
  nlohmann::json snapshot();

  /// The detectors on `current` given `history` (oldest first), exceptions
  /// contained.
  std::vector<finding> detect(const nlohmann::json& current,
                              const std::vector<nlohmann::json>& history);

  /// The looks `observe` remembers (oldest first).
  std::vector<nlohmann::json> history() const;

  const skill_limits& limits() const noexcept {
    return limits_;
  }

  void limits(const skill_limits& x) noexcept {
    limits_ = x;
  }

protected:
  /// A cheap, side-effect-free view of the area.
  virtual nlohmann::json collect_() = 0;

  /// Findings in `current` given earlier snapshots (oldest first).
  virtual std::vector<finding> detect_(
    const nlohmann::json& current, const std::vector<nlohmann::json>& history)
    = 0;

  skill_limits limits_;

private:
  mutable std::mutex history_mtx_;
  std::deque<nlohmann::json> history_;
};

using skill_ptr = std::shared_ptr<skill>;

/// Cuts `snapshot` down to `max_bytes`: arrays are shortened from the end
/// (and marked with "truncated": true) until the JSON text fits.
nlohmann::json bound_snapshot(nlohmann::json snapshot, size_t max_bytes);

/// A skill made of functions — the short way for application code to teach
/// caflens its domain (see apps/examples/custom_skill.cpp).
struct skill_definition {
  std::string name;
  std::string title;
  std::string description;
  std::string system_prompt;
  std::function<nlohmann::json()> snapshot;
  std::function<std::vector<finding>(const nlohmann::json&,
                                     const std::vector<nlohmann::json>&)>
    detect;
  std::vector<callback> callbacks;
  std::vector<finding_type> finding_types = {};
  std::vector<std::string> keywords = {};
  sample_plan plan = {};
  std::vector<field_doc> snapshot_fields = {};
};

skill_ptr make_skill(skill_definition def);

} // namespace caflens::skills
