#include "caflens/telemetry/sliding_window.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <new>
#include <thread>

namespace caflens::telemetry {


// -- windowed_sketch ----------------------------------------------------------

windowed_sketch::windowed_sketch(const sketch_options& sketch,
                                 const window_options& window,
                                 const clock& clk)
  : sketch_(sketch),
    window_(window),
    clock_(&clk),
    coarse_(&clk == &clock::coarse()),
    retired_(sketch.relative_accuracy) {
  if (window_.slots == 0)
    window_.slots = 1;
  if (window_.slot_width.count() <= 0)
    window_.slot_width = std::chrono::seconds{1};
  slots_.reserve(window_.slots);
  for (size_t i = 0; i < window_.slots; ++i)
    slots_.push_back(std::make_unique<slot>(sketch_));
  for (auto& b : buffers_)
    b.store(nullptr, std::memory_order_relaxed);
}

windowed_sketch::~windowed_sketch() {
  for (auto& b : buffers_)
    delete b.load(std::memory_order_acquire);
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

size_t windowed_sketch::index(int64_t epoch) const noexcept {
  auto n = static_cast<int64_t>(slots_.size());
  return static_cast<size_t>(((epoch % n) + n) % n);
}

void windowed_sketch::add_slow(double x, int writer, int64_t now) noexcept {
  if (std::isnan(x))
    return;
  if (writer >= detail::writer_slots) {
    add_direct(x, now); // a thread beyond the writer slots: no buffer
    return;
  }
  auto* b = buffers_[writer].load(std::memory_order_acquire);
  if (b == nullptr && (b = make_buffer(writer)) == nullptr) {
    add_direct(x, now); // out of memory
    return;
  }
  auto n = b->size.load(std::memory_order_relaxed);
  if (now >= b->end || now < b->start || n == buffer_capacity) {
    flush(*b, now);
    n = 0;
  }
  b->xs[n].store(x, std::memory_order_relaxed);
  b->size.store(n + 1, std::memory_order_release);
}

windowed_sketch::buffer* windowed_sketch::make_buffer(int writer) noexcept {
  // Only this writer stores into its entry: no race to lose.
  auto* b = new (std::nothrow) buffer;
  if (b != nullptr)
    buffers_[writer].store(b, std::memory_order_release);
  return b;
}

void windowed_sketch::flush(buffer& b, int64_t now) noexcept {
  auto n = b.size.load(std::memory_order_relaxed);
  double xs[buffer_capacity];
  for (uint32_t i = 0; i < n; ++i)
    xs[i] = b.xs[i].load(std::memory_order_relaxed);
  auto old_epoch = b.epoch.load(std::memory_order_relaxed);
  auto width = window_.slot_width.count();
  auto epoch = now / width;
  // Readers copying the buffer retry while `seq` is odd or has moved.
  auto seq = b.seq.load(std::memory_order_relaxed);
  b.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  b.size.store(0, std::memory_order_relaxed);
  b.epoch.store(epoch, std::memory_order_relaxed);
  b.seq.store(seq + 2, std::memory_order_release);
  b.start = epoch * width;
  b.end = b.start + width;
  if (n > 0)
    insert(old_epoch, xs, n);
}

void windowed_sketch::insert(int64_t epoch, const double* xs,
                             size_t n) noexcept {
  auto& s = *slots_[index(epoch)];
  if (s.epoch.load(std::memory_order_acquire) < epoch)
    rotate(s, epoch);
  if (s.epoch.load(std::memory_order_acquire) == epoch) {
    s.sketch.add_batch(xs, n);
    return;
  }
  // The slot moved on to a later epoch: these samples are older than the
  // ring and count in the total only.
  std::lock_guard<std::mutex> guard{mtx_};
  try {
    s.sketch.merge_samples_into(retired_, xs, n);
  } catch (...) {
    // Out of memory: the samples are lost.
  }
}

void windowed_sketch::add_direct(double x, int64_t now) noexcept {
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
  auto& s = *slots_[index(epoch)];
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

void windowed_sketch::read_buffers(ddsketch& out, int64_t after,
                                   int64_t upto) const {
  const auto& sketch = slots_.front()->sketch; // for its zero and clamping
  for (auto& ref : buffers_) {
    auto* b = ref.load(std::memory_order_acquire);
    if (b == nullptr)
      continue;
    double xs[buffer_capacity];
    uint32_t n = 0;
    int64_t epoch = -1;
    for (int attempt = 0;; ++attempt) {
      auto seq = b->seq.load(std::memory_order_acquire);
      if ((seq & 1) == 0) {
        epoch = b->epoch.load(std::memory_order_relaxed);
        n = std::min<uint32_t>(b->size.load(std::memory_order_acquire),
                               buffer_capacity);
        for (uint32_t i = 0; i < n; ++i)
          xs[i] = b->xs[i].load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (b->seq.load(std::memory_order_relaxed) == seq)
          break;
      }
      if (attempt > 64)
        std::this_thread::yield(); // the writer was descheduled mid-flush
    }
    if (n > 0 && epoch > after && epoch <= upto)
      sketch.merge_samples_into(out, xs, n);
  }
}

ddsketch windowed_sketch::window(std::chrono::nanoseconds span) const {
  auto width = window_.slot_width.count();
  auto k = std::max<int64_t>(1, (span.count() + width - 1) / width);
  k = std::min<int64_t>(k, static_cast<int64_t>(slots_.size()));
  auto now = epoch_now();
  ddsketch result{sketch_.relative_accuracy};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& s : slots_) {
      auto e = s->epoch.load(std::memory_order_acquire);
      if (e >= 0 && e > now - k && e <= now)
        s->sketch.merge_into(result);
    }
  }
  read_buffers(result, now - k, now);
  return result;
}

ddsketch windowed_sketch::total() const {
  ddsketch result{sketch_.relative_accuracy};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    result = retired_;
    for (auto& s : slots_)
      if (s->epoch.load(std::memory_order_acquire) >= 0)
        s->sketch.merge_into(result);
  }
  read_buffers(result, std::numeric_limits<int64_t>::min(),
               std::numeric_limits<int64_t>::max());
  return result;
}

size_t windowed_sketch::memory_bytes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = sizeof(*this) + retired_.memory_bytes();
  for (auto& s : slots_)
    n += sizeof(slot) + s->sketch.memory_bytes();
  for (auto& b : buffers_)
    if (b.load(std::memory_order_acquire) != nullptr)
      n += sizeof(buffer);
  return n;
}

} // namespace caflens::telemetry
