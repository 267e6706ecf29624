#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "caflens/telemetry/ddsketch.hpp"

namespace caflens::telemetry {

/// Accuracy and trackable range of a `concurrent_sketch`.
struct sketch_options {
  /// Relative error of every quantile (within the trackable range).
  double relative_accuracy = 0.01;
  /// Magnitudes below count as zero.
  double min_value = 1e-9;
  /// Magnitudes above are clamped into the highest bucket (min and max stay
  /// exact).
  double max_value = 1e15;
};

namespace detail {

/// Writer slots: each live thread that writes sketches owns one slot index
/// in [0, writer_slots) for its lifetime; threads beyond that share one
/// more slot (index writer_slots) with atomic read-modify-writes.
inline constexpr int writer_slots = 16;

/// 0 until this thread claims a writer slot, then the slot + 1; -1 when
/// none was free (initial-exec TLS: one load).
extern constinit __attribute__((tls_model("initial-exec"))) thread_local int
  tl_writer_slot;

/// Claims a writer slot for this thread (first use).
int claim_writer_slot() noexcept;

/// This thread's writer slot (claimed on first use, released at exit).
inline int writer_slot() noexcept {
  auto s = tl_writer_slot;
  if (s > 0)
    return s - 1;
  if (s < 0)
    return writer_slots;
  return claim_writer_slot();
}

} // namespace detail

/// A DDSketch that many threads update at once without a lock. Each writer
/// thread owns a shard (see `detail::writer_slot`), so an update is a few
/// single-writer stores; buckets are counters in chunks of 128 allocated on
/// first use, so memory grows with the value range seen (1 KiB per 128
/// buckets, about 1.1 decades at 1 % accuracy) and the number of writer
/// threads, never with the sample count. `snapshot` merges the shards into a
/// `ddsketch` for queries.
///
/// Thread-safe: `add` and `snapshot` may run concurrently (a snapshot may
/// miss samples in flight). `reset` must not race with `add` or `snapshot`.
class concurrent_sketch {
public:
  static constexpr size_t chunk_size = 128;

  explicit concurrent_sketch(const sketch_options& opts = {});
  ~concurrent_sketch();

  concurrent_sketch(const concurrent_sketch&) = delete;
  concurrent_sketch& operator=(const concurrent_sketch&) = delete;

  /// Adds one sample; NaN is ignored. Never blocks, never throws.
  void add(double x) noexcept;

  /// Adds `n` samples as `add` would, in one pass: the thread's shard is
  /// looked up once and its sum, minimum and maximum written once.
  void add_batch(const double* xs, size_t n) noexcept;

  /// A copy for queries.
  ddsketch snapshot() const;

  /// Adds this sketch's content to `out` (same accuracy).
  void merge_into(ddsketch& out) const;

  /// Adds `n` samples to `out` as if they had been added here and merged
  /// (same zero threshold and clamping; `out` has the same accuracy).
  void merge_samples_into(ddsketch& out, const double* xs, size_t n) const;

  /// Clears all samples (keeps allocated memory).
  void reset() noexcept;

  /// Samples added (sum of all buckets).
  uint64_t count() const noexcept;

  size_t memory_bytes() const noexcept;

  const sketch_options& options() const noexcept {
    return opts_;
  }

private:
  struct chunk {
    std::atomic<uint64_t> counts[chunk_size];
  };

  struct shard;

  shard* shard_for(int slot) noexcept;

  sketch_options opts_;
  log_mapping mapping_;
  int32_t key_min_;
  int32_t key_max_;
  size_t chunks_;
  std::atomic<shard*> shards_[detail::writer_slots + 1];
};

} // namespace caflens::telemetry
