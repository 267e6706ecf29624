#include "caflens/telemetry/sliding_window.hpp"

#include <algorithm>
#include <ctime>

namespace caflens::telemetry {


// -- windowed_sketch ----------------------------------------------------------

windowed_sketch::windowed_sketch(const sketch_options& sketch,
                                 const window_options& window,
                                 const clock& clk)
  : sketch_(sketch),
    window_(window),
    clock_(&clk),
    retired_(sketch.relative_accuracy) {
  if (window_.slots == 0)
    window_.slots = 1;
  if (window_.slot_width.count() <= 0)
    window_.slot_width = std::chrono::seconds{1};
  slots_.reserve(window_.slots);
  for (size_t i = 0; i < window_.slots; ++i)
    slots_.push_back(std::make_unique<slot>(sketch_));
}

int64_t windowed_sketch::epoch_now() const noexcept {
  return clock_->now_ns() / window_.slot_width.count();
}

void windowed_sketch::rotate(slot& s, int64_t epoch) noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  if (s.epoch.load(std::memory_order_acquire) >= epoch)
    return; // another thread rotated it first
  try {
    s.sketch.merge_into(retired_);
  } catch (...) {
    // Out of memory: the recycled slot's samples leave the total.
  }
  s.sketch.reset();
  s.epoch.store(epoch, std::memory_order_release);
}

void windowed_sketch::add(double x) noexcept {
  auto now = clock_->now_ns();
  // Fast path: still inside the cached epoch.
  if (now < current_end_.load(std::memory_order_acquire)
      && now >= current_start_.load(std::memory_order_relaxed)) {
    if (auto* s = current_.load(std::memory_order_relaxed)) {
      s->sketch.add(x);
      return;
    }
  }
  auto width = window_.slot_width.count();
  auto epoch = now / width;
  auto& s = *slots_[static_cast<size_t>(epoch) % slots_.size()];
  if (s.epoch.load(std::memory_order_acquire) < epoch)
    rotate(s, epoch);
  if (s.epoch.load(std::memory_order_acquire) == epoch) {
    // Publish the cache: end last, so the fast path never pairs a new
    // range with an old slot for long.
    current_end_.store(0, std::memory_order_release);
    current_.store(&s, std::memory_order_relaxed);
    current_start_.store(epoch * width, std::memory_order_relaxed);
    current_end_.store((epoch + 1) * width, std::memory_order_release);
  }
  s.sketch.add(x);
}

ddsketch windowed_sketch::window(std::chrono::nanoseconds span) const {
  auto width = window_.slot_width.count();
  auto k = std::max<int64_t>(1, (span.count() + width - 1) / width);
  k = std::min<int64_t>(k, static_cast<int64_t>(slots_.size()));
  auto now = epoch_now();
  ddsketch result{sketch_.relative_accuracy};
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& s : slots_) {
    auto e = s->epoch.load(std::memory_order_acquire);
    if (e >= 0 && e > now - k && e <= now)
      s->sketch.merge_into(result);
  }
  return result;
}

ddsketch windowed_sketch::total() const {
  std::lock_guard<std::mutex> guard{mtx_};
  ddsketch result = retired_;
  for (auto& s : slots_)
    if (s->epoch.load(std::memory_order_acquire) >= 0)
      s->sketch.merge_into(result);
  return result;
}

size_t windowed_sketch::memory_bytes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = sizeof(*this) + retired_.memory_bytes();
  for (auto& s : slots_)
    n += sizeof(slot) + s->sketch.memory_bytes();
  return n;
}

} // namespace caflens::telemetry
