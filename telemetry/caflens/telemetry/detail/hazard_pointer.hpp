// Hazard pointers: lock-free, wait-free-read protection of copy-on-write
// tables. Readers publish the pointer they use in a per-thread slot; writers
// (under their own mutex) swap in a new version and retire the old one, which
// is deleted once no slot holds it (Michael, 2004).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace caflens::telemetry::detail {

/// Nesting depth of guards per thread (handlers may emit events).
inline constexpr size_t hazard_slots_per_thread = 8;

struct hazard_record {
  std::atomic<const void*> slots[hazard_slots_per_thread];
  std::atomic<bool> active{false};
  hazard_record* next = nullptr;
  size_t depth = 0; // owner thread only
};

/// This thread's record once claimed (initial-exec TLS: one load).
extern constinit __attribute__((tls_model("initial-exec"))) thread_local
  hazard_record* tl_hazard_record;

/// Claims a record for this thread (first use) and arranges its release
/// when the thread exits.
hazard_record& claim_hazard_record() noexcept;

/// Returns this thread's record (registered on first use, released when the
/// thread exits). Records are never freed; they are reused by later threads.
inline hazard_record& local_hazard_record() noexcept {
  if (auto* r = tl_hazard_record)
    return *r;
  return claim_hazard_record();
}

/// True when the process uses Linux's `membarrier` for an asymmetric fence:
/// readers then publish hazards with a plain store and a compiler barrier,
/// and the rare reclaimer pays for a process-wide barrier instead. Falls
/// back to sequentially consistent stores where `membarrier` is missing.
extern const bool use_asymmetric_fence;

inline bool asymmetric_fence() noexcept {
  return use_asymmetric_fence;
}

/// The reader side of the fence (a full fence without membarrier).
inline void light_fence() noexcept {
  if (asymmetric_fence())
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// Schedules `deleter(ptr)` for when no hazard slot points to `ptr`. Scans
/// all slots and frees whatever retired pointers are no longer protected.
/// Thread-safe; not for the hot path.
void retire(void* ptr, void (*deleter)(void*));

/// Frees retired pointers that are no longer protected. Thread-safe.
void reclaim();

/// Number of retired pointers still waiting (for tests).
size_t retired_count();

/// Protects the pointer loaded from `src` for the guard's lifetime.
/// `get()` is nullptr if `src` holds nullptr or if the thread's nesting
/// depth is exhausted (then `overflow()` is true).
template <class T>
class hazard_guard {
public:
  explicit hazard_guard(const std::atomic<T*>& src) noexcept
    : rec_(local_hazard_record()) {
    if (rec_.depth >= hazard_slots_per_thread) {
      overflow_ = true;
      return;
    }
    slot_ = &rec_.slots[rec_.depth++];
    T* p = src.load(std::memory_order_acquire);
    while (true) {
      slot_->store(p, std::memory_order_relaxed);
      light_fence();
      T* q = src.load(std::memory_order_acquire);
      if (p == q)
        break;
      p = q;
    }
    ptr_ = p;
  }

  ~hazard_guard() {
    if (slot_ != nullptr) {
      slot_->store(nullptr, std::memory_order_release);
      --rec_.depth;
    }
  }

  hazard_guard(const hazard_guard&) = delete;
  hazard_guard& operator=(const hazard_guard&) = delete;

  T* get() const noexcept {
    return ptr_;
  }

  T* operator->() const noexcept {
    return ptr_;
  }

  bool overflow() const noexcept {
    return overflow_;
  }

private:
  hazard_record& rec_;
  std::atomic<const void*>* slot_ = nullptr;
  T* ptr_ = nullptr;
  bool overflow_ = false;
};

/// Publishes `next` in `dst` and retires the previous value. Call with the
/// writer's mutex held.
template <class T>
void publish(std::atomic<T*>& dst, T* next) {
  T* prev = dst.exchange(next, std::memory_order_acq_rel);
  if (prev != nullptr)
    retire(prev, [](void* p) { delete static_cast<T*>(p); });
}

} // namespace caflens::telemetry::detail
