// caflens-chaos: investigations while parts of the lens are killed.
//
//   caflens-chaos [--investigations N] [--callers C] [--seed S] [--json]
//                 [--spare-operators] [--spare-telemetry]
//                 [--scripted] [--curve K] [--retain N]
//
// The soak: --scripted --spare-operators --spare-telemetry --curve 1000
// --retain 2000 runs investigations with scripted brains (no sampling
// waits) and prints RSS, the store's size and wait percentiles every K.
//
// The demo upload pipeline runs with an error burst injected (a fault that
// holds no memory, so that RSS measures caflens) and a lens
// with a store and a JSONL sink. C caller threads run N investigations in
// all (each with a 4 s deadline, waiting at most deadline + 5 s), while a
// chaos thread kills, at random, every 40–160 ms a running operator
// (operator_sup's children) and every 0.6–1.8 s a child of telemetry_sup
// (the store writer, the alert evaluator or a sink). Every caller must get
// a result, a partial result or an error before its wait ends. Before the
// first and after the last investigation (once the lens is quiet) it counts
// the actors of the system, the process's threads, open descriptors, the
// live heap and RSS: actors, threads and descriptors must be back where they
// were, and the live heap may not grow by more than 8 MiB over the second
// half of the run (RSS is reported: it keeps the allocator's high-water
// mark). Prints one summary (text or JSON); exits 1 when a caller
// waited past its bound or something leaked.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include "caflens/caflens.hpp"
#include "caflens/demo/pipeline.hpp"
#include "caflens/llm/scripted_brain.hpp"
#include "caflens/sinks/file_sink.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/proc.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/telemetry/metrics.hpp"

#include "callers.hpp"
#include "process_counts.hpp"

using namespace caflens;
using reliability::measure;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct options {
  int investigations = 200;
  int callers = 2;
  uint64_t seed = 0;
  bool json = false;
  bool kill_operators = true;
  bool kill_telemetry = true;
  /// Scripted brains (the soak): investigations without sampling waits.
  bool scripted = false;
  /// Print RSS, store size and wait percentiles every this many (0: no).
  int curve = 0;
  /// The store's retention (investigations kept).
  size_t retain = 10'000;
};

/// The soak's brains: the coordinator asks three operators and collects;
/// each operator takes one look.
brain_factory scripted_brains() {
  return [](const brain_request& req) -> std::unique_ptr<llm::brain> {
    auto call = [](std::string name, json args) {
      llm::tool_call c;
      c.name = std::move(name);
      c.arguments = std::move(args);
      return c;
    };
    std::vector<llm::tool_call> script;
    if (req.role == "coordinator")
      script = {call("invoke_operators",
                     {{"skills", {"actors", "memory", "logs"}}}),
                call("wait", {{"ms", 2000}}),
                call("get_notifications", json::object()),
                call("done", {{"summary", "soak"}})};
    else
      script = {call("take_snapshot", json::object()),
                call("done", {{"summary", "looked"}})};
    return std::make_unique<llm::scripted_brain>(std::move(script));
  };
}

std::vector<caf::actor> children_of(caf::actor_system& sys,
                                    const caf::actor& sup) {
  std::vector<caf::actor> out;
  if (!sup)
    return out;
  caf::scoped_actor self{sys};
  self->request(sup, 1s, supervision::which_children{})
    .receive(
      [&](std::vector<supervision::child_info>& xs) {
        for (auto& x : xs)
          if (x.actor)
            out.push_back(x.actor);
      },
      [](caf::error&) {});
  return out;
}

caf::actor child_named(caf::actor_system& sys, const caf::actor& sup,
                       const std::string& id) {
  caf::actor out;
  caf::scoped_actor self{sys};
  self->request(sup, 1s, supervision::which_children{})
    .receive(
      [&](std::vector<supervision::child_info>& xs) {
        for (auto& x : xs)
          if (x.id == id)
            out = x.actor;
      },
      [](caf::error&) {});
  return out;
}

