#define CAF_SUITE telemetry.ddsketch
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "caflens/telemetry/concurrent_sketch.hpp"
#include "caflens/telemetry/ddsketch.hpp"

using namespace caflens::telemetry;

namespace {

constexpr size_t sample_count = 1'000'000;
const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};

using generator = std::mt19937_64;

std::vector<double> uniform_data(generator& g) {
  std::uniform_real_distribution<double> d{1.0, 1000.0};
  std::vector<double> xs(sample_count);
  for (auto& x : xs)
    x = d(g);
  return xs;
}

std::vector<double> lognormal_data(generator& g) {
  std::lognormal_distribution<double> d{0.0, 2.0};
  std::vector<double> xs(sample_count);
  for (auto& x : xs)
    x = d(g);
  return xs;
}

std::vector<double> bimodal_data(generator& g) {
  // Fast cache hits around 50 us, slow misses around 20 ms.
  std::normal_distribution<double> fast{50e3, 5e3}, slow{20e6, 2e6};
  std::bernoulli_distribution pick_slow{0.1};
  std::vector<double> xs(sample_count);
  for (auto& x : xs)
    x = std::max(1.0, pick_slow(g) ? slow(g) : fast(g));
  return xs;
}

std::vector<double> pareto_data(generator& g) {
  // Pareto with x_m = 1 and shape 1.2 by inverse transform.
  std::uniform_real_distribution<double> u{0.0, 1.0};
  std::vector<double> xs(sample_count);
  for (auto& x : xs)
    x = 1.0 / std::pow(1.0 - u(g), 1.0 / 1.2);
  return xs;
}

double exact_quantile(const std::vector<double>& sorted, double q) {
  auto rank = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[rank];
}

void check_guarantee(const std::string& name, std::vector<double> xs,
                     double alpha) {
  ddsketch sk{alpha};
  for (auto x : xs)
    sk.add(x);
  std::sort(xs.begin(), xs.end());
  CAF_CHECK_EQUAL(sk.count(), xs.size());
  for (auto q : quantiles) {
    auto exact = exact_quantile(xs, q);
    auto est = sk.quantile(q);
    auto rel = std::fabs(est - exact) / std::fabs(exact);
    CAF_MESSAGE(name << " q" << q << ": exact " << exact << " sketch " << est
                     << " rel.err " << rel);
    CAF_CHECK(rel <= alpha + 1e-12);
  }
  CAF_CHECK_EQUAL(sk.quantile(0.0), xs.front());
  CAF_CHECK_EQUAL(sk.quantile(1.0), xs.back());
  CAF_CHECK(sk.memory_bytes() < 64 * 1024);
}

} // namespace

// The interpolated mapping keeps DDSketch's guarantee over the whole range
// of normal doubles: every value is within the relative accuracy of its
// bucket's representative, keys never decrease, and a bucket spans at most
// a factor gamma.
CAF_TEST(the bucket mapping keeps its guarantee over all magnitudes) {
  for (double alpha : {0.05, 0.01, 0.001, 1e-6}) {
    log_mapping m{alpha};
    generator gen{7};
    std::uniform_real_distribution<double> exp10{-300, 300};
    double worst = 0;
    bool monotone = true;
    for (int i = 0; i < 200'000; ++i) {
      auto x = std::pow(10.0, exp10(gen));
      if (x < m.min_indexable())
        continue;
      auto k = m.key(x);
      worst = std::max(worst, std::fabs(m.value(k) - x) / x);
      // A slightly larger value never gets a smaller key.
      monotone = monotone && m.key(x * (1 + 1e-12)) >= k;
    }
    // Powers of two, the ends of the range and their neighbours, where the
    // interpolation switches from one octave to the next.
    for (int e = -1020; e <= 1022; e += 7)
      for (double f : {1.0, std::nextafter(1.0, 2.0), std::nextafter(2.0, 1.0)}) {
        auto x = std::ldexp(f, e);
        if (x >= m.min_indexable())
          worst = std::max(worst, std::fabs(m.value(m.key(x)) - x) / x);
      }
    // The last bucket reaches past the largest double: its representative
    // is clamped, finite.
    auto top = std::numeric_limits<double>::max();
    CAF_CHECK(std::isfinite(m.value(m.key(top))));
    CAF_CHECK_LESS_OR_EQUAL(std::fabs(m.value(m.key(top / m.gamma())) - top / m.gamma()) / (top / m.gamma()), alpha * (1 + 1e-9));
    CAF_MESSAGE("alpha " << alpha << ": worst relative error " << worst);
    CAF_CHECK_LESS_OR_EQUAL(worst, alpha * (1 + 1e-9));
    CAF_CHECK(monotone);
  }
}

CAF_TEST(quantiles of uniform data are within one percent) {
  generator g{1};
  check_guarantee("uniform", uniform_data(g), 0.01);
}

