#pragma once

#include <atomic>
#include <utility>
#include <vector>
#include <cstdint>
#include <memory>

namespace caflens::skills {

namespace detail {
class trace_session;
} // namespace detail

/// Per-actor counters of a tracked actor, shared by the actor and the process
/// table (intrusively reference-counted, so a reader never sees freed
/// memory).
///
/// Cost model (see BENCHMARKS.md): the actor updates its own counters with
/// plain single-writer stores; senders batch their enqueue counts per thread
/// (one shared atomic add per 32 messages to the same receiver), so there is
/// no contended write per message. Readers on any thread get values that are
/// at most a few messages stale.
///
/// Thread-safe: every field is atomic (except `trace_owner`, guarded by
/// `detail::trace_mutex()`); the single-writer fields are written only by the
/// actor's own thread.
class actor_stats {
public:
  // -- written by the actor itself ---------------------------------------

  /// Incremented at the start and at the end of every handler run: odd while
  /// the actor is inside a handler.
  std::atomic<uint64_t> consume_seq{0};
  /// Handler runs whose message stayed in the mailbox (skipped).
  std::atomic<uint64_t> skipped{0};
  /// Sum and count of sampled handler durations (1 in 64 runs).
  std::atomic<uint64_t> handler_ns_sum{0};
  std::atomic<uint64_t> handler_samples{0};
  std::atomic<uint64_t> handler_ns_max{0};
  /// Steady-clock ns of the start of the last sampled run.
  std::atomic<int64_t> last_sampled_ns{0};
  /// Approximate size of the actor's state in bytes, when it reports one.
  std::atomic<uint64_t> state_bytes{0};

  // -- tracing (tracer skill) ----------------------------------------------

  /// The trace attached to this actor, or null. The consume path pays one
  /// relaxed load of this pointer (on the cache line it writes anyway) while
  /// no trace is attached; the pointer is only a hint, `trace_owner` keeps
  /// the trace alive.
  std::atomic<detail::trace_session*> trace{nullptr};

  // -- written by senders (batched) ----------------------------------------

  alignas(64) std::atomic<uint64_t> enqueued{0};

  // -- lifecycle -------------------------------------------------------------

  std::atomic<bool> alive{true};

  /// False for actors registered with `process_table::add_untracked`:
  /// nothing counts or traces their messages. Set before publication.
  std::atomic<bool> instrumented{true};

  /// The actor exposes a JSON view of its state (`expose_state`).
  std::atomic<bool> exposes_state{false};

  /// The actor runs on a thread of its own (`caf::detached`): blocking in
  /// its handlers starves no scheduler thread.
  std::atomic<bool> detached{false};

  /// Responses this actor awaits (`request(...).then` / `.await`), as of
  /// its last handler run: a backlog of pending replies is a queue too.
  std::atomic<uint64_t> pending_responses{0};

  /// Steady-clock ns since the actor awaits a response with
  /// `request(...).await` (skipping every other message); 0 otherwise.
  /// Read once per transition, never per message.
  std::atomic<int64_t> awaiting_since_ns{0};

  /// Requests from tracked actors that a handler neither answered nor
  /// delegated (a response promise was kept), and responses the actor
  /// delivered later to tracked requesters: their difference is the
  /// requests it holds unanswered.
  std::atomic<uint64_t> promised{0};
  std::atomic<uint64_t> delivered_late{0};

  uint64_t open_promises() const noexcept {
    auto p = promised.load(std::memory_order_relaxed);
    auto d = delivered_late.load(std::memory_order_relaxed);
    return p > d ? p - d : 0;
  }

  /// Whose requests it holds (requester actor id, open count; at most 64
  /// requesters), so that an actor blocked in an await can be tied to the
  /// actor holding its request. Touched only when a promise is kept or
  /// delivered late.
  void note_promise(uint64_t requester, bool open) noexcept;

  /// The requesters with requests held open, with their counts.
  std::vector<std::pair<uint64_t, uint32_t>> promised_to() const;

  /// Guards `promised_to_`.
  mutable std::atomic_flag promised_lock_ = ATOMIC_FLAG_INIT;
  std::vector<std::pair<uint64_t, uint32_t>> promised_to_;

  /// Owner of `trace`; read and written only under `detail::trace_mutex()`.
  std::shared_ptr<detail::trace_session> trace_owner;

  // -- derived values ------------------------------------------------------

  uint64_t processed() const noexcept {
    return consume_seq.load(std::memory_order_relaxed) / 2
           - skipped.load(std::memory_order_relaxed);
  }

  bool in_handler() const noexcept {
    return (consume_seq.load(std::memory_order_relaxed) & 1) != 0;
  }

