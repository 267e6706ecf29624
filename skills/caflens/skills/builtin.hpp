#pragma once

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "caflens/skills/skill.hpp"

namespace caflens::telemetry {
class metric_registry;
} // namespace caflens::telemetry

namespace caflens::skills {

class process_table;
class log_buffer;

/// Thresholds of the built-in detectors. Defaults suit a service handling
/// thousands of messages per second; every one can be tuned.
struct detector_thresholds {
  /// A mailbox this deep is a backlog (warning); 10x is critical.
  uint64_t mailbox_backlog = 1000;
  /// Minimum mailbox growth (msg/s) over history to call it growing.
  double mailbox_growth_per_s = 50;
  /// A deep mailbox that is not growing is this actor's normal when its
  /// baseline (looks at least 1 s apart) has this many samples over this
  /// long and the depth is within twice the baseline's.
  uint32_t baseline_min_samples = 5;
  int64_t baseline_min_age_ms = 30'000;
  /// Below `mailbox_backlog`, a mailbox from this depth that grows by half
  /// of itself at every look is a slow consumer in the making.
  uint64_t mailbox_trend_min_depth = 100;
  /// A backlog that does not grow is a problem only when a new message
  /// waits this long in it (depth over the handling rate); a deep queue
  /// that drains fast is a busy service's normal state.
  double mailbox_wait_ms = 1000;
  /// Responses one actor awaits that make a backlog of pending replies.
  uint64_t pending_replies_backlog = 500;
  /// Requests one actor holds unanswered (kept response promises) that make
  /// a backlog of pending replies on the answering side.
  uint64_t unanswered_requests_backlog = 100;
  /// Peers (same kind, same parent, at least three): an actor whose mailbox
  /// is `peer_ratio` times the peers' median (and 10 MADs above it) and at
  /// least `peer_min_depth` deep is an outlier; likewise its mean handler
  /// time from `peer_min_handler_us`.
  double peer_ratio = 10;
  double peer_min_depth = 50;
  double peer_min_handler_us = 1000;
  /// One handler run this long starves a scheduler thread.
  int64_t blocked_handler_ms = 1000;
  /// Two or more actors inside a handler at every look for this long, with
  /// runs of this length on average, hold scheduler threads for good.
  int64_t thread_hog_streak_ms = 1500;
  int64_t thread_hog_run_ms = 100;
  /// No progress for this long with messages waiting: unresponsive.
  int64_t unresponsive_ms = 2000;
  /// Abnormal exits of one kind within `crash_window_ms` that make a loop.
  size_t crash_loop_exits = 3;
  int64_t crash_window_ms = 60'000;
  /// How long a supervisor that reached its restart intensity and gave up
  /// stays a finding.
  int64_t give_up_window_ms = 600'000;
  /// Error log lines within `error_window_ms` that make a burst.
  size_t error_burst = 10;
  int64_t error_window_ms = 60'000;
  /// Growth of an actor's reported state (bytes/s) that looks like a leak.
  double state_growth_bytes_per_s = 64 * 1024;
  /// State must grow at every look over at least this long to be a leak (a
  /// buffer filled and released every second is not); shorter growth is a
  /// suspect with `recheck_ms`.
  int64_t state_growth_min_window_ms = 1500;
  /// Growth of an exposed state view (`get_state`) at every look: its JSON
  /// text in bytes/s, or one list or map in it in entries/s.
  double state_view_growth_bytes_per_s = 8 * 1024;
  double state_view_growth_items_per_s = 100;
  /// Recent p99 over baseline p99 that counts as a latency regression.
  double latency_regression_ratio = 2.0;
  /// Samples needed in the recent window for a latency verdict.
  uint64_t latency_min_samples = 50;
  /// The recent window the latency detector judges ...
  int64_t latency_recent_ms = 60'000;
  /// ... and the baseline it compares it with. A metric's window ring
  /// (`window_options`) must cover the baseline; a window is exact to one
  /// slot of that ring.
  int64_t latency_baseline_ms = 900'000;
};

/// Actors and mailboxes: counts, top-N by mailbox, processed, handler time;
/// growth over a window; busy and unresponsive actors; per-kind totals.
skill_ptr make_actors_skill(process_table& table,
                            detector_thresholds t = {});

/// The operating system view from /proc: CPU, load, threads, fds, memory.
skill_ptr make_os_skill(detector_thresholds t = {});

/// Memory: RSS, glibc heap (mallinfo2, malloc_info), fragmentation, growth,
/// per-actor state size where actors report it.
skill_ptr make_memory_skill(process_table& table, detector_thresholds t = {});

/// Scheduler: per-thread CPU busy share from /proc/self/task, queued
/// messages, starvation signs (handlers running for seconds).
skill_ptr make_scheduler_skill(process_table& table,
                               detector_thresholds t = {});

/// Crashes: exit reasons of tracked actors by kind with first/last seen and
/// counts; crash loops.
skill_ptr make_crashes_skill(process_table& table,
                             detector_thresholds t = {});

/// Logs: counts by level, recent errors, search, error bursts.
skill_ptr make_logs_skill(std::shared_ptr<log_buffer> logs,
                          detector_thresholds t = {});

/// Telemetry: metric windows and percentile regressions.
skill_ptr make_telemetry_skill(telemetry::metric_registry& metrics,
                               detector_thresholds t = {});

/// Supervision: trees, restarts per window, crash loops, intensity near its
/// limit. `trees` returns the JSON of every supervision tree to show.
skill_ptr make_supervision_skill(std::function<nlohmann::json()> trees,
                                 detector_thresholds t = {});

} // namespace caflens::skills
