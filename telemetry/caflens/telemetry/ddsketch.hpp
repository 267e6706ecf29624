#pragma once

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

/// The logarithmic bucket mapping of DDSketch: value x > 0 falls into bucket
/// ceil(log_gamma(x)), gamma = (1 + a) / (1 - a); every value of a bucket
/// is within relative error a of the bucket's representative value.
class log_mapping {
public:
  explicit log_mapping(double relative_accuracy = 0.01);

  double relative_accuracy() const noexcept {
    return alpha_;
  }
  double gamma() const noexcept {
    return gamma_;
  }
  int32_t key(double x) const noexcept {
    return static_cast<int32_t>(std::ceil(std::log(x) * multiplier_));
  }
  /// The representative value of bucket `k` (within a of all its values).
  double value(int32_t k) const noexcept {
    return 2.0 * std::exp(k / multiplier_) / (1.0 + gamma_);
  }
  /// Smallest positive value with a bucket; smaller ones count as zero.
  double min_indexable() const noexcept {
    return min_indexable_;
  }

  friend bool operator==(const log_mapping& x, const log_mapping& y) noexcept {
    return x.alpha_ == y.alpha_;
  }

private:
  double alpha_;
  double gamma_;
  double multiplier_; // 1 / ln(gamma)
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
