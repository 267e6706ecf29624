// caflens-load: what the application loses while caflens looks at it.
//
//   caflens-load [--producers P] [--aggregators A] [--window W] [--work N]
//                [--investigations K] [--quiet-ms MS]
//                [--idle-actors M] [--snapshot-ms MS] [--max-throughput N]
//                [--isolated] [--json]
//
// The application is a fan-in: P tracked producers keep W requests each in
// flight to A tracked aggregators (producer i asks aggregator i % A), which
// spend N rounds of integer mixing on every request and answer it. Its
// throughput is the number of answers per second.
//
// Investigations: K rounds of a quiet window (MS ms), then an investigation
// (rule brain, every built-in skill, its sample plans: the looks of a real
// investigation, about a second). The drop of a round is one minus the
// throughput during the investigation over the mean of the quiet windows
// before and after it.
//
// Snapshots: M more tracked actors, idle, join the table, then quiet
// windows alternate with windows in which the actors skill is snapshotted
// back to back (each snapshot walks the whole process table). A meter
// thread reads the answer counter every millisecond: the longest time
// without an answer, quiet and during the snapshots, shows whether the
// actors were paused.
//
// The scheduler lets an actor handle at most 100 messages before it yields
// its thread (`--max-throughput`; 0 is CAF's default, unlimited). When the
// load keeps every worker busy, CAF's workers run the work their own actors
// make before anything sent from another thread, so the lens's actors wait,
// and an investigation fails with an error that says so, unless the lens
// has threads of its own (`--isolated`, `config.isolated`).
//
// Prints one summary (text or JSON). A benchmark, not a test: exits 1 only
// when an investigation or a snapshot fails, never on a figure.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/tracked.hpp"

using namespace caflens;
using namespace std::chrono_literals;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  int producers = 64;
  int aggregators = 4;
  int window = 4;
  int work = 2000;
  int investigations = 10;
  int quiet_ms = 2000;
  int idle_actors = 100'000;
  int snapshot_ms = 2000;
  bool isolated = false;
  /// caf.scheduler.max-throughput (0: CAF's default, unlimited).
  int max_throughput = 100;
  bool json = false;
};

[[noreturn]] void usage(const char* why) {
  std::cerr << "caflens-load: " << why
            << "\nusage: caflens-load [--producers P] [--aggregators A] "
               "[--window W] [--work N] [--investigations K] "
               "[--quiet-ms MS] [--idle-actors M] [--snapshot-ms MS] "
               "[--max-throughput N] [--isolated] [--json]\n";
  std::exit(2);
}

options parse(int argc, char** argv) {
  options opts;
  auto number = [&](int& i, int& out, int min) {
    if (i + 1 >= argc)
      usage("a number is missing");
    char* end = nullptr;
    auto v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < min || v > 10'000'000)
      usage("a number is out of range");
    out = static_cast<int>(v);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--producers")
      number(i, opts.producers, 1);
    else if (a == "--aggregators")
      number(i, opts.aggregators, 1);
    else if (a == "--window")
      number(i, opts.window, 1);
    else if (a == "--work")
      number(i, opts.work, 0);
    else if (a == "--investigations")
      number(i, opts.investigations, 0);
    else if (a == "--quiet-ms")
      number(i, opts.quiet_ms, 100);
    else if (a == "--idle-actors")
      number(i, opts.idle_actors, 0);
    else if (a == "--snapshot-ms")
      number(i, opts.snapshot_ms, 100);
    else if (a == "--max-throughput")
      number(i, opts.max_throughput, 0);
    else if (a == "--isolated")
      opts.isolated = true;
    else if (a == "--json")
      opts.json = true;
    else
      usage(("unknown option " + a).c_str());
  }
  return opts;
}

// -- the application ----------------------------------------------------------

/// Work per request that the compiler cannot drop.
uint64_t mix(uint64_t x, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
  }
  return x;
}

caf::behavior aggregator(caf::event_based_actor*, int work) {
  return {[work](uint64_t x) -> uint64_t { return mix(x, work); }};
}

struct producer_state {
  caf::actor target;
  std::atomic<uint64_t>* answers = nullptr;
  uint64_t seq = 0;
};

using producer_actor = caf::stateful_actor<producer_state>;

void fire(producer_actor* self) {
  self->request(self->state.target, caf::infinite, self->state.seq++)
    .then([self](uint64_t) {
      self->state.answers->fetch_add(1, std::memory_order_relaxed);
      fire(self);
    });
}

caf::behavior producer(producer_actor* self, caf::actor target,
                       std::atomic<uint64_t>* answers, int window) {
  self->state.target = std::move(target);
  self->state.answers = answers;
  for (int i = 0; i < window; ++i)
    fire(self);
  return {[](const std::string&) {}};
}

caf::behavior idle(caf::event_based_actor*) {
  return {[](int32_t) {}};
}

// -- measuring ----------------------------------------------------------------

double seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

double percentile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

/// Answers per second over [t0, t1).
struct window_rate {
  double rate = 0;
  double seconds = 0;
};

