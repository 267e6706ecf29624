#include "caflens/telemetry/concurrent_sketch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <new>

namespace caflens::telemetry {

namespace {

constexpr uint64_t no_shift = ~uint64_t{0}; // a NaN pattern; never a sample

void atomic_min(std::atomic<double>& target, double x) noexcept {
  auto cur = target.load(std::memory_order_relaxed);
  while (x < cur
         && !target.compare_exchange_weak(cur, x, std::memory_order_relaxed))
    ; // retry
}

void atomic_max(std::atomic<double>& target, double x) noexcept {
  auto cur = target.load(std::memory_order_relaxed);
  while (x > cur
         && !target.compare_exchange_weak(cur, x, std::memory_order_relaxed))
    ; // retry
}

} // namespace

concurrent_sketch::concurrent_sketch(const sketch_options& opts)
  : opts_(opts), mapping_(opts.relative_accuracy) {
  opts_.min_value = std::max(opts_.min_value, mapping_.min_indexable());
  opts_.max_value = std::max(opts_.max_value, opts_.min_value);
  key_min_ = mapping_.key(opts_.min_value);
  key_max_ = mapping_.key(opts_.max_value);
  auto keys = static_cast<size_t>(key_max_ - key_min_) + 1;
  chunks_ = (keys + chunk_size - 1) / chunk_size;
  positive_.reset(new std::atomic<chunk*>[chunks_]);
  negative_.reset(new std::atomic<chunk*>[chunks_]);
  for (size_t i = 0; i < chunks_; ++i) {
    positive_[i].store(nullptr, std::memory_order_relaxed);
    negative_[i].store(nullptr, std::memory_order_relaxed);
  }
  shift_bits_.store(no_shift, std::memory_order_relaxed);
  min_.store(std::numeric_limits<double>::infinity());
  max_.store(-std::numeric_limits<double>::infinity());
}

concurrent_sketch::~concurrent_sketch() {
  for (size_t i = 0; i < chunks_; ++i) {
    delete positive_[i].load();
    delete negative_[i].load();
  }
}

std::atomic<uint64_t>* concurrent_sketch::counter(bool negative,
                                                  int32_t key) noexcept {
  key = std::clamp(key, key_min_, key_max_);
  auto index = static_cast<size_t>(key - key_min_);
  auto& slot = (negative ? negative_ : positive_)[index / chunk_size];
  auto* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    auto* fresh = new (std::nothrow) chunk();
    if (fresh == nullptr)
      return nullptr;
    if (slot.compare_exchange_strong(c, fresh, std::memory_order_acq_rel))
      c = fresh;
    else
      delete fresh; // another thread won; c holds its chunk
  }
  return &c->counts[index % chunk_size];
}

void concurrent_sketch::add(double x) noexcept {
  if (std::isnan(x))
    return;
  x = std::clamp(x, std::numeric_limits<double>::lowest(),
                 std::numeric_limits<double>::max());
  auto mag = std::fabs(x);
  if (mag < opts_.min_value) {
    zeros_.fetch_add(1, std::memory_order_relaxed);
  } else {
    auto* c = counter(x < 0, mapping_.key(mag));
    if (c == nullptr)
      return; // out of memory: drop the sample
    c->fetch_add(1, std::memory_order_relaxed);
  }
  auto bits = shift_bits_.load(std::memory_order_relaxed);
  if (bits == no_shift) {
    auto mine = std::bit_cast<uint64_t>(x);
    if (shift_bits_.compare_exchange_strong(bits, mine,
                                            std::memory_order_relaxed))
      bits = mine;
  }
  auto d = x - std::bit_cast<double>(bits);
  sum_d_.fetch_add(d, std::memory_order_relaxed);
  sum_d2_.fetch_add(d * d, std::memory_order_relaxed);
  if (x < min_.load(std::memory_order_relaxed))
    atomic_min(min_, x);
  if (x > max_.load(std::memory_order_relaxed))
    atomic_max(max_, x);
}

void concurrent_sketch::merge_into(ddsketch& out) const {
  uint64_t n = zeros_.load(std::memory_order_relaxed);
  out.add_zeros(n);
  for (int side = 0; side < 2; ++side) {
    auto& chunks = side == 0 ? positive_ : negative_;
    for (size_t i = 0; i < chunks_; ++i) {
      auto* c = chunks[i].load(std::memory_order_acquire);
      if (c == nullptr)
        continue;
      for (size_t j = 0; j < chunk_size; ++j) {
        auto k = c->counts[j].load(std::memory_order_relaxed);
        if (k == 0)
          continue;
        auto key = key_min_ + static_cast<int32_t>(i * chunk_size + j);
        out.add_bucket(side == 1, key, k);
        n += k;
      }
    }
  }
  if (n == 0)
    return;
  auto bits = shift_bits_.load(std::memory_order_relaxed);
  auto shift = bits == no_shift ? 0.0 : std::bit_cast<double>(bits);
  auto nd = static_cast<double>(n);
  auto s1 = sum_d_.load(std::memory_order_relaxed);
  auto s2 = sum_d2_.load(std::memory_order_relaxed);
  auto mean = shift + s1 / nd;
  auto m2 = std::max(0.0, s2 - s1 * s1 / nd);
  out.mutable_stats().add_summary(n, shift * nd + s1, mean, m2,
                                  min_.load(std::memory_order_relaxed),
                                  max_.load(std::memory_order_relaxed));
}

ddsketch concurrent_sketch::snapshot() const {
  ddsketch result{opts_.relative_accuracy};
  merge_into(result);
  return result;
}

void concurrent_sketch::reset() noexcept {
  for (int side = 0; side < 2; ++side) {
    auto& chunks = side == 0 ? positive_ : negative_;
    for (size_t i = 0; i < chunks_; ++i)
      if (auto* c = chunks[i].load(std::memory_order_acquire))
        for (auto& k : c->counts)
          k.store(0, std::memory_order_relaxed);
  }
  zeros_.store(0, std::memory_order_relaxed);
  shift_bits_.store(no_shift, std::memory_order_relaxed);
  sum_d_.store(0, std::memory_order_relaxed);
  sum_d2_.store(0, std::memory_order_relaxed);
  min_.store(std::numeric_limits<double>::infinity());
  max_.store(-std::numeric_limits<double>::infinity());
}

uint64_t concurrent_sketch::count() const noexcept {
  uint64_t n = zeros_.load(std::memory_order_relaxed);
  for (int side = 0; side < 2; ++side) {
    auto& chunks = side == 0 ? positive_ : negative_;
    for (size_t i = 0; i < chunks_; ++i)
      if (auto* c = chunks[i].load(std::memory_order_acquire))
        for (auto& k : c->counts)
          n += k.load(std::memory_order_relaxed);
  }
  return n;
}

size_t concurrent_sketch::memory_bytes() const noexcept {
  size_t n = sizeof(*this) + 2 * chunks_ * sizeof(std::atomic<chunk*>);
  for (size_t i = 0; i < chunks_; ++i) {
    n += positive_[i].load() ? sizeof(chunk) : 0;
    n += negative_[i].load() ? sizeof(chunk) : 0;
  }
  return n;
}

} // namespace caflens::telemetry
