#include "caflens/telemetry/concurrent_sketch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <new>

namespace caflens::telemetry {

// -- writer slots -------------------------------------------------------------

namespace detail {

constinit __attribute__((tls_model("initial-exec"))) thread_local int
  tl_writer_slot = 0;

namespace {

std::atomic<bool> slot_taken[writer_slots];

struct slot_release {
  ~slot_release() {
    if (tl_writer_slot > 0)
      slot_taken[tl_writer_slot - 1].store(false, std::memory_order_release);
    tl_writer_slot = -1; // no further claims from a dying thread
  }
};

} // namespace

int claim_writer_slot() noexcept {
  if (tl_writer_slot < 0)
    return writer_slots;
  for (int i = 0; i < writer_slots; ++i) {
    bool expected = false;
    if (!slot_taken[i].load(std::memory_order_relaxed)
        && slot_taken[i].compare_exchange_strong(expected, true,
                                                 std::memory_order_acq_rel)) {
      tl_writer_slot = i + 1;
      thread_local slot_release release;
      return i;
    }
  }
  tl_writer_slot = -1;
  return writer_slots;
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

// A shard's shift for its shifted sums: its first sample, set once by
// whichever writer gets there first. `bits` is the value last read.
inline uint64_t claim_shift(std::atomic<uint64_t>& shift, uint64_t bits,
                            double x) noexcept {
  if (bits == no_shift) {
    auto mine = std::bit_cast<uint64_t>(x);
    if (shift.compare_exchange_strong(bits, mine, std::memory_order_relaxed))
      bits = mine;
  }
  return bits;
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
  auto bits = claim_shift(sh->shift_bits,
                          sh->shift_bits.load(std::memory_order_relaxed), x);
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

namespace {

/// The key of a sample below `min_value` in `batch_keys`.
constexpr double zero_key = -1e18;

/// Keys of `m` samples as `add` computes them (index from `key_min`;
/// negative samples as -1 - index; `zero_key` below `min_value`), as
/// integers in doubles. No branch and no 64-bit conversion, so that the
/// compiler vectorizes it with plain SSE2 (this file is compiled with
/// -fno-trapping-math, which lets it turn the selections into masks).
/// Returns nonzero when a sample is NaN or infinite; its key is then
/// meaningless.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Four lanes where the CPU has AVX2, two (SSE2) elsewhere; chosen once at
// load time.
[[gnu::target_clones("avx2", "default")]]
#endif
uint64_t batch_keys(const double* __restrict xs, size_t m,
                    double* __restrict keys, double multiplier, double key_min,
                    double key_max, double min_value) noexcept {
  // Integers in [0, 2^52) to doubles and rounding to an integer without a
  // conversion instruction: through 2^52's mantissa.
  constexpr double two52 = 4503599627370496.0;
  constexpr auto two52_bits = uint64_t{0x4330000000000000};
  uint64_t odd = 0;
  for (size_t i = 0; i < m; ++i) {
    auto x = xs[i];
    auto mag = std::fabs(x);
    auto bits = std::bit_cast<uint64_t>(mag);
    // The exponent is all ones (NaN, infinity) iff adding one to it
    // carries into the (clear) sign bit.
    odd |= (bits + (uint64_t{1} << 52)) >> 63;
    auto e = std::bit_cast<double>((bits >> 52) | two52_bits) - two52 - 1023;
    auto s = std::bit_cast<double>((bits & 0x000fffffffffffffULL)
                                   | 0x3ff0000000000000ULL)
             - 1.0;
    // As log_mapping::key, clamped first (clamping to integers commutes
    // with the ceiling).
    auto y = ((((6.0 / 35) * s - 0.6) * s + 10.0 / 7) * s + e) * multiplier;
    y = y < key_min ? key_min : y;
    y = y > key_max ? key_max : y;
    auto k = (y + two52) - two52; // nearest integer (|y| < 2^31)
    k = k < y ? k + 1 : k;        // the ceiling
    k -= key_min;
    k = x < 0 ? -1 - k : k;
    keys[i] = mag < min_value ? zero_key : k;
  }
  return odd;
}

/// Shifted sums, minimum and maximum of a batch.
struct batch_totals {
  double sum_d = 0;
  double sum_d2 = 0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
};

/// Adds `m` finite samples to `t`, in SIMD lanes (this file is compiled
/// with -fopenmp-simd; the partial sums are added in another order than one
/// by one, which changes nothing beyond rounding).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
[[gnu::target_clones("avx2", "default")]]
#endif
void batch_stats(const double* __restrict xs, size_t m, double shift,
                 batch_totals& t) noexcept {
  auto sum_d = t.sum_d;
  auto sum_d2 = t.sum_d2;
  auto lo = t.lo;
  auto hi = t.hi;
#pragma omp simd reduction(+ : sum_d, sum_d2) reduction(min : lo) \
  reduction(max : hi)
  for (size_t i = 0; i < m; ++i) {
    auto d = xs[i] - shift;
    sum_d += d;
    sum_d2 += d * d;
    lo = xs[i] < lo ? xs[i] : lo;
    hi = xs[i] > hi ? xs[i] : hi;
  }
  t.sum_d = sum_d;
  t.sum_d2 = sum_d2;
  t.lo = lo;
  t.hi = hi;
}

} // namespace

void concurrent_sketch::add_batch(const double* xs, size_t n) noexcept {
  auto slot = detail::writer_slot();
  if (slot >= detail::writer_slots) {
    for (size_t i = 0; i < n; ++i)
      add(xs[i]);
    return;
  }
  auto* sh = shard_for(slot);
  if (sh == nullptr)
    return; // out of memory: drop the samples
  // This thread owns the shard: counts are plain increments, the statistics
  // are gathered in registers and stored once. Keys first, in a pass with
  // no stores, then the statistics, then the increments.
  auto bits = sh->shift_bits.load(std::memory_order_relaxed);
  uint64_t zeros = 0;
  batch_totals totals;
  auto* positive = sh->positive.get();
  auto* negative = sh->negative.get();
  double keys[64]; // bucket index; negative values: -1 - index
  double clean[64];
  auto key_min = static_cast<double>(key_min_);
  auto key_max = static_cast<double>(key_max_);
  for (size_t first = 0; first < n; first += 64) {
    auto m = std::min<size_t>(64, n - first);
    const double* x = xs + first;
    if (batch_keys(x, m, keys, mapping_.multiplier(), key_min, key_max,
                   opts_.min_value)
        != 0) {
      // NaN or infinities (rare): drop NaN, clamp the rest, key again.
      size_t kept = 0;
      for (size_t i = 0; i < m; ++i)
        if (!std::isnan(x[i]))
          clean[kept++] = std::clamp(x[i],
                                     std::numeric_limits<double>::lowest(),
                                     std::numeric_limits<double>::max());
      m = kept;
      x = clean;
      batch_keys(x, m, keys, mapping_.multiplier(), key_min, key_max,
                 opts_.min_value);
    }
    if (m == 0)
      continue;
    bits = claim_shift(sh->shift_bits, bits, x[0]);
    batch_stats(x, m, std::bit_cast<double>(bits), totals);
    for (size_t i = 0; i < m; ++i) {
      if (keys[i] == zero_key) {
        ++zeros;
        continue;
      }
      auto k = static_cast<int64_t>(keys[i]);
      auto index = static_cast<size_t>(k < 0 ? -1 - k : k);
      // Not `(k < 0 ? negative : positive)[i]`: GCC 12 with UBSan computes
      // a wild address for that subscript (even at -O0).
      auto* table = k < 0 ? negative : positive;
      auto* c = table[index / chunk_size].load(std::memory_order_acquire);
      if (c == nullptr) {
        auto* counter = sh->counter(k < 0, index); // allocates the chunk
        if (counter != nullptr)
          owner_add(*counter, 1);
        continue;
      }
      owner_add(c->counts[index % chunk_size], 1);
    }
  }
  if (zeros > 0)
    owner_add(sh->zeros, zeros);
  if (bits == no_shift)
    return; // nothing but NaN
  owner_add(sh->sum_d, totals.sum_d);
  owner_add(sh->sum_d2, totals.sum_d2);
  if (totals.lo < sh->min.load(std::memory_order_relaxed))
    sh->min.store(totals.lo, std::memory_order_relaxed);
  if (totals.hi > sh->max.load(std::memory_order_relaxed))
    sh->max.store(totals.hi, std::memory_order_relaxed);
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

void concurrent_sketch::merge_samples_into(ddsketch& out, const double* xs,
                                           size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    auto x = xs[i];
    if (std::isnan(x))
      continue;
    x = std::clamp(x, std::numeric_limits<double>::lowest(),
                   std::numeric_limits<double>::max());
    auto mag = std::fabs(x);
    if (mag < opts_.min_value)
      out.add_zeros(1);
    else
      out.add_bucket(x < 0, std::clamp(mapping_.key(mag), key_min_, key_max_),
                     1);
    out.mutable_stats().add(x);
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
