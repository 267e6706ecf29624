#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "caflens/telemetry/clock.hpp"
#include "caflens/telemetry/concurrent_sketch.hpp"

namespace caflens::telemetry {

/// How a windowed distribution slices time: `slots` slots of `slot_width`
/// each; windows up to `slots * slot_width` (default 15 minutes in 10 s
/// slots) are answered by merging slot sketches, never by rescanning samples.
struct window_options {
  std::chrono::nanoseconds slot_width = std::chrono::seconds{10};
  size_t slots = 90;
};

/// A distribution over sliding time windows ("the last 1, 5 or 15 minutes")
/// plus its all-time total. A window is exact to one slot: `window(span)`
/// covers the current slot and the `ceil(span / slot_width) - 1` before it.
///
/// Thread-safe. `add` is lock-free except once per slot width, when the
/// first sample of a new slot recycles the oldest one under a mutex.
///
/// Each writer thread (see `detail::writer_slot`) appends its samples to a
/// buffer of its own, tagged with the slot they belong to, and moves them
/// into the slot's sketch a batch at a time: when the buffer is full or its
/// slot's time is over. Readers count buffered samples too (without moving
/// them), so every query sees every sample added before it began; a query
/// racing a batch move may miss that batch, never count it twice.
class windowed_sketch {
public:
  /// Samples a writer buffers before moving them into the sketch.
  static constexpr size_t buffer_capacity = 64;

  windowed_sketch(const sketch_options& sketch = {},
                  const window_options& window = {},
                  const clock& clk = clock::coarse());

  ~windowed_sketch();

  windowed_sketch(const windowed_sketch&) = delete;
  windowed_sketch& operator=(const windowed_sketch&) = delete;

  /// Adds one sample (NaN is ignored). Inline: the common case appends to
  /// this thread's buffer.
  [[gnu::always_inline]] void add(double x) noexcept {
    auto writer = detail::writer_slot();
    auto now = coarse_ ? clock::coarse_now_ns() : clock_->now_ns();
    if (writer < detail::writer_slots) {
      auto* b = buffers_[writer].load(std::memory_order_acquire);
      if (b != nullptr) {
        auto n = b->size.load(std::memory_order_relaxed);
        if (now < b->end && now >= b->start && n < buffer_capacity
            && x == x) { // not NaN
          b->xs[n].store(x, std::memory_order_relaxed);
          b->size.store(n + 1, std::memory_order_release);
          return;
        }
      }
    }
    add_slow(x, writer, now);
  }

  /// Samples of the last `span` (clamped to the ring's length).
  ddsketch window(std::chrono::nanoseconds span) const;

  /// Every sample since construction.
  ddsketch total() const;

  const window_options& options() const noexcept {
    return window_;
  }

  size_t memory_bytes() const;

private:
  struct slot {
    explicit slot(const sketch_options& opts) : sketch(opts) {
    }
    std::atomic<int64_t> epoch{-1};
    concurrent_sketch sketch;
  };

  /// One writer's samples of one epoch (single writer; readers copy them
  /// under a sequence lock: `seq` is odd while the writer empties it).
  struct alignas(64) buffer {
    std::atomic<uint32_t> seq{0};
    std::atomic<uint32_t> size{0};
    std::atomic<int64_t> epoch{-1};
    int64_t start = 0; // the epoch's time range (writer only)
    int64_t end = 0;
    std::atomic<double> xs[buffer_capacity];
  };

  int64_t epoch_now() const noexcept;
  size_t index(int64_t epoch) const noexcept;
  void rotate(slot& s, int64_t epoch) noexcept;
  void add_slow(double x, int writer, int64_t now) noexcept;
  void add_direct(double x, int64_t now) noexcept;
  buffer* make_buffer(int writer) noexcept;
  void flush(buffer& b, int64_t now) noexcept;
  void insert(int64_t epoch, const double* xs, size_t n) noexcept;
  /// Adds the buffered samples of epochs in (`after`, `upto`] to `out`.
  void read_buffers(ddsketch& out, int64_t after, int64_t upto) const;

  sketch_options sketch_;
  window_options window_;
  const clock* clock_;
  bool coarse_; // clock_ is clock::coarse(): read it without a virtual call
  std::vector<std::unique_ptr<slot>> slots_;
  // The slot of the current epoch and its time range, so that `add` needs
  // no division until the epoch ends. Read without a lock; a reader that
  // races a rotation may put one sample into the neighbouring slot.
  std::atomic<slot*> current_{nullptr};
  std::atomic<int64_t> current_start_{0};
  std::atomic<int64_t> current_end_{0};
  std::atomic<buffer*> buffers_[detail::writer_slots];
  mutable std::mutex mtx_;
  ddsketch retired_; // samples of recycled slots (guarded by mtx_)
};

} // namespace caflens::telemetry
