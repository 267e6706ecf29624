#define CAF_SUITE telemetry.sliding_window
#include "caf/test/unit_test.hpp"

#include <chrono>

#include "caflens/telemetry/sliding_window.hpp"

using namespace caflens::telemetry;
using namespace std::chrono_literals;

namespace {

struct fixture {
  manual_clock clk{1'000'000'000'000};
  windowed_sketch w{{}, {10s, 90}, clk};
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(window_tests, fixture)

CAF_TEST(windows include only recent slots) {
  // Minute 0: 100 samples of 10; minute 5: 100 of 1000; now at minute 10.
  for (int i = 0; i < 100; ++i)
    w.add(10);
  clk.advance(5min);
  for (int i = 0; i < 100; ++i)
    w.add(1000);
  clk.advance(5min);
  for (int i = 0; i < 10; ++i)
    w.add(100000);
  CAF_CHECK_EQUAL(w.window(1min).count(), 10u);
  CAF_CHECK_EQUAL(w.window(1min).quantile(0.5), 100000.0);
  CAF_CHECK_EQUAL(w.window(5min + 10s).count(), 110u);
  CAF_CHECK_EQUAL(w.window(15min).count(), 210u);
  CAF_CHECK_EQUAL(w.total().count(), 210u);
  auto p50 = w.window(15min).quantile(0.5);
  CAF_CHECK(p50 > 990 && p50 < 1010);
}

CAF_TEST(old slots leave windows but stay in the total) {
  for (int i = 0; i < 50; ++i)
    w.add(1);
  clk.advance(20min); // past the whole 15-minute ring
  CAF_CHECK_EQUAL(w.window(15min).count(), 0u);
  for (int i = 0; i < 5; ++i)
    w.add(2);
  // The ring recycled a slot; nothing is lost from the total.
  CAF_CHECK_EQUAL(w.window(15min).count(), 5u);
  CAF_CHECK_EQUAL(w.total().count(), 55u);
  for (int round = 0; round < 200; ++round) {
    clk.advance(10s);
    w.add(3);
  }
  CAF_CHECK_EQUAL(w.total().count(), 255u);
  CAF_CHECK_EQUAL(w.window(15min).count(), 90u);
  CAF_CHECK_EQUAL(w.window(10s).count(), 1u);
}

CAF_TEST(a window shorter than a slot is the current slot) {
  w.add(7);
  CAF_CHECK_EQUAL(w.window(1ns).count(), 1u);
  clk.advance(10s);
  CAF_CHECK_EQUAL(w.window(1ns).count(), 0u);
  CAF_CHECK_EQUAL(w.window(20s).count(), 1u);
}

CAF_TEST(memory does not grow with samples) {
  for (int i = 0; i < 1000; ++i)
    w.add(100 + i % 10);
  auto before = w.memory_bytes();
  for (int i = 0; i < 100000; ++i)
    w.add(100 + i % 10);
  CAF_CHECK_EQUAL(w.memory_bytes(), before);
}

CAF_TEST_FIXTURE_SCOPE_END()
