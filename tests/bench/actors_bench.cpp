// Benchmarks of the investigation engine (DESIGN.md section 6): framework
// work per loop iteration (scripted brain, no LLM) within 1 ms, and the cost
// of a dormant lens (no threads, no CPU, at most 2 MB).
#include <benchmark/benchmark.h>

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <dirent.h>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/caflens.hpp"
#include "caflens/llm/scripted_brain.hpp"
#include "caflens/skills/process_table.hpp"

namespace {

using namespace caflens;
using json = nlohmann::json;

llm::tool_call call(std::string name, json args = json::object()) {
  llm::tool_call c;
  c.name = std::move(name);
  c.arguments = std::move(args);
  return c;
}

skills::skill_ptr bench_skill() {
  skills::skill_definition def;
  def.name = "alpha";
  def.title = "alpha";
  def.description = "benchmark skill";
  def.system_prompt = "You inspect alpha.";
  def.snapshot = [] {
    json top = json::array();
    for (int i = 0; i < 20; ++i)
      top.push_back({{"name", "worker-" + std::to_string(i)},
                     {"mailbox_depth", i * 10},
                     {"processed", i * 1000}});
    return json{{"captured_at_ns", 1}, {"top_by_mailbox", top}};
  };
  def.detect = [](const json&, const std::vector<json>&) {
    return std::vector<skills::finding>{
      {"mailbox_growth", severity::warning, "worker-7 mailbox 5000",
       {"worker-7"}, json{{"mailbox_depth", 5000}}}};
  };
  return skills::make_skill(std::move(def));
}

// One investigation: the coordinator invokes one operator, waits, reads
// notifications, produces an insight, thinks `extra` times and finishes; the
// operator snapshots, notifies, sets its state, thinks `extra` times and
// finishes. Reports the wall time per loop iteration (both loops).
void BM_loop_iteration(benchmark::State& state) {
  auto extra = static_cast<int>(state.range(0));
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<llm::tool_call> op{
    call("take_snapshot"),
    call("send_notification", {{"type", "mailbox_growth"},
                               {"severity", "warning"},
                               {"context", {{"mailbox_depth", 5000}}},
                               {"observation", "worker-7 mailbox 5000"},
                               {"snapshot_ids", {"s-1"}},
                               {"actors", {"worker-7"}}}),
    call("set_state", {{"state", "warning"}, {"reason", "backlog"}})};
  std::vector<llm::tool_call> co{
    call("invoke_operators", {{"skills", {"alpha"}}}),
    call("wait", {{"ms", 60000}}),
    call("get_notifications", {{"status", "all"}})};
  for (int i = 0; i < extra; ++i) {
    op.push_back(call("think", {{"thought", "step " + std::to_string(i)}}));
    co.push_back(call("think", {{"thought", "step " + std::to_string(i)}}));
  }
  op.push_back(call("done", {{"summary", "ok"}}));
  co.push_back(call("get_operator_statuses"));
  co.push_back(call("done", {{"summary", "ok"}}));
  config lc;
  lc.builtin_skills = false;
  lc.skills = {bench_skill()};
  lc.brain = [&](const brain_request& req) -> std::unique_ptr<llm::brain> {
    return std::make_unique<llm::scripted_brain>(
      req.role == "coordinator" ? co : op);
  };
  auto lens = start(sys, lc);
  if (!lens) {
    state.SkipWithError("start failed");
    return;
  }
  int64_t iterations = 0;
  for (auto _ : state) {
    auto res = lens->investigate("benchmark");
    if (!res) {
      state.SkipWithError("investigate failed");
      break;
    }
    iterations += res->iterations;
    for (auto& o : res->operators)
      iterations += o.iterations;
  }
  state.counters["iterations_per_run"] = benchmark::Counter(
    static_cast<double>(iterations) / state.iterations());
  // kIsRate divides by the elapsed time; kInvert turns iterations per
  // second into seconds per iteration.
  state.counters["s_per_loop_iteration"] = benchmark::Counter(
    static_cast<double>(iterations),
    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  lens->stop();
}

int count_threads() {
  int n = 0;
  if (auto* d = opendir("/proc/self/task")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    closedir(d);
  }
  return n;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// A dormant lens: threads, heap bytes and CPU of an idle actor system with
// and without a lens (built-in skills, rule brain). One measurement per
// benchmark iteration; the counters hold the lens's extra cost.
void BM_dormant_lens(benchmark::State& state) {
  for (auto _ : state) {
    caf::actor_system_config cfg;
    add_message_types(cfg);
    caf::actor_system sys{cfg};
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    auto threads0 = count_threads();
    auto heap0 = mallinfo2().uordblks;
    auto cpu0 = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds{1});
    auto idle_cpu = cpu_seconds() - cpu0;
    auto lens = start(sys);
    if (!lens) {
      state.SkipWithError("start failed");
      return;
    }
    lens->status(); // the tree is up
    auto threads1 = count_threads();
    auto heap1 = mallinfo2().uordblks;
    auto cpu1 = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds{1});
    auto lens_cpu = cpu_seconds() - cpu1;
    state.counters["extra_threads"] = threads1 - threads0;
    state.counters["heap_bytes"] = static_cast<double>(heap1 - heap0);
    state.counters["idle_cpu_ms_per_s_without"] = idle_cpu * 1000;
    state.counters["idle_cpu_ms_per_s_with"] = lens_cpu * 1000;
    lens->stop();
  }
}

// An investigation over 10 000 tracked actors (a private process table,
// counters set directly) of which 100 hold a backlog of 2 000 messages: 100
// findings of the actors skill (lists of 100 entries), plus their peer
// outliers. Rule brain, every built-in skill. Arg 0: one look per operator
// (the framework's and the skills' work); arg 1: the skills' sample plans
// (three looks 300-400 ms apart: the time a real investigation takes).
// Counters: result JSON bytes, notifications, insights, culprits.
void BM_investigation_10k_actors(benchmark::State& state) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  skills::process_table table;
  std::vector<caf::intrusive_ptr<skills::actor_stats>> stats;
  for (uint64_t i = 0; i < 10'000; ++i) {
    auto kind = "worker_kind_" + std::to_string(i % 10);
    auto s = table.add(1'000'000 + i, {},
                       {"worker-" + std::to_string(i), kind, 7}, "bench");
    s->enqueued.store(i % 100 == 0 ? 2000 : 0);
    stats.push_back(s);
  }
  config lc;
  lc.processes = &table;
  lc.skill_limits.max_entries = 100;
  lc.skill_limits.max_snapshot_bytes = 256 * 1024;
  lc.rule.sample_interval = state.range(0) == 0 ? std::chrono::milliseconds{0}
                                                : std::chrono::milliseconds{
                                                    400};
  auto lens = start(sys, lc);
  if (!lens) {
    state.SkipWithError("start failed");
    return;
  }
  size_t bytes = 0, notes = 0, insights = 0, culprits = 0;
  for (auto _ : state) {
    auto res = lens->investigate("mailbox backlog in the worker pool");
    if (!res) {
      state.SkipWithError("investigate failed");
      break;
    }
    bytes = to_json(*res).dump().size();
    notes = res->notifications.size();
    insights = res->insights.size();
    culprits = 0;
    for (auto& i : res->insights)
      culprits += i.culprits.size();
  }
  state.counters["result_bytes"] = static_cast<double>(bytes);
  state.counters["notifications"] = static_cast<double>(notes);
  state.counters["insights"] = static_cast<double>(insights);
  state.counters["culprits"] = static_cast<double>(culprits);
  lens->stop();
}

} // namespace

BENCHMARK(BM_investigation_10k_actors)->Arg(0)->Arg(1)
  ->Unit(benchmark::kMillisecond)->UseRealTime();

// Loop iteration time = wall time per run / iterations_per_run.
BENCHMARK(BM_loop_iteration)->Arg(0)->Arg(20)->Unit(benchmark::kMicrosecond)
  ->UseRealTime();
BENCHMARK(BM_dormant_lens)->Iterations(1)->Unit(benchmark::kMillisecond)
  ->UseRealTime();

BENCHMARK_MAIN();