class meter {
public:
  explicit meter(const std::atomic<uint64_t>& answers) : answers_(&answers) {
  }

  void start() {
    t0_ = clock_type::now();
    n0_ = answers_->load();
  }

  window_rate stop() const {
    auto t1 = clock_type::now();
    auto n1 = answers_->load();
    auto s = seconds(t1 - t0_);
    return {static_cast<double>(n1 - n0_) / s, s};
  }

  window_rate quiet(std::chrono::milliseconds ms) {
    start();
    std::this_thread::sleep_for(ms);
    return stop();
  }

private:
  const std::atomic<uint64_t>* answers_;
  clock_type::time_point t0_;
  uint64_t n0_ = 0;
};

/// Reads the answer counter every millisecond from a thread of its own and
/// keeps, per phase, the longest time in which no answer came: how long the
/// application was paused.
class stall_meter {
public:
  explicit stall_meter(const std::atomic<uint64_t>& answers)
    : answers_(&answers) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~stall_meter() {
    stop_ = true;
    thread_.join();
  }

  /// Starts phase `p` (0 or 1; -1: none).
  void phase(int p) {
    std::lock_guard<std::mutex> guard{mtx_};
    phase_ = p;
  }

  double longest_ms(int p) {
    std::lock_guard<std::mutex> guard{mtx_};
    return longest_[p];
  }

private:
  void run() {
    auto last = answers_->load();
    auto since = clock_type::now();
    while (!stop_) {
      std::this_thread::sleep_for(1ms);
      auto now = clock_type::now();
      auto n = answers_->load();
      std::lock_guard<std::mutex> guard{mtx_};
      if (n != last) {
        last = n;
        since = now;
      } else if (phase_ >= 0) {
        longest_[phase_]
          = std::max(longest_[phase_], seconds(now - since) * 1000);
      }
    }
  }

