#include "caflens/skills/actor_stats.hpp"

#include "caf/abstract_actor.hpp"
#include "caf/actor_control_block.hpp"

#include "caflens/skills/tracked.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

namespace caflens::skills {

void actor_stats::note_promise(uint64_t requester, bool open) noexcept {
  while (promised_lock_.test_and_set(std::memory_order_acquire))
    ; // held for a few instructions
  auto i = std::find_if(promised_to_.begin(), promised_to_.end(),
                        [&](auto& x) { return x.first == requester; });
  if (open) {
    if (i != promised_to_.end())
      ++i->second;
    else if (promised_to_.size() < 64)
      promised_to_.emplace_back(requester, 1);
  } else if (i != promised_to_.end() && --i->second == 0) {
    promised_to_.erase(i);
  }
  promised_lock_.clear(std::memory_order_release);
}

std::vector<std::pair<uint64_t, uint32_t>> actor_stats::promised_to() const {
  while (promised_lock_.test_and_set(std::memory_order_acquire))
    ;
  auto result = promised_to_;
  promised_lock_.clear(std::memory_order_release);
  return result;
}

uint64_t actor_stats::mailbox_depth(uint64_t pending) const noexcept {
  // Read processed first: enqueued only grows, so a concurrent enqueue can
  // only make the difference larger, never negative by itself.
  auto done = processed() + (in_handler() ? 1 : 0);
  auto in = enqueued.load(std::memory_order_relaxed) + pending;
  return in > done ? in - done : 0;
}

namespace detail {

__attribute__((tls_model("initial-exec"))) constinit thread_local enqueue_cache
  tl_enqueue_cache{};

__attribute__((tls_model("initial-exec"))) constinit thread_local
  request_context* tl_request = nullptr;

namespace {

tracked_base* tracked_of(const void* x) noexcept {
  if (x == nullptr)
    return nullptr;
  auto* ctrl = static_cast<caf::actor_control_block*>(const_cast<void*>(x));
  return dynamic_cast<tracked_base*>(ctrl->get());
}

} // namespace

bool is_tracked(const void* x) noexcept {
  return tracked_of(x) != nullptr;
}

void count_response(const void* sender, uint64_t receiver) noexcept {
  auto* t = tracked_of(sender);
  if (t == nullptr)
    return;
  auto* st = t->tracking_stats();
  if (auto* ctx = tl_request; ctx != nullptr && ctx->stats == st) {
    ctx->answered = true; // answered in the handler of the request
    return;
  }
  st->delivered_late.fetch_add(1, std::memory_order_relaxed);
  st->note_promise(receiver, false);
}

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void flush(pending_enqueues& s) noexcept {
  if (auto n = s.count.load(relaxed); n > 0)
    s.target.load(relaxed)->enqueued.fetch_add(n, relaxed);
  s.count.store(0, relaxed);
}

void clear(pending_enqueues& s) noexcept {
  if (auto* t = s.target.load(relaxed); t != nullptr) {
    flush(s);
    s.target.store(nullptr, relaxed);
    intrusive_ptr_release(t);
  }
}

// The caches of every thread that ever counted an enqueue, for observers.
std::mutex& registry_mutex() {
  static std::mutex mtx;
  return mtx;
}

std::vector<enqueue_cache*>& registry() {
  // Never destroyed: threads that exit after the static destructors began
  // (a process ending with its actor system running) still take their
  // cache out.
  static auto& xs = *new std::vector<enqueue_cache*>;
  return xs;
}

// Releases the cached references when the thread exits (registered on the
// miss path only) and takes the cache out of the registry.
struct exit_guard {
  ~exit_guard() {
    std::lock_guard<std::mutex> guard{registry_mutex()};
    auto& xs = registry();
    xs.erase(std::remove(xs.begin(), xs.end(), &tl_enqueue_cache), xs.end());
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
    std::lock_guard<std::mutex> lock{registry_mutex()};
    registry().push_back(&c);
  }
  auto& s = c.slots[c.next_victim];
  c.next_victim = (c.next_victim + 1) % 4;
  clear(s);
  intrusive_ptr_add_ref(stats);
  s.target.store(stats, relaxed);
  s.count.store(1, relaxed);
}

uint64_t pending_counts::of(const actor_stats* x) const noexcept {
  auto i = std::lower_bound(entries.begin(), entries.end(),
                            std::make_pair(x, uint64_t{0}));
  uint64_t n = 0;
  for (; i != entries.end() && i->first == x; ++i)
    n += i->second;
  return n;
}

pending_counts pending_enqueue_counts() {
  pending_counts result;
  {
    std::lock_guard<std::mutex> guard{registry_mutex()};
    for (auto* c : registry())
      for (auto& s : c->slots) {
        auto* t = s.target.load(relaxed);
        auto n = s.count.load(relaxed);
        if (t != nullptr && n > 0)
          result.entries.emplace_back(t, n);
      }
  }
  std::sort(result.entries.begin(), result.entries.end());
  return result;
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
    if (s.target.load(relaxed) != nullptr)
      flush(s);
}

} // namespace detail

} // namespace caflens::skills
