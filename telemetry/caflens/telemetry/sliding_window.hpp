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
class windowed_sketch {
public:
  windowed_sketch(const sketch_options& sketch = {},
                  const window_options& window = {},
                  const clock& clk = clock::coarse());

  void add(double x) noexcept;

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

  int64_t epoch_now() const noexcept;
  void rotate(slot& s, int64_t epoch) noexcept;

  sketch_options sketch_;
  window_options window_;
  const clock* clock_;
  std::vector<std::unique_ptr<slot>> slots_;
  // The slot of the current epoch and its time range, so that `add` needs
  // no division until the epoch ends. Read without a lock; a reader that
  // races a rotation may put one sample into the neighbouring slot.
  std::atomic<slot*> current_{nullptr};
  std::atomic<int64_t> current_start_{0};
  std::atomic<int64_t> current_end_{0};
  mutable std::mutex mtx_;
  ddsketch retired_; // samples of recycled slots (guarded by mtx_)
};

} // namespace caflens::telemetry