CAF_TEST(quantiles of log normal data are within one percent) {
  generator g{2};
  check_guarantee("lognormal", lognormal_data(g), 0.01);
}

CAF_TEST(quantiles of bimodal data are within one percent) {
  generator g{3};
  check_guarantee("bimodal", bimodal_data(g), 0.01);
}

CAF_TEST(quantiles of pareto data are within one percent) {
  generator g{4};
  check_guarantee("pareto", pareto_data(g), 0.01);
}

CAF_TEST(a tighter accuracy holds too) {
  generator g{5};
  check_guarantee("lognormal@0.5%", lognormal_data(g), 0.005);
}

CAF_TEST(merging two sketches equals sketching the union) {
  generator g{6};
  auto a = lognormal_data(g);
  auto b = pareto_data(g);
  ddsketch sa, sb, su;
  for (auto x : a) {
    sa.add(x);
    su.add(x);
  }
  for (auto x : b) {
    sb.add(x);
    su.add(x);
  }
  CAF_REQUIRE(!sa.merge(sb));
  CAF_CHECK_EQUAL(sa.count(), su.count());
  for (int i = 0; i <= 1000; ++i) {
    auto q = i / 1000.0;
    if (sa.quantile(q) != su.quantile(q)) {
      CAF_FAIL("merged and union sketches differ at q=" << q);
    }
  }
  CAF_CHECK_EQUAL(sa.stats().min(), su.stats().min());
  CAF_CHECK_EQUAL(sa.stats().max(), su.stats().max());
  CAF_CHECK(std::fabs(sa.stats().mean() - su.stats().mean())
            <= 1e-9 * std::fabs(su.stats().mean()));
  CAF_CHECK(std::fabs(sa.stats().variance() - su.stats().variance())
            <= 1e-9 * su.stats().variance());
}

CAF_TEST(merge rejects different accuracies) {
  ddsketch a{0.01}, b{0.02};
  b.add(1);
  CAF_CHECK(a.merge(b));
}

CAF_TEST(stats are exact) {
  ddsketch sk;
  std::vector<double> xs{3, 1, 4, 1, 5, 9, 2, 6};
  for (auto x : xs)
    sk.add(x);
  CAF_CHECK_EQUAL(sk.stats().count(), 8u);
  CAF_CHECK_EQUAL(sk.stats().sum(), 31.0);
  CAF_CHECK_EQUAL(sk.stats().min(), 1.0);
  CAF_CHECK_EQUAL(sk.stats().max(), 9.0);
  CAF_CHECK(std::fabs(sk.stats().mean() - 3.875) < 1e-12);
  // population variance of the samples
  double var = 0;
  for (auto x : xs)
    var += (x - 3.875) * (x - 3.875);
  var /= 8;
  CAF_CHECK(std::fabs(sk.stats().variance() - var) < 1e-12);
}

CAF_TEST(negative and zero values keep their order) {
  ddsketch sk;
  for (int i = -500; i <= 500; ++i)
    sk.add(i);
  CAF_CHECK_EQUAL(sk.quantile(0), -500.0);
  CAF_CHECK(std::fabs(sk.quantile(0.25) - (-250.0)) <= 2.5 + 1e-9);
  CAF_CHECK_EQUAL(sk.quantile(0.5), 0.0);
  CAF_CHECK(std::fabs(sk.quantile(0.75) - 250.0) <= 2.5 + 1e-9);
  CAF_CHECK_EQUAL(sk.quantile(1), 500.0);
}

CAF_TEST(empty sketches answer nan and nan input is ignored) {
  ddsketch sk;
  CAF_CHECK(std::isnan(sk.quantile(0.5)));
  sk.add(std::nan(""));
  CAF_CHECK_EQUAL(sk.count(), 0u);
  sk.add(std::numeric_limits<double>::infinity());
  CAF_CHECK_EQUAL(sk.count(), 1u);
  CAF_CHECK(std::isfinite(sk.quantile(0.5)));
}

CAF_TEST(memory stays bounded however wide the range) {
  ddsketch sk{0.01, 512};
  for (int e = -300; e <= 300; ++e)
    sk.add(std::pow(10.0, e));
  CAF_CHECK(sk.memory_bytes() <= sizeof(ddsketch) + 2 * 1024 * 8);
  // The highest quantiles keep their guarantee after collapsing.
  CAF_CHECK(std::fabs(sk.quantile(1.0) - 1e300) <= 1e300 * 0.01);
}

