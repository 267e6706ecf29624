#include "caflens/skills/actor_stats.hpp"

#include <algorithm>

namespace caflens::skills {

uint64_t actor_stats::mailbox_depth() const noexcept {
  // Read processed first: enqueued only grows, so a concurrent enqueue can
  // only make the difference larger, never negative by itself.
  auto done = processed() + (in_handler() ? 1 : 0);
  auto in = enqueued.load(std::memory_order_relaxed);
  return in > done ? in - done : 0;
}

namespace detail {

namespace {

constexpr uint32_t batch_limit = 32;
constexpr size_t cache_slots = 4;

struct pending_slot {
  actor_stats* target; // holds a reference while set
  uint32_t count;
};

// Trivially destructible and initial-exec: an access is a plain load off
// the thread pointer, no __tls_get_addr call and no init guard.
struct enqueue_cache {
  pending_slot slots[cache_slots];
  uint32_t next_victim;
  bool guarded; // the thread-exit release below is registered
};

__attribute__((tls_model("initial-exec"))) thread_local enqueue_cache cache;

void flush(pending_slot& s) noexcept {
  if (s.count > 0)
    s.target->enqueued.fetch_add(s.count, std::memory_order_relaxed);
  s.count = 0;
}

void clear(pending_slot& s) noexcept {
  if (s.target != nullptr) {
    flush(s);
    intrusive_ptr_release(s.target);
    s.target = nullptr;
  }
}

// Releases the cached references when the thread exits (registered on the
// slow path only).
struct exit_guard {
  ~exit_guard() {
    for (auto& s : cache.slots)
      clear(s);
  }
};

void ensure_exit_guard() noexcept {
  if (!cache.guarded) {
    thread_local exit_guard guard;
    cache.guarded = true;
  }
}

} // namespace

void count_enqueue(actor_stats* stats) noexcept {
  auto& c = cache;
  for (auto& s : c.slots) {
    if (s.target == stats) {
      if (++s.count >= batch_limit)
        flush(s);
      return;
    }
  }
  // Not cached: take over a slot (round robin), flushing its batch.
  ensure_exit_guard();
  auto& s = c.slots[c.next_victim];
  c.next_victim = (c.next_victim + 1) % cache_slots;
  clear(s);
  intrusive_ptr_add_ref(stats);
  s.target = stats;
  s.count = 1;
}

void flush_enqueue_counts() noexcept {
  for (auto& s : cache.slots)
    if (s.target != nullptr)
      flush(s);
}

} // namespace detail

} // namespace caflens::skills
