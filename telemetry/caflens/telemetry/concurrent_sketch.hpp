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

/// A DDSketch that many threads update at once without a lock: buckets are
/// atomic counters in chunks of 128 allocated on first use, so memory grows
/// with the value range seen (1 KiB per 128 buckets, about 1.1 decades at
/// 1 % accuracy), never with the sample count. `add` is lock-free and
/// allocation-free after warm-up; `snapshot` gives a `ddsketch` for queries.
///
/// Thread-safe: `add` and `snapshot` may run concurrently (a snapshot may
/// miss samples in flight). `reset` must not race with `snapshot`.
class concurrent_sketch {
public:
  static constexpr size_t chunk_size = 128;

  explicit concurrent_sketch(const sketch_options& opts = {});
  ~concurrent_sketch();

  concurrent_sketch(const concurrent_sketch&) = delete;
  concurrent_sketch& operator=(const concurrent_sketch&) = delete;

  /// Adds one sample; NaN is ignored. Never blocks, never throws.
  void add(double x) noexcept;

  /// A consistent-enough copy for queries.
  ddsketch snapshot() const;

  /// Adds this sketch's content to `out` (same accuracy).
  void merge_into(ddsketch& out) const;

  /// Clears all samples (keeps allocated chunks).
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

  std::atomic<uint64_t>* counter(bool negative, int32_t key) noexcept;

  sketch_options opts_;
  log_mapping mapping_;
  int32_t key_min_;
  int32_t key_max_;
  size_t chunks_;
  std::unique_ptr<std::atomic<chunk*>[]> positive_;
  std::unique_ptr<std::atomic<chunk*>[]> negative_;
  std::atomic<uint64_t> zeros_{0};
  // Shifted sums for a numerically stable variance: shift = first sample.
  alignas(64) std::atomic<uint64_t> shift_bits_;
  std::atomic<double> sum_d_{0};
  std::atomic<double> sum_d2_{0};
  std::atomic<double> min_;
  std::atomic<double> max_;
};

} // namespace caflens::telemetry