  const std::atomic<uint64_t>* answers_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mtx_;
  int phase_ = -1;
  double longest_[2] = {0, 0};
};

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  caf::actor_system_config cfg;
  add_message_types(cfg);
  if (opts.max_throughput > 0)
    cfg.set("scheduler.max-throughput",
            static_cast<size_t>(opts.max_throughput));
  caf::actor_system sys{cfg};
  config lc;
  lc.isolated = opts.isolated;
  auto lens = start(sys, lc);
  if (!lens) {
    std::cerr << "caflens-load: start failed: " << to_string(lens.error())
              << "\n";
    return 1;
  }
  int failures = 0;
  json report;
  report["options"] = {{"producers", opts.producers},
                       {"aggregators", opts.aggregators},
                       {"window", opts.window},
                       {"work", opts.work},
                       {"investigations", opts.investigations},
                       {"quiet_ms", opts.quiet_ms},
                       {"idle_actors", opts.idle_actors},
                       {"snapshot_ms", opts.snapshot_ms},
                       {"isolated", opts.isolated},
                       {"max_throughput", opts.max_throughput},
                       {"hardware_threads",
                        std::thread::hardware_concurrency()}};

  // The fan-in application.
  std::atomic<uint64_t> answers{0};
  std::vector<caf::actor> app;
  for (int i = 0; i < opts.aggregators; ++i)
    app.push_back(skills::spawn_tracked(
      sys, {"aggregator-" + std::to_string(i), "aggregator", 0}, aggregator,
      opts.work));
  for (int i = 0; i < opts.producers; ++i)
    app.push_back(skills::spawn_tracked(
      sys, {"producer-" + std::to_string(i), "producer", 0}, producer,
      app[static_cast<size_t>(i % opts.aggregators)], &answers, opts.window));
  meter m{answers};
  m.quiet(1s); // warm-up

  // Investigations while the load runs.
  std::vector<double> quiet_rates, during_rates, drops, durations;
  json rounds = json::array();
  auto before = m.quiet(std::chrono::milliseconds{opts.quiet_ms});
  for (int k = 0; k < opts.investigations; ++k) {
    m.start();
    auto t0 = clock_type::now();
    auto res = lens->investigate("throughput check under load");
    auto during = m.stop();
    auto took = seconds(clock_type::now() - t0);
    if (!res) {
      std::cerr << "caflens-load: investigation " << k
                << " failed: " << sys.render(res.error()) << "\n";
      ++failures;
    }
    auto after = m.quiet(std::chrono::milliseconds{opts.quiet_ms});
    auto base = (before.rate + after.rate) / 2;
    auto drop = base > 0 ? 100.0 * (1.0 - during.rate / base) : 0.0;
    quiet_rates.push_back(before.rate);
    during_rates.push_back(during.rate);
    drops.push_back(drop);
    durations.push_back(took * 1000);
    rounds.push_back({{"quiet_before_per_s", before.rate},
                      {"during_per_s", during.rate},
                      {"quiet_after_per_s", after.rate},
                      {"investigation_ms", took * 1000},
                      {"drop_pct", drop},
                      {"ok", static_cast<bool>(res)}});
    before = after;
  }
  if (opts.investigations > 0) {
    quiet_rates.push_back(before.rate);
    report["investigations"] = {
      {"rounds", rounds},
      {"quiet_median_per_s", percentile(quiet_rates, 0.5)},
      {"during_median_per_s", percentile(during_rates, 0.5)},
      {"investigation_median_ms", percentile(durations, 0.5)},
      {"drop_median_pct", percentile(drops, 0.5)},
      {"drop_worst_pct", *std::max_element(drops.begin(), drops.end())}};
  }

  // Snapshots of a large table while the load runs.
  if (opts.idle_actors > 0) {
    auto heap0 = mallinfo2().uordblks + mallinfo2().hblkhd;
    auto t0 = clock_type::now();
    std::vector<caf::actor> idles;
    idles.reserve(static_cast<size_t>(opts.idle_actors));
    for (int i = 0; i < opts.idle_actors; ++i)
      idles.push_back(skills::spawn_tracked(
        sys, {"session-" + std::to_string(i), "session", 0}, idle));
    auto spawn_s = seconds(clock_type::now() - t0);
    auto heap1 = mallinfo2().uordblks + mallinfo2().hblkhd;
    stall_meter p{answers};
    m.quiet(500ms);
    auto node = lens->node();
    std::vector<double> snap_ms;
    size_t snap_bytes = 0;
    // Alternate: quiet, snapshots back to back, quiet.
    p.phase(0);
    auto quiet1 = m.quiet(std::chrono::milliseconds{opts.snapshot_ms});
    p.phase(1);
    m.start();
    auto until = clock_type::now() + std::chrono::milliseconds{opts.snapshot_ms};
    do {
      auto s0 = clock_type::now();
      auto snap = lens->snapshot_of(node, "actors");
      snap_ms.push_back(seconds(clock_type::now() - s0) * 1000);
      if (!snap) {
        std::cerr << "caflens-load: snapshot failed: "
                  << sys.render(snap.error()) << "\n";
        ++failures;
        break;
      }
      snap_bytes = snap->data.size();
    } while (clock_type::now() < until);
    auto during = m.stop();
    p.phase(0);
    auto quiet2 = m.quiet(std::chrono::milliseconds{opts.snapshot_ms});
    p.phase(-1);
    auto base = (quiet1.rate + quiet2.rate) / 2;
    report["snapshots"] = {
      {"tracked_actors", opts.idle_actors + opts.aggregators + opts.producers
                           + 1},
      {"spawn_s", spawn_s},
      {"heap_bytes_per_idle_actor",
       static_cast<double>(heap1 - heap0) / opts.idle_actors},
      {"count", snap_ms.size()},
      {"snapshot_median_ms", percentile(snap_ms, 0.5)},
      {"snapshot_max_ms",
       snap_ms.empty() ? 0.0 : *std::max_element(snap_ms.begin(), snap_ms.end())},
      {"snapshot_bytes", snap_bytes},
      {"quiet_per_s", base},
      {"during_per_s", during.rate},
      {"drop_pct", base > 0 ? 100.0 * (1.0 - during.rate / base) : 0.0},
      {"longest_pause_quiet_ms", p.longest_ms(0)},
      {"longest_pause_during_ms", p.longest_ms(1)}};
    for (auto& a : idles)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (auto& a : app)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  lens->stop();
  report["failures"] = failures;
  if (opts.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    if (report.contains("investigations")) {
      auto& r = report["investigations"];
      std::printf("investigations: %d, median %.0f ms\n", opts.investigations,
                  r["investigation_median_ms"].get<double>());
      std::printf("  throughput quiet %.0f/s, during %.0f/s (medians)\n",
                  r["quiet_median_per_s"].get<double>(),
                  r["during_median_per_s"].get<double>());
      std::printf("  drop median %.1f %%, worst %.1f %%\n",
                  r["drop_median_pct"].get<double>(),
                  r["drop_worst_pct"].get<double>());
    }
    if (report.contains("snapshots")) {
      auto& s = report["snapshots"];
      std::printf("snapshots of %d tracked actors: %zu, median %.1f ms, "
                  "max %.1f ms, %zu bytes\n",
                  s["tracked_actors"].get<int>(), s["count"].get<size_t>(),
                  s["snapshot_median_ms"].get<double>(),
                  s["snapshot_max_ms"].get<double>(),
                  s["snapshot_bytes"].get<size_t>());
      std::printf("  spawned in %.2f s, %.0f heap bytes per idle actor\n",
                  s["spawn_s"].get<double>(),
                  s["heap_bytes_per_idle_actor"].get<double>());
      std::printf("  throughput quiet %.0f/s, during %.0f/s, drop %.1f %%\n",
                  s["quiet_per_s"].get<double>(),
                  s["during_per_s"].get<double>(),
                  s["drop_pct"].get<double>());
      std::printf("  longest time without an answer: quiet %.1f ms, during "
                  "%.1f ms\n",
                  s["longest_pause_quiet_ms"].get<double>(),
                  s["longest_pause_during_ms"].get<double>());
    }
    std::printf("failures: %d\n", failures);
  }
  return failures == 0 ? 0 : 1;
}