  /// Messages waiting in the mailbox (not counting one being handled), from
  /// the shared counter plus `pending` enqueues still batched in senders'
  /// threads (see `detail::pending_enqueue_counts`).
  uint64_t mailbox_depth(uint64_t pending = 0) const noexcept;

  /// Mean sampled handler time in ns (0 before the first sample).
  uint64_t mean_handler_ns() const noexcept {
    auto n = handler_samples.load(std::memory_order_relaxed);
    return n ? handler_ns_sum.load(std::memory_order_relaxed) / n : 0;
  }

  // -- reference counting --------------------------------------------------

  friend void intrusive_ptr_add_ref(actor_stats* p) noexcept {
    p->refs_.fetch_add(1, std::memory_order_relaxed);
  }

  friend void intrusive_ptr_release(actor_stats* p) noexcept {
    if (p->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete p;
  }

private:
  std::atomic<int> refs_{0};
};

namespace detail {

/// Enqueue counts batched per sending thread: a tiny cache of receivers.
/// Only the owning thread writes; observers read the fields (relaxed
/// atomics: on x86 the same plain moves as before).
struct pending_enqueues {
  std::atomic<actor_stats*> target; // holds a reference while set
  std::atomic<uint32_t> count;
};

struct enqueue_cache {
  static constexpr uint32_t batch_limit = 32;
  pending_enqueues slots[4];
  uint32_t next_victim;
  bool guarded; // the thread-exit release is registered
};

/// This thread's cache (trivially destructible, initial-exec, constinit: no
/// TLS wrapper call, one load).
extern __attribute__((tls_model("initial-exec"))) constinit thread_local
  enqueue_cache tl_enqueue_cache;

/// Takes a cache slot for `stats` (miss path).
void count_enqueue_miss(actor_stats* stats) noexcept;

/// Counts one enqueue to `stats` in this thread's batch; flushes to the
/// shared counter every 32 messages or when the slot is needed for another
/// receiver.
inline void count_enqueue(actor_stats* stats) noexcept {
  // Unrolled: four compares against TLS (the atomics would keep GCC from
  // unrolling on its own; the rolled loop costs fan-in throughput).
#pragma GCC unroll 4
  for (auto& s : tl_enqueue_cache.slots) {
    if (s.target.load(std::memory_order_relaxed) == stats) {
      auto n = s.count.load(std::memory_order_relaxed) + 1;
      if (n >= enqueue_cache::batch_limit) {
        stats->enqueued.fetch_add(n, std::memory_order_relaxed);
        n = 0;
      }
      s.count.store(n, std::memory_order_relaxed);
      return;
    }
  }
  count_enqueue_miss(stats);
}

/// Enqueues still batched in the caches of all sending threads, by
/// receiver: what an observer adds to `enqueued` so that a few messages
/// from a thread that went quiet still show in the mailbox depth. A moment's
/// view: a concurrent flush may count up to one batch twice.
class pending_counts {
public:
  /// The batched enqueues to `x`.
  uint64_t of(const actor_stats* x) const noexcept;

  std::vector<std::pair<const actor_stats*, uint64_t>> entries; // sorted
};

pending_counts pending_enqueue_counts();

/// The request a tracked actor is handling on this thread (set only while
/// a request from a tracked actor runs): responses and forwards seen during
/// it tell an answer and a delegation from a kept promise.
struct request_context {
  actor_stats* stats;
  const void* sender; // the requester's control block
  bool answered;
  bool delegated;
};

/// (constinit, initial-exec: no TLS wrapper call, as `tl_enqueue_cache`.)
extern __attribute__((tls_model("initial-exec"))) constinit thread_local
  request_context* tl_request;

/// A response from `sender` (a control block) was enqueued to a tracked
/// actor: counts an answer of the request in progress or a late delivery.
void count_response(const void* sender, uint64_t receiver) noexcept;

/// A request from `sender` was enqueued to a tracked actor: a forward of the
/// request in progress when its requester is the same.
inline void note_request(const void* sender) noexcept {
  if (auto* ctx = tl_request; ctx != nullptr && ctx->sender == sender)
    ctx->delegated = true;
}

/// True when the control block `x` belongs to a tracked actor.
bool is_tracked(const void* x) noexcept;

/// Steady-clock nanoseconds (handler timing, snapshot stamps).
int64_t steady_now_ns() noexcept;

/// Nanoseconds since the Unix epoch (spawn and exit records).
int64_t system_now_ns() noexcept;

/// Flushes this thread's pending enqueue counts (e.g. before a snapshot in
/// tests, or when a thread stops sending).
void flush_enqueue_counts() noexcept;

} // namespace detail

} // namespace caflens::skills
