#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "caf/expected.hpp"

namespace caflens::telemetry {

/// Count, sum, min, max, mean and variance of a stream, mergeable
/// (Welford's update, Chan et al.'s merge). A value type.
class running_stats {
public:
  void add(double x) noexcept;

  /// Adds `n` samples summarized by their mean and M2 (sum of squared
  /// deviations from the mean).
  void add_summary(uint64_t n, double sum, double mean, double m2, double mn,
                   double mx) noexcept;

  void merge(const running_stats& other) noexcept;

  uint64_t count() const noexcept {
    return count_;
  }
  double sum() const noexcept {
    return sum_;
  }
  double min() const noexcept {
    return count_ ? min_ : std::numeric_limits<double>::quiet_NaN();
  }
  double max() const noexcept {
    return count_ ? max_ : std::numeric_limits<double>::quiet_NaN();
  }
  double mean() const noexcept {
    return count_ ? mean_ : std::numeric_limits<double>::quiet_NaN();
  }
  /// Population variance.
  double variance() const noexcept {
    return count_ ? m2_ / static_cast<double>(count_)
                  : std::numeric_limits<double>::quiet_NaN();
  }
  /// Sample variance (n - 1 in the denominator).
  double sample_variance() const noexcept {
    return count_ > 1 ? m2_ / static_cast<double>(count_ - 1)
                      : std::numeric_limits<double>::quiet_NaN();
  }
  double stddev() const noexcept {
    return std::sqrt(variance());
  }

private:
  uint64_t count_ = 0;
  double sum_ = 0;
  double mean_ = 0;
  double m2_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

/// The bucket mapping of DDSketch: bucket boundaries grow geometrically, so
/// every value of a bucket is within relative error a of the bucket's
/// representative value (gamma = (1 + a) / (1 - a) bounds the ratio of a
/// bucket's ends).
///
/// Instead of calling `log`, the key interpolates log2 cubically between
/// powers of two from the bits of the double (as DataDog's
/// CubicallyInterpolatedMapping): x = 2^e (1 + s) maps to
/// L(x) = e + P(s), P(s) = (6/35) s^3 - (3/5) s^2 + (10/7) s, which is
/// continuous and increasing. dL/dlog2(x) = P'(s) (1 + s) ln 2 is at least
/// (10/7) ln 2 on [0, 1), so with the multiplier 7 / (10 ln gamma) no bucket
/// spans more than a factor gamma: the accuracy guarantee holds with about
/// 1 % more buckets than with exact logarithms, at a fraction of the cost.
class log_mapping {
public:
  explicit log_mapping(double relative_accuracy = 0.01);

  double relative_accuracy() const noexcept {
    return alpha_;
  }
  double gamma() const noexcept {
    return gamma_;
  }
  /// The factor between L(x) and a key.
  double multiplier() const noexcept {
    return multiplier_;
  }
  /// ceil(L(x) * multiplier) for a normal, positive, finite x.
  int32_t key(double x) const noexcept {
    auto bits = std::bit_cast<uint64_t>(x);
    auto e = static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
    auto s = std::bit_cast<double>((bits & 0x000fffffffffffffULL)
                                   | 0x3ff0000000000000ULL)
             - 1.0;
    auto y = ((((6.0 / 35) * s - 0.6) * s + 10.0 / 7) * s
              + static_cast<double>(e))
             * multiplier_;
    auto k = static_cast<int32_t>(y); // towards zero: ceil for y <= 0
    return k + (static_cast<double>(k) < y ? 1 : 0);
  }
  /// The representative value of bucket `k` (within a of all its values).
  double value(int32_t k) const noexcept;
  /// Smallest positive value with a bucket; smaller ones count as zero.
  double min_indexable() const noexcept {
    return min_indexable_;
  }

  friend bool operator==(const log_mapping& x, const log_mapping& y) noexcept {
    return x.alpha_ == y.alpha_;
  }

private:
  /// 1 + s with P(s) = y, y in [0, 1): L's inverse inside one octave.
  static double inverse(double y) noexcept;

  double alpha_;
  double gamma_;
  double multiplier_; // 7 / (10 ln(gamma))
  double min_indexable_;
};

/// A dense bucket store that collapses its lowest buckets once it spans
/// more than `max_buckets` keys (keeps memory O(1)).
class bucket_store {
public:
  explicit bucket_store(uint32_t max_buckets = 2048) : max_(max_buckets) {
  }

  void add(int32_t key, uint64_t n = 1);
  void merge(const bucket_store& other);

  uint64_t total() const noexcept {
    return total_;
  }
  bool empty() const noexcept {
    return total_ == 0;
  }
  int32_t min_key() const noexcept {
    return offset_;
  }
  int32_t max_key() const noexcept {
    return offset_ + static_cast<int32_t>(counts_.size()) - 1;
  }
  uint64_t at(int32_t key) const noexcept {
    auto i = static_cast<int64_t>(key) - offset_;
    return i >= 0 && i < static_cast<int64_t>(counts_.size()) ? counts_[i] : 0;
  }
  /// True when buckets were folded together (accuracy lost below
  /// `min_key()`).
  bool collapsed() const noexcept {
    return collapsed_;
  }
  size_t memory_bytes() const noexcept {
    return counts_.capacity() * sizeof(uint64_t);
  }

private:
  void extend(int32_t key);

  std::vector<uint64_t> counts_;
  int32_t offset_ = 0;
  uint64_t total_ = 0;
  uint32_t max_;
  bool collapsed_ = false;
};

/// A DDSketch quantile sketch (Masson, Rim, Lee 2019): every quantile is
/// answered within the configured relative error (default 1 %) in memory
/// bounded by `max_buckets` per sign, independent of the sample count.
/// Mergeable: merging two sketches equals sketching the union. Also keeps
/// count, sum, min, max, mean and variance. A value type; not synchronized.
class ddsketch {
public:
  explicit ddsketch(double relative_accuracy = 0.01,
                    uint32_t max_buckets = 2048);

  /// Adds one sample. NaN is ignored; infinities are clamped to the largest
  /// finite value.
  void add(double x, uint64_t n = 1) noexcept;

  /// Merges `other`. Error `invalid_argument` when the accuracies differ.
  caf::error merge(const ddsketch& other);

  /// The value at quantile `q` in [0, 1] (the sample of rank
  /// floor(q * (count - 1)) within the relative error; q = 0 and q = 1 give
  /// the exact min and max). NaN when empty.
  double quantile(double q) const noexcept;

  uint64_t count() const noexcept {
    return stats_.count();
  }
  bool empty() const noexcept {
    return stats_.count() == 0;
  }
  const running_stats& stats() const noexcept {
    return stats_;
  }
  const log_mapping& mapping() const noexcept {
    return mapping_;
  }
  double relative_accuracy() const noexcept {
    return mapping_.relative_accuracy();
  }
  size_t memory_bytes() const noexcept {
    return sizeof(*this) + positive_.memory_bytes() + negative_.memory_bytes();
  }

  // -- bulk access for the concurrent sketch ------------------------------

  /// Adds `n` samples to bucket `key` of the positive (or negative) side.
  void add_bucket(bool negative, int32_t key, uint64_t n) {
    (negative ? negative_ : positive_).add(key, n);
  }
  void add_zeros(uint64_t n) noexcept {
    zero_count_ += n;
  }
  running_stats& mutable_stats() noexcept {
    return stats_;
  }

private:
  log_mapping mapping_;
  bucket_store positive_;
  bucket_store negative_; // keyed by |x|
  uint64_t zero_count_ = 0;
  running_stats stats_;
};

} // namespace caflens::telemetry
