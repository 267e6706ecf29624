#include "caflens/telemetry/ddsketch.hpp"

#include <algorithm>

#include "caflens/telemetry/telemetry_errc.hpp"

namespace caflens::telemetry {

// -- running_stats ------------------------------------------------------------

void running_stats::add(double x) noexcept {
  ++count_;
  sum_ += x;
  double delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (x - mean_);
  min_ = std::min(min_, x);
  max_ = std::max(max_, x);
}

void running_stats::add_summary(uint64_t n, double sum, double mean, double m2,
                                double mn, double mx) noexcept {
  if (n == 0)
    return;
  if (count_ == 0) {
    count_ = n;
    sum_ = sum;
    mean_ = mean;
    m2_ = m2;
    min_ = mn;
    max_ = mx;
    return;
  }
  auto na = static_cast<double>(count_);
  auto nb = static_cast<double>(n);
  double delta = mean - mean_;
  double total = na + nb;
  mean_ += delta * nb / total;
  m2_ += m2 + delta * delta * na * nb / total;
  count_ += n;
  sum_ += sum;
  min_ = std::min(min_, mn);
  max_ = std::max(max_, mx);
}

void running_stats::merge(const running_stats& other) noexcept {
  add_summary(other.count_, other.sum_, other.mean_, other.m2_, other.min_,
              other.max_);
}

// -- log_mapping --------------------------------------------------------------

log_mapping::log_mapping(double relative_accuracy)
  : alpha_(std::clamp(relative_accuracy, 1e-6, 0.5)),
    gamma_((1 + alpha_) / (1 - alpha_)),
    multiplier_(7.0 / (10.0 * std::log(gamma_))),
    // Keys stay far inside int32 (|L| <= 1025, multiplier <= 3.5e5).
    min_indexable_(std::numeric_limits<double>::min() * gamma_) {
}

double log_mapping::inverse(double y) noexcept {
  // 1 + s for P(s) = y, y in [0, 1) (P is increasing, P' in [0.74, 1.43]).
  auto s = y;
  for (int i = 0; i < 8; ++i) {
    auto p = (((6.0 / 35) * s - 0.6) * s + 10.0 / 7) * s - y;
    auto dp = ((18.0 / 35) * s - 1.2) * s + 10.0 / 7;
    s = std::clamp(s - p / dp, 0.0, 1.0);
  }
  return 1.0 + s;
}

double log_mapping::value(int32_t k) const noexcept {
  // Bucket k holds (L^-1((k - 1) / m), L^-1(k / m)]; the harmonic mean of
  // its ends is within a of both. Computed relative to the octave of its
  // lower end, scaled once: no overflow before the very last bucket.
  auto y_lo = (k - 1) / multiplier_;
  auto e = std::floor(y_lo);
  auto y_hi = k / multiplier_ - e; // may reach the next octaves
  auto e_hi = std::floor(y_hi);
  auto lo = inverse(y_lo - e);
  auto hi = std::ldexp(inverse(y_hi - e_hi), static_cast<int>(e_hi));
  auto v = std::ldexp(2.0 / (1.0 / lo + 1.0 / hi), static_cast<int>(e));
  return std::min(v, std::numeric_limits<double>::max());
}

// -- bucket_store -------------------------------------------------------------

void bucket_store::extend(int32_t key) {
  if (counts_.empty()) {
    counts_.assign(1, 0);
    offset_ = key;
    return;
  }
  if (key < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - key), 0);
    offset_ = key;
  } else if (key > max_key()) {
    counts_.resize(static_cast<size_t>(key - offset_) + 1, 0);
  }
  // Collapse the lowest buckets into the lowest kept one.
  if (counts_.size() > max_) {
    auto excess = counts_.size() - max_;
    uint64_t folded = 0;
    for (size_t i = 0; i <= excess; ++i)
      folded += counts_[i];
    counts_.erase(counts_.begin(), counts_.begin() + excess);
    counts_[0] = folded;
    offset_ += static_cast<int32_t>(excess);
    collapsed_ = true;
  }
}

void bucket_store::add(int32_t key, uint64_t n) {
  if (n == 0)
    return;
  if (counts_.empty() || key < offset_ || key > max_key())
    extend(key);
  if (key < offset_) // collapsed away: fold into the lowest bucket
    key = offset_;
  counts_[static_cast<size_t>(key - offset_)] += n;
  total_ += n;
}

void bucket_store::merge(const bucket_store& other) {
  if (other.empty())
    return;
  collapsed_ |= other.collapsed_;
  for (size_t i = 0; i < other.counts_.size(); ++i)
    if (other.counts_[i] != 0)
      add(other.offset_ + static_cast<int32_t>(i), other.counts_[i]);
}

// -- ddsketch -----------------------------------------------------------------

ddsketch::ddsketch(double relative_accuracy, uint32_t max_buckets)
  : mapping_(relative_accuracy),
    positive_(max_buckets),
    negative_(max_buckets) {
}

void ddsketch::add(double x, uint64_t n) noexcept {
  if (std::isnan(x) || n == 0)
    return;
  x = std::clamp(x, std::numeric_limits<double>::lowest(),
                 std::numeric_limits<double>::max());
  auto mag = std::fabs(x);
  try {
    if (mag < mapping_.min_indexable())
      zero_count_ += n;
    else
      (x > 0 ? positive_ : negative_).add(mapping_.key(mag), n);
  } catch (...) {
    return; // out of memory: drop the sample, keep the sketch consistent
  }
  if (n == 1) {
    stats_.add(x);
  } else {
    stats_.add_summary(n, x * static_cast<double>(n), x, 0, x, x);
  }
}

caf::error ddsketch::merge(const ddsketch& other) {
  if (!(mapping_ == other.mapping_))
    return make_error(telemetry_errc::invalid_argument,
                      "cannot merge sketches of different relative accuracy");
  positive_.merge(other.positive_);
  negative_.merge(other.negative_);
  zero_count_ += other.zero_count_;
  stats_.merge(other.stats_);
  return caf::none;
}

double ddsketch::quantile(double q) const noexcept {
  auto n = count();
  if (n == 0 || std::isnan(q))
    return std::numeric_limits<double>::quiet_NaN();
  q = std::clamp(q, 0.0, 1.0);
  if (q == 0.0)
    return stats_.min(); // tracked exactly
  if (q == 1.0)
    return stats_.max();
  // The bucket holding the sample of rank floor(q * (n - 1)) (0-based).
  auto rank = static_cast<uint64_t>(q * static_cast<double>(n - 1));
  auto clamp = [&](double v) {
    return std::clamp(v, stats_.min(), stats_.max());
  };
  uint64_t seen = 0;
  if (!negative_.empty()) {
    for (auto k = negative_.max_key(); k >= negative_.min_key(); --k) {
      seen += negative_.at(k);
      if (seen > rank)
        return clamp(-mapping_.value(k));
    }
  }
  seen += zero_count_;
  if (seen > rank)
    return clamp(0.0);
  if (!positive_.empty()) {
    for (auto k = positive_.min_key(); k <= positive_.max_key(); ++k) {
      seen += positive_.at(k);
      if (seen > rank)
        return clamp(mapping_.value(k));
    }
  }
  return stats_.max();
}

} // namespace caflens::telemetry
