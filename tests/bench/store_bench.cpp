// The store: investigations per second through the store sink (one
// transaction per batch of 64), on a file in /tmp.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include <unistd.h>

#include "caflens/store/store.hpp"

using namespace caflens;

namespace {

nlohmann::json result(int64_t i) {
  return {{"trace_id", "t" + std::to_string(i)},
          {"reason", "queue depth over 1000"},
          {"trigger", "alert"},
          {"insights",
           {{{"pattern", "slow_consumer"},
             {"severity", "warning"},
             {"culprits", {"worker-2"}},
             {"summary", "worker-2 handles 111 msg/s, receives 852"}}}},
          {"notifications",
           {{{"id", "n-1"}, {"skill", "actors"}, {"severity", "warning"},
             {"summary", "mailbox 1484 and growing"}},
            {{"id", "n-2"}, {"skill", "scheduler"}, {"severity", "info"},
             {"summary", "threads busy"}}}},
          {"started_at", 1'796'000'000'000 + i},
          {"finished_at", 1'796'000'001'500 + i},
          {"brain", "rule"},
          {"node", "n1"}};
}

void BM_store_investigations(benchmark::State& state) {
  char tmpl[] = "/tmp/caflens-store-bench-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  store::store_options o;
  o.path = dir + "/bench.db";
  o.max_age = std::chrono::hours{0};
  o.max_investigations = 0;
  sinks::sink_options so;
  so.max_batch = 64;
  so.max_queue = 1 << 20;
  auto s = store::store_sink::open(so, o);
  int64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < 64; ++k)
      (*s)->consume(store::result_record(result(i++)));
    (*s)->export_once();
  }
  (*s)->shutdown();
  state.SetItemsProcessed(state.iterations() * 64);
  s->reset();
  for (auto suffix : {"", "-wal", "-shm"})
    std::remove((o.path + suffix).c_str());
  ::rmdir(dir.c_str());
}
BENCHMARK(BM_store_investigations)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
