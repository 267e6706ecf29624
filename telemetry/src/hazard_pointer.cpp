#include "caflens/telemetry/detail/hazard_pointer.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

namespace caflens::telemetry::detail {

namespace {

long membarrier(int cmd) {
  return syscall(__NR_membarrier, cmd, 0, 0);
}

// Registers for expedited private membarriers once; true when available.
bool init_asymmetric_fence() {
  auto supported = membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
    return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

const bool use_membarrier = init_asymmetric_fence();

// The reclaimer's side of the fence: afterwards every reader's hazard
// store that precedes its re-check is visible here.
void heavy_fence() {
  if (!use_membarrier
      || membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

struct domain {
  std::atomic<hazard_record*> head{nullptr};
  std::mutex retired_mtx;
  std::vector<std::pair<void*, void (*)(void*)>> retired;
};

domain& dom() noexcept {
  static auto* instance = new domain; // never destroyed: threads may outlive
  return *instance;                   // static destruction
}

hazard_record* acquire_record() {
  auto& d = dom();
  for (auto* r = d.head.load(std::memory_order_acquire); r != nullptr;
       r = r->next) {
    bool expected = false;
    if (!r->active.load(std::memory_order_relaxed)
        && r->active.compare_exchange_strong(expected, true))
      return r;
  }
  auto* r = new hazard_record;
  r->active.store(true, std::memory_order_relaxed);
  for (auto& s : r->slots)
    s.store(nullptr, std::memory_order_relaxed);
  auto* old = d.head.load(std::memory_order_relaxed);
  do {
    r->next = old;
  } while (!d.head.compare_exchange_weak(old, r, std::memory_order_release,
                                         std::memory_order_relaxed));
  return r;
}

struct record_owner {
  hazard_record* rec = acquire_record();
  ~record_owner() {
    for (auto& s : rec->slots)
      s.store(nullptr, std::memory_order_release);
    rec->depth = 0;
    tl_hazard_record = nullptr;
    rec->active.store(false, std::memory_order_release);
  }
};

using retired_list = std::vector<std::pair<void*, void (*)(void*)>>;

// Moves unprotected entries out of the retired list; the caller frees them
// after releasing the lock (a deleter may retire more objects).
retired_list collect_locked(domain& d) {
  if (d.retired.empty())
    return {};
  heavy_fence();
  std::vector<const void*> protected_ptrs;
  for (auto* r = d.head.load(std::memory_order_acquire); r != nullptr;
       r = r->next)
    for (auto& s : r->slots)
      if (auto* p = s.load(std::memory_order_seq_cst))
        protected_ptrs.push_back(p);
  std::sort(protected_ptrs.begin(), protected_ptrs.end());
  auto keep = std::partition(
    d.retired.begin(), d.retired.end(), [&](const auto& entry) {
      return std::binary_search(protected_ptrs.begin(), protected_ptrs.end(),
                                static_cast<const void*>(entry.first));
    });
  retired_list to_free(keep, d.retired.end());
  d.retired.erase(keep, d.retired.end());
  return to_free;
}

void free_all(retired_list& xs) {
  for (auto& [ptr, deleter] : xs)
    deleter(ptr);
}

} // namespace

const bool use_asymmetric_fence = use_membarrier;

constinit __attribute__((tls_model("initial-exec"))) thread_local
  hazard_record* tl_hazard_record = nullptr;

hazard_record& claim_hazard_record() noexcept {
  thread_local record_owner owner;
  tl_hazard_record = owner.rec;
  return *owner.rec;
}

void retire(void* ptr, void (*deleter)(void*)) {
  auto& d = dom();
  retired_list to_free;
  {
    std::lock_guard<std::mutex> guard{d.retired_mtx};
    d.retired.emplace_back(ptr, deleter);
    to_free = collect_locked(d);
  }
  free_all(to_free);
}

void reclaim() {
  auto& d = dom();
  retired_list to_free;
  {
    std::lock_guard<std::mutex> guard{d.retired_mtx};
    to_free = collect_locked(d);
  }
  free_all(to_free);
}

size_t retired_count() {
  auto& d = dom();
  std::lock_guard<std::mutex> guard{d.retired_mtx};
  return d.retired.size();
}

} // namespace caflens::telemetry::detail
