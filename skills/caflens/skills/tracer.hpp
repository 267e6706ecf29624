#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "caflens/skills/skill.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/clock.hpp"

namespace caflens::skills {

class process_table;

namespace detail {
class trace_session;
} // namespace detail

/// Hard limits of one trace. The defaults are the maxima (beamlens's
/// limits); a trace may be given lower ones, never higher: `start` clamps.
struct tracer_limits {
  static constexpr size_t hard_max_per_second = 5;
  static constexpr size_t hard_max_captures = 50;
  static constexpr std::chrono::seconds hard_max_duration{60};

  /// Captures in any window of one second.
  size_t max_per_second = hard_max_per_second;
  /// Captures in all; the trace stops when it has them.
  size_t max_captures = hard_max_captures;
  /// The trace stops this long after its start.
  std::chrono::nanoseconds max_duration = hard_max_duration;
  /// Longest rendering kept per capture (longer ones are cut).
  size_t max_rendering_bytes = 512;

  /// These limits within the hard maxima (and at least 1 of each).
  tracer_limits clamped() const noexcept;
};

/// One captured message.
struct trace_capture {
  /// 1 for the first capture of a trace.
  uint64_t index = 0;
  /// When the message was delivered, by the tracer's clock.
  int64_t delivered_ns = 0;
  /// Nanoseconds since the Unix epoch.
  int64_t system_time_ns = 0;
  /// Id and name of the sender (0 and "" for anonymous messages; the name
  /// only when the sender is in the process table).
  uint64_t sender = 0;
  std::string sender_name;
  /// `caf::to_string` of the message content, cut to `max_rendering_bytes`.
  std::string message;
  /// Time in the handler, by the tracer's clock.
  uint64_t handler_ns = 0;
  /// "consumed", "dropped" (no handler matched) or "exception".
  std::string result;
};

nlohmann::json to_json(const trace_capture& x);

/// The state of one trace.
struct trace_status {
  /// Random 128-bit id (the `trace_id` of the telemetry events).
  std::string id;
  uint64_t actor_id = 0;
  std::string actor;
  std::string pattern;
  bool running = false;
  /// Why it ended: "stopped" (on request), "capture_limit", "timeout",
  /// "actor_exited"; empty while running.
  std::string stop_reason;
  /// Messages delivered to the actor while the trace ran.
  uint64_t seen = 0;
  /// Messages whose rendering matched the pattern.
  uint64_t matched = 0;
  /// Messages not examined because the per-second limit was spent.
  uint64_t rate_limited = 0;
  uint64_t captured = 0;
  /// Longest handler time of the captures.
  uint64_t max_handler_ns = 0;
  /// Tracer clock.
  int64_t started_ns = 0;
  int64_t elapsed_ns = 0;
  tracer_limits limits;
};

nlohmann::json to_json(const trace_status& x);

/// Options of a tracer.
struct tracer_options {
  /// Limits of every trace (clamped to the hard maxima).
  tracer_limits limits;
  /// A captured handler run this long is reported by the tracer skill's
  /// detector (warning; critical from `blocked_handler_ms`).
  int64_t slow_handler_ms = 100;
  int64_t blocked_handler_ms = 1000;
};

/// Captures the messages delivered to one tracked actor whose rendering
/// (`caf::to_string` of the content) matches a pattern, with the time each
/// spends in the handler, under hard limits (≤ 5 captures per second, ≤ 50
/// in all, ≤ 60 s), then stops by itself. One trace at a time.
///
/// Patterns: the text to find anywhere in the rendering, where `*` stands
/// for any run of characters and `?` for one character; "" matches every
/// message. Case-sensitive, at most 256 characters.
///
/// Cost: an untraced actor pays one relaxed load per message. While a trace
/// runs, the traced actor renders and matches each message unless the
/// per-second limit is spent. A trace ends at its deadline; the end is
/// noticed by the actor's next message or by the next call of this class.
/// Emits `caflens.tracer.capture` per capture (in the actor's thread) and
/// `caflens.tracer.stopped` once per trace.
///
/// Thread-safe.
class tracer {
public:
  explicit tracer(process_table& table, tracer_options opts = {},
                  const telemetry::clock& clk = telemetry::clock::steady(),
                  telemetry::bus& bus = telemetry::bus::global());

  /// Stops a running trace.
  ~tracer();

  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  /// Starts tracing the tracked actor `actor_id`. Errors: `not_found` (not
  /// in the table), `invalid_argument` (registered but not tracked, or a
  /// bad pattern), `limit_reached` (a trace is running already, here or on
  /// that actor).
  caf::expected<trace_status>
  start(uint64_t actor_id, std::string pattern,
        std::optional<tracer_limits> limits = std::nullopt);

  /// As above for the tracked actor named `actor` (first match).
  caf::expected<trace_status>
  start(const std::string& actor, std::string pattern,
        std::optional<tracer_limits> limits = std::nullopt);

  /// Stops the running trace. Error: `not_found` when none runs.
  caf::expected<trace_status> stop();

  /// The running or else the last trace; nullopt before the first.
  std::optional<trace_status> status();

  /// The last `n` captures of the running or else the last trace, oldest
  /// first.
  std::vector<trace_capture>
  captures(size_t n = tracer_limits::hard_max_captures);

  bool running();

  const tracer_options& options() const noexcept { return opts_; }

  process_table& table() const noexcept { return table_; }

private:
  // Ends the current trace when its deadline passed or its actor exited.
  std::shared_ptr<detail::trace_session> poll();

  process_table& table_;
  tracer_options opts_;
  const telemetry::clock* clock_;
  telemetry::bus* bus_;
  std::mutex mtx_;
  std::shared_ptr<detail::trace_session> current_;
};

/// The tracer skill over `t`: snapshot of the running or last trace with its
/// recent captures; callbacks `trace_start(actor, pattern)`,
/// `trace_status()`, `trace_captures(n)`, `trace_stop()`; a finding when a
/// trace captured slow handler runs.
skill_ptr make_tracer_skill(std::shared_ptr<tracer> t);

/// A tracer skill with its own tracer over `table`.
skill_ptr make_tracer_skill(process_table& table, tracer_options opts = {});

} // namespace caflens::skills
