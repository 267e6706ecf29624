#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caf/actor_addr.hpp"
#include "caf/error.hpp"
#include "caf/fwd.hpp"
#include "caf/intrusive_ptr.hpp"

#include "caflens/skills/actor_stats.hpp"
#include "caflens/telemetry/clock.hpp"

namespace caflens::skills {

/// What a tracked actor says about itself when it registers.
struct tracking_info {
  /// Human name, e.g. "worker-7". Defaults to "<kind>-<id>".
  std::string name;
  /// Kind or type, e.g. "image_worker".
  std::string kind;
  /// Id of the supervising actor (0 = none).
  uint64_t parent = 0;
};

/// A copy of one process-table entry with its counters read at one moment.
struct actor_info {
  uint64_t id = 0;
  std::string name;
  std::string kind;
  std::string node;
  uint64_t parent = 0;
  int64_t spawned_at_ns = 0; // system clock
  uint64_t enqueued = 0;
  uint64_t processed = 0;
  uint64_t mailbox_depth = 0;
  bool in_handler = false;
  uint64_t mean_handler_ns = 0;
  uint64_t max_handler_ns = 0;
  uint64_t state_bytes = 0;
  /// Steady-clock ns when the table first saw the current handler run (set
  /// by snapshots; 0 when idle) — how long the actor has been busy with one
  /// message, at snapshot resolution.
  int64_t busy_since_ns = 0;
  /// Steady-clock ns of the last observed activity.
  int64_t last_activity_ns = 0;
  /// Steady-clock ns since which every inspection found the actor inside a
  /// handler, even when the run changed in between (0 when idle at the last
  /// look), and the handler runs started since then: an actor that is
  /// busy at every look but starts few runs spends its time in long
  /// handlers.
  int64_t busy_streak_since_ns = 0;
  uint64_t streak_runs = 0;
  /// Runs on its own thread (`caf::detached`).
  bool detached = false;
  /// Answers `get_state` with a view of its state.
  bool exposes_state = false;
  /// Responses the actor awaits (see `actor_stats::pending_responses`).
  uint64_t pending_responses = 0;
  /// Milliseconds the actor has been blocked in `request(...).await`
  /// (real time, exact: stamped when the await began); 0 when not.
  int64_t awaiting_ms = 0;
  /// Requests from tracked actors it holds unanswered (kept promises).
  uint64_t open_promises = 0;
  /// Whose requests those are: requester actor id and count.
  std::vector<std::pair<uint64_t, uint32_t>> promised_to;
  /// The actor's own normal, learned from looks at least 1 s apart (an
  /// exponentially weighted average): mailbox depth and messages handled
  /// per second, over `baseline_samples` looks spanning `baseline_age_ms`.
  /// A lens that was dormant has none yet (1 sample).
  double baseline_depth = 0;
  double baseline_rate = 0;
  uint32_t baseline_samples = 0;
  int64_t baseline_age_ms = 0;
  caf::actor_addr addr;
};

/// How to order `top`.
enum class actor_order { mailbox_depth, processed, handler_time, state_bytes };

/// Exit of a tracked actor, kept for the crashes skill.
struct exit_record {
  uint64_t id = 0;
  std::string name;
  std::string kind;
  std::string reason; // rendered; "normal" for clean exits
  /// A crash: see `is_crash`.
  bool abnormal = false;
  /// Stopped by its supervisor (a shutdown, a sibling's restart,
  /// `terminate_child`): never a crash, whatever the reason.
  bool terminated = false;
  int64_t at_ns = 0; // system clock
};

/// The one definition of a crash that every skill uses: an exit with an
/// error that is not a normal exit in OTP's sense (`normal`, `shutdown` /
/// `user_shutdown`, `{shutdown, _}`: see `supervision::is_normal_exit`).
/// A `kill` counts, unless the actor's supervisor sent it while stopping
/// the actor (`process_table::mark_terminated`).
bool is_crash(const caf::error& reason);

/// The table of live tracked actors: sharded by actor id, each shard behind
/// its own mutex, touched only when actors start, exit or are inspected —
/// never on the message path.
///
/// Thread-safe.
class process_table {
public:
  static constexpr size_t shard_count = 16;

  process_table();
  ~process_table();

  /// The process-wide table tracked actors register in by default.
  static process_table& global() noexcept;

  /// The clock of activity and busy times (steady by default; tests inject
  /// a `telemetry::manual_clock`). Not thread-safe against inspections.
  void clock(const telemetry::clock& c) noexcept;

  /// Now, by this table's clock.
  int64_t now_ns() const noexcept;

  // -- registration (called by tracked actors) -----------------------------

  caf::intrusive_ptr<actor_stats> add(uint64_t id, caf::actor_addr addr,
                                      tracking_info info, std::string node);

  /// Gives a tracked actor its supervised identity: sets `parent`, and
  /// `name` unless the actor was given an explicit one. False when `id` is
  /// not in the table.
  bool annotate(uint64_t id, const std::string& name, uint64_t parent);

  /// Registers an actor spawned without `spawn_tracked` (e.g. a supervised
  /// child) so it appears with name, kind and parent; its counters stay 0.
  void add_untracked(uint64_t id, caf::actor_addr addr, tracking_info info,
                     std::string node);

  /// Removes `id` and records its exit reason.
  void remove(uint64_t id, const caf::error& reason);

  /// Records that `id`'s supervisor stopped it: its exit (recorded already
  /// or still to come) is no crash.
  void mark_terminated(uint64_t id);

  // -- inspection ----------------------------------------------------------

  size_t size() const;

  /// One actor by id.
  std::optional<actor_info> find(uint64_t id) const;

  /// One actor by name (first match).
  std::optional<actor_info> find(const std::string& name) const;

  /// The live counters of `id`, or null when `id` is not in the table — for
  /// instruments that attach to one actor (the tracer).
  caf::intrusive_ptr<actor_stats> stats(uint64_t id) const;

  /// The `n` actors with the largest value of `order` (ties by id), read
  /// without pausing anyone: O(total) reads, O(n) copies.
  std::vector<actor_info> top(size_t n,
                              actor_order order = actor_order::mailbox_depth);

  /// Every actor (bounded by `limit`).
  std::vector<actor_info> all(size_t limit = SIZE_MAX);

  /// Calls `fn` for each live entry (under its shard's lock; keep it short).
  void for_each(const std::function<void(const actor_info&)>& fn);

  /// The last exits (newest last), at most `exit_history` of them.
  std::vector<exit_record> exits() const;

  /// How many exits are kept (default 1000).
  void exit_history(size_t n);

  /// Total messages waiting in tracked mailboxes.
  uint64_t total_mailbox_depth() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace caflens::skills
