// Benchmarks of caflens::supervision on CAF's real scheduler (2 threads).
//
//   BM_restart_latency        crash a child -> its replacement runs (observer)
//   BM_dynamic_children/10000 start 10 000 simple_one_for_one children, crash
//                             1 % and wait for their restarts, stop them all
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <benchmark/benchmark.h>

#include "caf/all.hpp"

#include "caflens/supervision/all.hpp"

namespace {

using namespace caflens::supervision;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using clock_type = std::chrono::steady_clock;

struct config : caf::actor_system_config {
  config() {
    set("scheduler.max-threads", size_t{2});
    set("logger.console-verbosity", caf::atom("quiet"));
    caflens::supervision::add_message_types(*this);
  }
};

caf::behavior worker_impl(caf::event_based_actor* self) {
  return {[self](crash_atom) { self->quit(caf::exit_reason::unknown); }};
}

/// Counts starts and remembers the latest child; lets the benchmark wait.
struct start_counter : child_observer {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t starts = 0;
  caf::actor last;

  void child_started(const child_event&, const caf::actor& x) override {
    std::lock_guard<std::mutex> guard{mtx};
    ++starts;
    last = x;
    cv.notify_all();
  }

  void child_exited(const child_event&, caf::actor_id,
                    const caf::error&) override {}

  void wait_for(uint64_t n) {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [&] { return starts >= n; });
  }
};

child_spec bench_worker(std::string id) {
  return worker(std::move(id), [](caf::actor_system& sys, const caf::message&) {
    return sys.spawn(worker_impl);
  });
}

void stop(caf::actor_system& sys, const caf::actor& sup) {
  caf::scoped_actor self{sys};
  self->monitor(sup);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
}

void BM_restart_latency(benchmark::State& state) {
  config cfg;
  caf::actor_system sys{cfg};
  auto obs = std::make_shared<start_counter>();
  supervisor_flags flags;
  flags.name = "bench";
  flags.intensity = 1u << 30;
  flags.observer = obs;
  auto sup = spawn_supervisor(sys, flags, {bench_worker("w")});
  obs->wait_for(1);
  uint64_t expected = 1;
  for (auto _ : state) {
    caf::actor child;
    {
      std::lock_guard<std::mutex> guard{obs->mtx};
      child = obs->last;
    }
    caf::anon_send(child, crash_atom::value);
    obs->wait_for(++expected);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  stop(sys, *sup);
}
BENCHMARK(BM_restart_latency)->UseRealTime();

void BM_dynamic_children(benchmark::State& state) {
  auto n = static_cast<size_t>(state.range(0));
  config cfg;
  caf::actor_system sys{cfg};
  double start_ms = 0, crash_ms = 0, stop_ms = 0;
  for (auto _ : state) {
    auto obs = std::make_shared<start_counter>();
    supervisor_flags flags;
    flags.name = "pool";
    flags.strategy = strategy::simple_one_for_one;
    flags.intensity = 1u << 30;
    flags.observer = obs;
    auto sup = *spawn_supervisor(sys, flags, {bench_worker("w")});
    caf::scoped_actor self{sys};
    std::vector<caf::actor> children;
    children.reserve(n);
    // Start all: n requests in flight, n replies.
    auto t0 = clock_type::now();
    for (size_t i = 0; i < n; ++i)
      self->send(sup, start_dynamic_child{});
    for (size_t i = 0; i < n; ++i)
      self->receive([&](caf::actor& x) { children.push_back(x); },
                    [](caf::error&) { std::abort(); });
    auto t1 = clock_type::now();
    // Crash 1 % and wait until all of them run again.
    auto crashes = n / 100;
    for (size_t i = 0; i < crashes; ++i)
      caf::anon_send(children[i * 100], crash_atom::value);
    obs->wait_for(n + crashes);
    auto t2 = clock_type::now();
    // Stop all.
    stop(sys, sup);
    auto t3 = clock_type::now();
    auto ms = [](auto d) {
      return std::chrono::duration<double, std::milli>(d).count();
    };
    start_ms += ms(t1 - t0);
    crash_ms += ms(t2 - t1);
    stop_ms += ms(t3 - t2);
  }
  auto iters = static_cast<double>(state.iterations());
  state.counters["start_all_ms"] = start_ms / iters;
  state.counters["crash_1pct_ms"] = crash_ms / iters;
  state.counters["stop_all_ms"] = stop_ms / iters;
}
BENCHMARK(BM_dynamic_children)
  ->Arg(10000)
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