CAF_TEST(the concurrent sketch equals the plain sketch) {
  generator g{7};
  auto xs = lognormal_data(g);
  ddsketch plain;
  concurrent_sketch conc;
  for (auto x : xs) {
    plain.add(x);
    conc.add(x);
  }
  auto snap = conc.snapshot();
  CAF_CHECK_EQUAL(snap.count(), plain.count());
  CAF_CHECK_EQUAL(conc.count(), plain.count());
  for (auto q : quantiles)
    CAF_CHECK_EQUAL(snap.quantile(q), plain.quantile(q));
  CAF_CHECK(std::fabs(snap.stats().mean() - plain.stats().mean())
            <= 1e-9 * plain.stats().mean());
  CAF_CHECK(std::fabs(snap.stats().variance() - plain.stats().variance())
            <= 1e-6 * plain.stats().variance());
  CAF_CHECK_EQUAL(snap.stats().min(), plain.stats().min());
  CAF_CHECK_EQUAL(snap.stats().max(), plain.stats().max());
  conc.reset();
  CAF_CHECK_EQUAL(conc.count(), 0u);
  CAF_CHECK(conc.snapshot().empty());
}

CAF_TEST(the concurrent sketch loses nothing under two writers) {
  concurrent_sketch conc;
  auto writer = [&](uint64_t seed) {
    generator g{seed};
    std::lognormal_distribution<double> d{10, 1};
    for (int i = 0; i < 200000; ++i)
      conc.add(d(g));
  };
  std::thread t1{writer, 11}, t2{writer, 12};
  t1.join();
  t2.join();
  CAF_CHECK_EQUAL(conc.count(), 400000u);
  CAF_CHECK_EQUAL(conc.snapshot().count(), 400000u);
}

CAF_TEST(the concurrent sketch clamps out of range values) {
  concurrent_sketch conc{{0.01, 1.0, 1000.0}};
  conc.add(0.5);    // below min_value: counts as zero
  conc.add(1e6);    // above max_value: highest bucket
  conc.add(-1e6);
  auto snap = conc.snapshot();
  CAF_CHECK_EQUAL(snap.count(), 3u);
  CAF_CHECK_EQUAL(snap.stats().max(), 1e6); // exact
  CAF_CHECK_EQUAL(snap.quantile(1.0), 1e6); // clamped by max
  CAF_CHECK_EQUAL(snap.quantile(0.5), 0.0);
}

CAF_TEST(a batch adds what single adds add) {
  // Zeros, negatives, out-of-range and non-finite values among ordinary ones.
  generator g{21};
  auto xs = lognormal_data(g);
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double odd[] = {0.0, -0.0, 1e-12, -3.5, -1e6, 1e20, nan, 0.5, 2e3};
  for (size_t i = 0; i < std::size(odd); ++i)
    xs.insert(xs.begin() + static_cast<ptrdiff_t>(i * 37), odd[i]);
  sketch_options opts{0.01, 1.0, 1e9};
  concurrent_sketch one{opts};
  concurrent_sketch batched{opts};
  for (auto x : xs)
    one.add(x);
  // Uneven batches, one longer than the 64 keys computed at a time.
  size_t at = 0;
  for (size_t n : {1, 7, 64, 65, 200}) {
    batched.add_batch(xs.data() + at, n);
    at += n;
  }
  batched.add_batch(xs.data() + at, xs.size() - at);
  ddsketch loose{0.01};
  one.merge_samples_into(loose, xs.data(), xs.size());
  auto a = one.snapshot();
  auto b = batched.snapshot();
  CAF_CHECK_EQUAL(a.count(), xs.size() - 1); // NaN is ignored
  CAF_CHECK_EQUAL(b.count(), a.count());
  CAF_CHECK_EQUAL(loose.count(), a.count());
  for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0}) {
    CAF_CHECK_EQUAL(b.quantile(q), a.quantile(q));
    CAF_CHECK_EQUAL(loose.quantile(q), a.quantile(q));
  }
  CAF_CHECK_EQUAL(b.stats().min(), a.stats().min());
  CAF_CHECK_EQUAL(b.stats().max(), a.stats().max());
  CAF_CHECK_EQUAL(loose.stats().max(), a.stats().max());
  auto close = [](double x, double y) {
    return std::fabs(x - y) <= 1e-9 * std::max(std::fabs(x), std::fabs(y));
  };
  CAF_CHECK(close(b.stats().sum(), a.stats().sum()));
  CAF_CHECK(close(loose.stats().sum(), a.stats().sum()));
  // Infinities clamp to the largest finite values, in a batch as alone.
  const double infs[] = {inf, -inf};
  concurrent_sketch c1;
  concurrent_sketch c2;
  c1.add(inf);
  c1.add(-inf);
  c2.add_batch(infs, 2);
  auto s1 = c1.snapshot();
  auto s2 = c2.snapshot();
  CAF_CHECK_EQUAL(s2.count(), 2u);
  CAF_CHECK_EQUAL(s2.stats().max(), std::numeric_limits<double>::max());
  CAF_CHECK_EQUAL(s2.stats().min(), s1.stats().min());
  CAF_CHECK_EQUAL(s2.quantile(1.0), s1.quantile(1.0));
  CAF_CHECK_EQUAL(s2.quantile(0.0), s1.quantile(0.0));
}
