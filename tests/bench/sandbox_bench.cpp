// Benchmarks of caflens::sandbox (DESIGN.md section 6: a fresh sandbox plus a
// trivial script within 200 µs).
#include <benchmark/benchmark.h>

#include "caflens/sandbox/all.hpp"

namespace {

using namespace caflens::sandbox;
using nlohmann::json;

// A fresh state, the libraries, the base callbacks, "return 1", teardown.
void BM_execute_trivial(benchmark::State& state) {
  sandbox box;
  for (auto _ : state) {
    auto res = box.execute("return 1");
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_execute_trivial);

// As above with one callback round trip: a Lua table to JSON and back.
void BM_execute_callback_round_trip(benchmark::State& state) {
  sandbox box;
  std::vector<callback> callbacks{
    callback{"actors_top",
             {"n"},
             "top actors by mailbox",
             [](const std::vector<json>& args) -> caf::expected<json> {
               auto result = json::array();
               for (int64_t i = 0; i < args.at(0).get<int64_t>(); ++i)
                 result.push_back({{"name", "worker"}, {"mailbox", i}});
               return result;
             }},
  };
  for (auto _ : state) {
    auto res = box.execute("return actors_top(10)", callbacks);
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_execute_callback_round_trip);

// The cost of one callback call inside a running script.
void BM_callback_call(benchmark::State& state) {
  sandbox box;
  std::vector<callback> callbacks{
    callback{"echo",
             {"x"},
             "returns its argument",
             [](const std::vector<json>& args) -> caf::expected<json> {
               return args.at(0);
             }},
  };
  for (auto _ : state) {
    auto res = box.execute(
      "local t = {a = 1, b = 'x'} for i = 1, 1000 do t = echo(t) end return t",
      callbacks);
    benchmark::DoNotOptimize(res);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_callback_call);

// Lua work under the hook and guards: loops, string patterns, table.sort.
void BM_script_work(benchmark::State& state) {
  sandbox box;
  for (auto _ : state) {
    auto res = box.execute(R"(
      local t = {}
      for i = 1, 1000 do t[i] = (i * 7919) % 1009 end
      table.sort(t)
      local n = 0
      for w in ("alpha beta gamma delta"):rep(50, " "):gmatch("%a+") do
        n = n + #w
      end
      return n + t[1])");
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_script_work);

} // namespace

BENCHMARK_MAIN();