int usage(const std::string& why) {
  std::cerr << "caflens-chaos: " << why
            << "\nusage: caflens-chaos [--investigations N] [--callers C] "
               "[--seed S] [--json]\n"
               "                     [--spare-operators] [--spare-telemetry]\n"
               "                     [--scripted] [--curve K] [--retain N]\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  opts.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (a == "--investigations")
      opts.investigations = std::atoi(value().c_str());
    else if (a == "--callers")
      opts.callers = std::atoi(value().c_str());
    else if (a == "--seed")
      opts.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--json")
      opts.json = true;
    else if (a == "--scripted")
      opts.scripted = true;
    else if (a == "--curve")
      opts.curve = std::atoi(value().c_str());
    else if (a == "--retain")
      opts.retain = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--spare-operators")
      opts.kill_operators = false;
    else if (a == "--spare-telemetry")
      opts.kill_telemetry = false;
    else
      return usage("unknown argument '" + a + "'");
  }
  if (opts.investigations < 1 || opts.callers < 1)
    return usage("--investigations and --callers must be positive");
  ::setenv("CAFLENS_BRAIN", "rule", 1);
  auto dir = fs::temp_directory_path()
             / ("caflens-chaos-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", 4);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  int rc = 0;
  json summary;
  {
    caf::actor_system sys{cfg};
    skills::track_supervised_children();
    demo::pipeline_options popts;
    popts.logs = std::make_shared<skills::log_buffer>();
    popts.metrics = std::make_shared<telemetry::metric_registry>();
    auto pipe = demo::pipeline::start(sys, popts);
    if (!pipe) {
      std::cerr << "caflens-chaos: " << render_error(pipe.error()) << '\n';
      return 1;
    }
    config c;
    c.logs = (*pipe)->logs();
    c.metrics = (*pipe)->metrics();
    c.thresholds = demo::demo_thresholds();
    c.supervisors = {(*pipe)->supervisor()};
    c.store = store::store_options{};
    c.store->path = (dir / "caflens.db").string();
    c.store->max_investigations = opts.retain;
    if (opts.scripted)
      c.brain = scripted_brains();
    sinks::sink_options so;
    so.name = "chaos_jsonl";
    sinks::file_sink_options fo;
    fo.path = (dir / "events.jsonl").string();
    c.telemetry.sinks.push_back(sinks::file_sink_factory(so, fo));
    auto lens = caflens::start(sys, c);
    if (!lens) {
      std::cerr << "caflens-chaos: " << render_error(lens.error()) << '\n';
      (*pipe)->stop();
      return 1;
    }
    (*pipe)->inject(demo::scenario::error_burst);
    // Warm: one investigation, so that everything the lens starts lazily
    // (loops, the store's connection, sinks' files) exists before counting.
    (void) lens->investigate("warm-up");
    std::this_thread::sleep_for(500ms);
    auto before = measure(sys);

    constexpr int64_t deadline_ms = 4000;
    const auto bound = std::chrono::milliseconds{deadline_ms * opts.callers}
                       + 5s;
    json curve = json::array();
    std::atomic<bool> done{false};
    std::atomic<int> op_kills{0}, sink_kills{0};

    std::thread chaos{[&] {
      std::mt19937_64 rng{opts.seed};
      auto ops_sup = lens->operator_supervisor();
      auto telemetry_sup = child_named(sys, lens->root(), "telemetry_sup");
      auto next_sink = std::chrono::steady_clock::now() + 2s;
      while (!done) {
        std::this_thread::sleep_for(
          std::chrono::milliseconds{300 + rng() % 600});
        auto ops = opts.kill_operators ? children_of(sys, ops_sup)
                                       : std::vector<caf::actor>{};
        if (!ops.empty()) {
          caf::anon_send_exit(ops[rng() % ops.size()], caf::exit_reason::kill);
          ++op_kills;
        }
        if (opts.kill_telemetry
            && std::chrono::steady_clock::now() >= next_sink) {
          // A restarted telemetry_sup has a new handle: look it up again.
          telemetry_sup = child_named(sys, lens->root(), "telemetry_sup");
          auto xs = children_of(sys, telemetry_sup);
          if (!xs.empty()) {
            caf::anon_send_exit(xs[rng() % xs.size()],
                                caf::exit_reason::kill);
            ++sink_kills;
          }
          next_sink = std::chrono::steady_clock::now()
                      + std::chrono::milliseconds{2000 + rng() % 4000};
        }
      }
    }};

    auto t0 = std::chrono::steady_clock::now();
    auto results = reliability::run_callers(
      opts.investigations, opts.callers, bound,
      [&](int i) {
        investigate_options io;
        io.deadline_ms = deadline_ms;
        return lens->investigate("chaos #" + std::to_string(i), io, bound);
      },
      [&](const caf::expected<investigation_result>&,
          reliability::caller_results& res) {
        auto& waits_ms = res.waits_ms;
        if (opts.curve > 0 && waits_ms.size() % opts.curve == 0) {
          std::vector<double> last(waits_ms.end() - opts.curve,
                                   waits_ms.end());
          std::sort(last.begin(), last.end());
          uintmax_t bytes = 0;
          for (auto f : {"caflens.db", "caflens.db-wal"}) {
            std::error_code ec;
            auto n = fs::file_size(dir / f, ec);
            bytes += ec ? 0 : n;
          }
          curve.push_back(
            {{"n", waits_ms.size()},
             {"rss_mib", skills::proc::process().rss_bytes / double(1 << 20)},
             {"heap_in_use_mib", mallinfo2().uordblks / double(1 << 20)},
             {"store_mib", bytes / double(1 << 20)},
             {"p50_ms", last[last.size() / 2]},
             {"p99_ms", last[last.size() * 99 / 100]}});
          if (!opts.json)
            std::cerr << curve.back().dump() << std::endl;
        }
      });
    auto elapsed = std::chrono::steady_clock::now() - t0;
    done = true;
    chaos.join();
    // Quiet: operators of the last investigation end, supervisors restart
    // what was killed, sinks flush.
    std::this_thread::sleep_for(2s);
    (void) lens->flush_telemetry(5s);
    auto after = measure(sys);
    // The store still opens and holds what it was given.
    store::query all;
    all.limit = 10000;
    auto rows = lens->history(all);
    // A leak is live memory that keeps growing: the heap in use (not RSS,
    // which keeps the allocator's high-water mark of every thread's arena),
    // over the second half of the run (the first fills what is bounded:
    // the log ring, the store's page cache, metric windows).
    auto half_heap = results.half_heap != 0 ? results.half_heap : before.heap;
    int64_t heap_growth = after.heap - half_heap;
    bool leaked = reliability::leaked(before, after, half_heap);
    summary = {
      {"investigations", opts.investigations},
      {"callers", opts.callers},
      {"seed", opts.seed},
      {"seconds", std::chrono::duration<double>(elapsed).count()},
      {"outcomes", results.outcomes},
      {"late", results.late},
      {"wait_ms", reliability::percentiles(results.waits_ms)},
      {"kills", {{"operators", op_kills.load()}, {"telemetry_sup_children",
                                                  sink_kills.load()}}},
      {"stored", rows ? json(rows->size()) : json(render_error(rows.error()))},
      {"before", reliability::to_json(before)},
      {"after", reliability::to_json(after)},
      {"heap_growth_second_half_mib", heap_growth / double(1 << 20)},
      {"leaked", leaked}};
    summary["fds_opened"] = reliability::opened_since(before, after);
    if (opts.curve > 0)
      summary["curve"] = curve;
    if (getenv("CAFLENS_CHAOS_FDS")) {
      summary["fds_before"] = before.fd_paths;
      summary["fds_after"] = after.fd_paths;
    }
    if (results.late > 0 || leaked)
      rc = 1;
    (*pipe)->stop();
    lens->stop();
    sys.await_all_actors_done();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (opts.json) {
    std::cout << summary.dump() << '\n';
  } else {
    std::cout << summary.dump(2) << '\n'
              << (rc == 0 ? "PASS" : "FAIL") << ": every caller answered "
              << (summary["late"] == 0 ? "within its bound" : "LATE")
              << "; " << (summary["leaked"] == true ? "LEAK" : "no leak")
              << '\n';
  }
  return rc;
}
