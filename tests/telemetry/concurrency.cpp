#define CAF_SUITE telemetry.concurrency
#include "caf/test/unit_test.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/detail/hazard_pointer.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace caflens::telemetry;
using namespace std::chrono_literals;

// Two threads execute while a third attaches and detaches for over a second.
// Handlers attached throughout must see every event exactly once.
CAF_TEST(no lost or doubled calls while handlers churn) {
  bus b;
  event_name name{"app", "work"};
  auto e = b.intern(name);
  std::atomic<uint64_t> stable_a{0}, stable_b{0}, churned{0};
  CAF_REQUIRE(!b.attach("stable-a", name, [&](auto&, auto&, auto&, auto&) {
    stable_a.fetch_add(1, std::memory_order_relaxed);
  }));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> emitted{0};
  std::atomic<uint64_t> churn_rounds{0};
  auto emitter = [&](bool by_name) {
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) {
        if (by_name)
          b.execute(name, {{"x", 1.0}});
        else
          b.execute(e, {{"x", 1.0}});
      }
      n += 64;
    }
    emitted.fetch_add(n);
  };
  // stable-b is attached before the emitters start and detached after.
  CAF_REQUIRE(!b.attach("stable-b", name, [&](auto&, auto&, auto&, auto&) {
    stable_b.fetch_add(1, std::memory_order_relaxed);
  }));
  std::thread churner{[&] {
    uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto id = "churn-" + std::to_string(i % 4);
      b.attach(id, name, [&](auto&, auto&, auto&, auto&) {
        churned.fetch_add(1, std::memory_order_relaxed);
      });
      b.attach("other-" + std::to_string(i % 3), {"app", "other"},
               [](auto&, auto&, auto&, auto&) {});
      if (i % 2 == 1) {
        b.detach("churn-" + std::to_string((i - 1) % 4));
        b.detach("other-" + std::to_string((i - 1) % 3));
      }
      ++i;
    }
    churn_rounds = i;
  }};
  std::thread t1{emitter, false}, t2{emitter, true};
  std::this_thread::sleep_for(1200ms); // the test's duration, not a wait
  stop = true;
  t1.join();
  t2.join();
  churner.join();
  CAF_MESSAGE("emitted " << emitted.load() << " events, " << churn_rounds
                         << " churn rounds, " << churned.load()
                         << " calls to churned handlers");
  CAF_CHECK(emitted.load() > 10000u);
  CAF_CHECK(churn_rounds.load() > 100u);
  CAF_CHECK_EQUAL(stable_a.load(), emitted.load());
  CAF_CHECK_EQUAL(stable_b.load(), emitted.load());
  // Retired tables are reclaimed once no thread protects them.
  detail::reclaim();
  CAF_CHECK_EQUAL(detail::retired_count(), 0u);
}

CAF_TEST(metrics count every event from two threads) {
  bus b;
  metric_registry reg{b};
  event_name name{"app", "req"};
  CAF_REQUIRE(!reg.add(metric_definition::counter("n", name, {"route"})));
  CAF_REQUIRE(!reg.add(metric_definition::distribution("d", name, "v",
                                                       {"route"})));
  auto work = [&](int offset) {
    for (int i = 0; i < 100000; ++i) {
      auto route = (i + offset) % 7;
      b.execute(name, {{"v", static_cast<double>(i % 1000 + 1)}},
                {{"route", route}});
    }
  };
  std::thread t1{work, 0}, t2{work, 3};
  t1.join();
  t2.join();
  auto n = reg.collect("n");
  auto d = reg.collect("d");
  CAF_REQUIRE(n && d);
  CAF_CHECK_EQUAL(n->series.size(), 7u);
  double total = 0;
  for (auto& s : n->series)
    total += s.value;
  CAF_CHECK_EQUAL(total, 200000.0);
  uint64_t samples = 0;
  for (auto& s : d->series)
    samples += s.distribution->count();
  CAF_CHECK_EQUAL(samples, 200000u);
}
