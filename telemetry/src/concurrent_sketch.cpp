#include "caflens/telemetry/concurrent_sketch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <new>

namespace caflens::telemetry {

// -- writer slots -------------------------------------------------------------

namespace detail {

namespace {

std::atomic<bool> slot_taken[writer_slots];

// 0 = not yet claimed, slot + 1 when claimed, -1 when none was free.
// Trivially destructible and initial-exec: reading it is one load.
__attribute__((tls_model("initial-exec"))) thread_local int my_slot = 0;

struct slot_release {
  ~slot_release() {
    if (my_slot > 0)
      slot_taken[my_slot - 1].store(false, std::memory_order_release);
    my_slot = -1; // no further claims from a dying thread
  }
};

int claim() noexcept {
  for (int i = 0; i < writer_slots; ++i) {
    bool expected = false;
    if (!slot_taken[i].load(std::memory_order_relaxed)
        && slot_taken[i].compare_exchange_strong(expected, true,
                                                 std::memory_order_acq_rel)) {
      my_slot = i + 1;
      thread_local slot_release release;
      return i;
    }
  }
  my_slot = -1;
  return writer_slots;
}

} // namespace

int writer_slot() noexcept {
  auto s = my_slot;
  if (s > 0)
    return s - 1;
  if (s < 0)
    return writer_slots;
  return claim();
}

} // namespace detail

// -- shards -------------------------------------------------------------------

namespace {

constexpr uint64_t no_shift = ~uint64_t{0}; // a NaN pattern; never a sample

// Single-writer updates: no lock prefix.
inline void owner_add(std::atomic<uint64_t>& x, uint64_t n) noexcept {
  x.store(x.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline void owner_add(std::atomic<double>& x, double d) noexcept {
  x.store(x.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

void shared_min(std::atomic<double>& target, double x) noexcept {
  auto cur = target.load(std::memory_order_relaxed);
  while (x < cur
         && !target.compare_exchange_weak(cur, x, std::memory_order_relaxed))
    ; // retry
}

void shared_max(std::atomic<double>& target, double x) noexcept {
  auto cur = target.load(std::memory_order_relaxed);
  while (x > cur
         && !target.compare_exchange_weak(cur, x, std::memory_order_relaxed))
    ; // retry
}

} // namespace

struct concurrent_sketch::shard {
  explicit shard(size_t chunks)
    : positive(new std::atomic<chunk*>[chunks]),
      negative(new std::atomic<chunk*>[chunks]),
      chunk_count(chunks) {
    for (size_t i = 0; i < chunks; ++i) {
      positive[i].store(nullptr, std::memory_order_relaxed);
      negative[i].store(nullptr, std::memory_order_relaxed);
    }
    clear_stats();
  }

  ~shard() {
    for (size_t i = 0; i < chunk_count; ++i) {
      delete positive[i].load();
      delete negative[i].load();
    }
  }

  void clear_stats() noexcept {
    zeros.store(0, std::memory_order_relaxed);
    shift_bits.store(no_shift, std::memory_order_relaxed);
    sum_d.store(0, std::memory_order_relaxed);
    sum_d2.store(0, std::memory_order_relaxed);
    min.store(std::numeric_limits<double>::infinity(),
              std::memory_order_relaxed);
    max.store(-std::numeric_limits<double>::infinity(),
              std::memory_order_relaxed);
  }

  std::atomic<uint64_t>* counter(bool neg, size_t index) noexcept {
    auto& slot = (neg ? negative : positive)[index / chunk_size];
    auto* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
      auto* fresh = new (std::nothrow) chunk();
      if (fresh == nullptr)
        return nullptr;
      if (slot.compare_exchange_strong(c, fresh, std::memory_order_acq_rel))
        c = fresh;
      else
        delete fresh; // another writer won; c holds its chunk
    }
    return &c->counts[index % chunk_size];
  }

  std::unique_ptr<std::atomic<chunk*>[]> positive;
  std::unique_ptr<std::atomic<chunk*>[]> negative;
  size_t chunk_count;
  std::atomic<uint64_t> zeros;
  // Shifted sums for a numerically stable variance: shift = first sample.
  std::atomic<uint64_t> shift_bits;
  std::atomic<double> sum_d;
  std::atomic<double> sum_d2;
  std::atomic<double> min;
  std::atomic<double> max;
};

concurrent_sketch::concurrent_sketch(const sketch_options& opts)
  : opts_(opts), mapping_(opts.relative_accuracy) {
  opts_.min_value = std::max(opts_.min_value, mapping_.min_indexable());
  opts_.max_value = std::max(opts_.max_value, opts_.min_value);
  key_min_ = mapping_.key(opts_.min_value);
  key_max_ = mapping_.key(opts_.max_value);
  auto keys = static_cast<size_t>(key_max_ - key_min_) + 1;
  chunks_ = (keys + chunk_size - 1) / chunk_size;
  for (auto& s : shards_)
    s.store(nullptr, std::memory_order_relaxed);
}

concurrent_sketch::~concurrent_sketch() {
  for (auto& s : shards_)
    delete s.load();
}

concurrent_sketch::shard* concurrent_sketch::shard_for(int slot) noexcept {
  auto& ref = shards_[slot];
  auto* s = ref.load(std::memory_order_acquire);
  if (s != nullptr)
    return s;
  auto* fresh = new (std::nothrow) shard(chunks_);
  if (fresh == nullptr)
    return nullptr;
  if (ref.compare_exchange_strong(s, fresh, std::memory_order_acq_rel))
    return fresh;
  delete fresh;
  return s;
}

void concurrent_sketch::add(double x) noexcept {
  if (std::isnan(x))
    return;
  x = std::clamp(x, std::numeric_limits<double>::lowest(),
                 std::numeric_limits<double>::max());
  auto slot = detail::writer_slot();
  auto* sh = shard_for(slot);
  if (sh == nullptr)
    return; // out of memory: drop the sample
  bool owner = slot < detail::writer_slots;
  auto mag = std::fabs(x);
  if (mag < opts_.min_value) {
    if (owner)
      owner_add(sh->zeros, 1);
    else
      sh->zeros.fetch_add(1, std::memory_order_relaxed);
  } else {
    auto key = std::clamp(mapping_.key(mag), key_min_, key_max_);
    auto* c = sh->counter(x < 0, static_cast<size_t>(key - key_min_));
    if (c == nullptr)
      return;
    if (owner)
      owner_add(*c, 1);
    else
      c->fetch_add(1, std::memory_order_relaxed);
  }
  auto bits = sh->shift_bits.load(std::memory_order_relaxed);
  if (bits == no_shift) {
    auto mine = std::bit_cast<uint64_t>(x);
    if (sh->shift_bits.compare_exchange_strong(bits, mine,
                                               std::memory_order_relaxed))
      bits = mine;
  }
  auto d = x - std::bit_cast<double>(bits);
  if (owner) {
    owner_add(sh->sum_d, d);
    owner_add(sh->sum_d2, d * d);
    if (x < sh->min.load(std::memory_order_relaxed))
      sh->min.store(x, std::memory_order_relaxed);
    if (x > sh->max.load(std::memory_order_relaxed))
      sh->max.store(x, std::memory_order_relaxed);
  } else {
    sh->sum_d.fetch_add(d, std::memory_order_relaxed);
    sh->sum_d2.fetch_add(d * d, std::memory_order_relaxed);
    shared_min(sh->min, x);
    shared_max(sh->max, x);
  }
}

void concurrent_sketch::merge_into(ddsketch& out) const {
  for (auto& ref : shards_) {
    auto* sh = ref.load(std::memory_order_acquire);
    if (sh == nullptr)
      continue;
    uint64_t n = sh->zeros.load(std::memory_order_relaxed);
    out.add_zeros(n);
    for (int side = 0; side < 2; ++side) {
      auto& chunks = side == 0 ? sh->positive : sh->negative;
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
      continue;
    auto bits = sh->shift_bits.load(std::memory_order_relaxed);
    auto shift = bits == no_shift ? 0.0 : std::bit_cast<double>(bits);
    auto nd = static_cast<double>(n);
    auto s1 = sh->sum_d.load(std::memory_order_relaxed);
    auto s2 = sh->sum_d2.load(std::memory_order_relaxed);
    out.mutable_stats().add_summary(
      n, shift * nd + s1, shift + s1 / nd, std::max(0.0, s2 - s1 * s1 / nd),
      sh->min.load(std::memory_order_relaxed),
      sh->max.load(std::memory_order_relaxed));
  }
}

ddsketch concurrent_sketch::snapshot() const {
  ddsketch result{opts_.relative_accuracy};
  merge_into(result);
  return result;
}

void concurrent_sketch::reset() noexcept {
  for (auto& ref : shards_) {
    auto* sh = ref.load(std::memory_order_acquire);
    if (sh == nullptr)
      continue;
    for (int side = 0; side < 2; ++side) {
      auto& chunks = side == 0 ? sh->positive : sh->negative;
      for (size_t i = 0; i < chunks_; ++i)
        if (auto* c = chunks[i].load(std::memory_order_acquire))
          for (auto& k : c->counts)
            k.store(0, std::memory_order_relaxed);
    }
    sh->clear_stats();
  }
}

uint64_t concurrent_sketch::count() const noexcept {
  uint64_t n = 0;
  for (auto& ref : shards_) {
    auto* sh = ref.load(std::memory_order_acquire);
    if (sh == nullptr)
      continue;
    n += sh->zeros.load(std::memory_order_relaxed);
    for (int side = 0; side < 2; ++side) {
      auto& chunks = side == 0 ? sh->positive : sh->negative;
      for (size_t i = 0; i < chunks_; ++i)
        if (auto* c = chunks[i].load(std::memory_order_acquire))
          for (auto& k : c->counts)
            n += k.load(std::memory_order_relaxed);
    }
  }
  return n;
}

size_t concurrent_sketch::memory_bytes() const noexcept {
  size_t n = sizeof(*this);
  for (auto& ref : shards_) {
    auto* sh = ref.load(std::memory_order_acquire);
    if (sh == nullptr)
      continue;
    n += sizeof(shard) + 2 * chunks_ * sizeof(std::atomic<chunk*>);
    for (size_t i = 0; i < chunks_; ++i) {
      n += sh->positive[i].load() ? sizeof(chunk) : 0;
      n += sh->negative[i].load() ? sizeof(chunk) : 0;
    }
  }
  return n;
}

} // namespace caflens::telemetry
