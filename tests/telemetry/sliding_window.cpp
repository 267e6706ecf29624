#define CAF_SUITE telemetry.sliding_window
#include "caf/test/unit_test.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "caflens/telemetry/sliding_window.hpp"

using namespace caflens::telemetry;
using namespace std::chrono_literals;

namespace {

struct fixture {
  manual_clock clk{1'000'000'000'000};
  windowed_sketch w{{}, {10s, 90}, clk};
};

} // namespace

CAF_TEST(the coarse clock reads CLOCK_MONOTONIC_COARSE) {
  // coarse_now_ns calls the vDSO directly where it can; it must read the
  // same clock as libc's clock_gettime.
  auto libc = [] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  };
  for (int i = 0; i < 1000; ++i) {
    auto before = libc();
    auto now = clock::coarse_now_ns();
    auto after = libc();
    CAF_REQUIRE(before <= now);
    CAF_REQUIRE(now <= after);
    CAF_REQUIRE_EQUAL(clock::coarse().now_ns() >= now, true);
  }
}

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

// Writers buffer their samples (see windowed_sketch): queries must count the
// buffered ones, in the slot of their time, exactly once.

CAF_TEST(buffered samples keep the slot of their time) {
  manual_clock clk{1'000'000'000'000};
  windowed_sketch w{{}, {10s, 90}, clk};
  for (int i = 0; i < 3; ++i) // fewer than a buffer holds
    w.add(5);
  CAF_CHECK_EQUAL(w.window(1ns).count(), 3u);
  CAF_CHECK_EQUAL(w.total().count(), 3u);
  clk.advance(10s);
  w.add(6);
  w.add(6);
  CAF_CHECK_EQUAL(w.window(10s).count(), 2u);
  CAF_CHECK_EQUAL(w.window(20s).count(), 5u);
  clk.advance(10s);
  CAF_CHECK_EQUAL(w.window(10s).count(), 0u);
  CAF_CHECK_EQUAL(w.window(20s).count(), 2u);
  CAF_CHECK_EQUAL(w.total().count(), 5u);
}

CAF_TEST(a writer gone quiet keeps its samples) {
  manual_clock clk{1'000'000'000'000};
  windowed_sketch w{{}, {10s, 90}, clk};
  // Another thread buffers three samples and ends; its buffer waits.
  std::thread{[&] {
    for (int i = 0; i < 3; ++i)
      w.add(1);
  }}.join();
  CAF_CHECK_EQUAL(w.window(10s).count(), 3u);
  // This thread writes through 200 slots: the ring recycles every slot,
  // the quiet samples' one included.
  for (int round = 0; round < 200; ++round) {
    clk.advance(10s);
    w.add(2);
  }
  CAF_CHECK_EQUAL(w.window(15min).count(), 90u);
  CAF_CHECK_EQUAL(w.total().count(), 203u);
  // A new thread (perhaps in the quiet one's writer slot) moves them on.
  std::thread{[&] {
    for (int i = 0; i < 100; ++i)
      w.add(3);
  }}.join();
  CAF_CHECK_EQUAL(w.window(10s).count(), 101u);
  CAF_CHECK_EQUAL(w.window(15min).count(), 190u);
  CAF_CHECK_EQUAL(w.total().count(), 303u);
  CAF_CHECK_EQUAL(w.total().stats().min(), 1.0);
}

CAF_TEST(more writers than writer slots lose nothing) {
  manual_clock clk{1'000'000'000'000};
  windowed_sketch w{{}, {10s, 90}, clk};
  constexpr int threads = 24; // more than detail::writer_slots
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&w, t] {
      for (int i = 0; i < 10000; ++i)
        w.add(1 + t);
    });
  for (auto& t : ts)
    t.join();
  CAF_CHECK_EQUAL(w.window(10s).count(), 240000u);
  CAF_CHECK_EQUAL(w.total().count(), 240000u);
  CAF_CHECK_EQUAL(w.total().stats().max(), 24.0);
}

CAF_TEST(readers racing writers never count a sample twice) {
  windowed_sketch w; // the real coarse clock
  std::atomic<bool> done{false};
  constexpr uint64_t per_writer = 200000;
  std::atomic<uint64_t> over{0};
  std::thread reader{[&] {
    while (!done.load()) {
      if (w.total().count() > 2 * per_writer)
        over.fetch_add(1);
      if (w.window(15min).count() > 2 * per_writer)
        over.fetch_add(1);
    }
  }};
  auto writer = [&] {
    for (uint64_t i = 0; i < per_writer; ++i)
      w.add(static_cast<double>(i % 1000));
  };
  std::thread t1{writer}, t2{writer};
  t1.join();
  t2.join();
  done = true;
  reader.join();
  CAF_CHECK_EQUAL(over.load(), 0u);
  CAF_CHECK_EQUAL(w.total().count(), 2 * per_writer);
}
