#include "caflens/skills/actor_stats.hpp"

#include <algorithm>
#include <chrono>

namespace caflens::skills {

uint64_t actor_stats::mailbox_depth() const noexcept {
  // Read processed first: enqueued only grows, so a concurrent enqueue can
  // only make the difference larger, never negative by itself.
  auto done = processed() + (in_handler() ? 1 : 0);
  auto in = enqueued.load(std::memory_order_relaxed);
  return in > done ? in - done : 0;
}

namespace detail {

__attribute__((tls_model("initial-exec"))) constinit thread_local enqueue_cache
  tl_enqueue_cache{};

namespace {

void flush(pending_enqueues& s) noexcept {
  if (s.count > 0)
    s.target->enqueued.fetch_add(s.count, std::memory_order_relaxed);
  s.count = 0;
}

void clear(pending_enqueues& s) noexcept {
  if (s.target != nullptr) {
    flush(s);
    intrusive_ptr_release(s.target);
    s.target = nullptr;
  }
}

// Releases the cached references when the thread exits (registered on the
// miss path only).
struct exit_guard {
  ~exit_guard() {
    for (auto& s : tl_enqueue_cache.slots)
      clear(s);
  }
};

} // namespace

void count_enqueue_miss(actor_stats* stats) noexcept {
  auto& c = tl_enqueue_cache;
  if (!c.guarded) {
    thread_local exit_guard guard;
    c.guarded = true;
  }
  auto& s = c.slots[c.next_victim];
  c.next_victim = (c.next_victim + 1) % 4;
  clear(s);
  intrusive_ptr_add_ref(stats);
  s.target = stats;
  s.count = 1;
}

int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

int64_t system_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void flush_enqueue_counts() noexcept {
  for (auto& s : tl_enqueue_cache.slots)
    if (s.target != nullptr)
      flush(s);
}

} // namespace detail

} // namespace caflens::skills
