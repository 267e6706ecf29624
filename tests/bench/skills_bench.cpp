// Tracked vs untracked actors, measured side by side in one run:
//   fan-in:    20 senders -> 1 receiver, 4 M messages
//   ping-pong: 4 pairs bouncing a counter, 1 M hops in all
//   snapshot:  top-20 by mailbox of 100 000 tracked actors
// Rounds alternate untracked/tracked (odd rounds tracked first); the median
// of each is reported.
// Usage: caflens-skills-bench [rounds=5] [all|fan-in|ping-pong|snapshot]
//                             [both|tracked|untracked]
// (one workload or one variant alone: for profilers and instruction counts)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracked.hpp"

using namespace caf;
using namespace caflens::skills;
using clk = std::chrono::steady_clock;

namespace {

constexpr int senders = 20;
constexpr int per_sender = 200'000;
constexpr int batch = 500;
constexpr int pairs = 4;
constexpr int hops_per_pair = 250'000;

using go_atom = atom_constant<atom("go")>;

behavior receiver(event_based_actor* self, int expected,
                  std::promise<void>* done) {
  auto count = std::make_shared<int>(0);
  return {[=](int) {
    if (++*count == expected)
      done->set_value();
  }};
}

behavior sender(event_based_actor* self, actor target, int remaining) {
  auto left = std::make_shared<int>(remaining);
  return {[=](go_atom) {
    auto n = std::min(*left, batch);
    for (int i = 0; i < n; ++i)
      self->send(target, i);
    *left -= n;
    if (*left > 0)
      self->send(self, go_atom::value);
  }};
}

behavior ponger(event_based_actor* self, std::atomic<int>* finished,
                std::promise<void>* done) {
  return {[=](int n, actor other) {
    if (n == 0) {
      if (finished->fetch_add(1) + 1 == pairs)
        done->set_value();
      return;
    }
    self->send(other, n - 1, actor_cast<actor>(self));
  }};
}

template <bool Tracked, class F, class... Ts>
actor make(actor_system& sys, const char* kind, F fun, Ts&&... xs) {
  if constexpr (Tracked)
    return spawn_tracked(sys, tracking_info{"", kind, 0}, fun,
                         std::forward<Ts>(xs)...);
  else
    return sys.spawn(fun, std::forward<Ts>(xs)...);
}

// Wall-clock throughput and process CPU time per message of one run (CPU
// time is less sensitive to other processes on a busy machine).
struct run_result {
  double rate = 0;
  double cpu_ns_per_msg = 0;
};

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

run_result result_of(double n, clk::time_point t0, double cpu0) {
  auto secs = std::chrono::duration<double>(clk::now() - t0).count();
  return {n / secs, (cpu_seconds() - cpu0) * 1e9 / n};
}

template <bool Tracked>
run_result fan_in(actor_system& sys) {
  std::promise<void> done;
  auto f = done.get_future();
  auto r = make<Tracked>(sys, "receiver", receiver, senders * per_sender,
                         &done);
  std::vector<actor> ss;
  for (int i = 0; i < senders; ++i)
    ss.push_back(make<Tracked>(sys, "sender", sender, r, per_sender));
  auto cpu0 = cpu_seconds();
  auto t0 = clk::now();
  for (auto& s : ss)
    anon_send(s, go_atom::value);
  f.wait();
  auto res = result_of(senders * per_sender, t0, cpu0);
  for (auto& s : ss)
    anon_send_exit(s, exit_reason::user_shutdown);
  anon_send_exit(r, exit_reason::user_shutdown);
  return res;
}

template <bool Tracked>
run_result ping_pong(actor_system& sys) {
  std::promise<void> done;
  auto f = done.get_future();
  std::atomic<int> finished{0};
  std::vector<actor> as;
  for (int i = 0; i < 2 * pairs; ++i)
    as.push_back(make<Tracked>(sys, "ponger", ponger, &finished, &done));
  auto cpu0 = cpu_seconds();
  auto t0 = clk::now();
  for (int i = 0; i < pairs; ++i)
    anon_send(as[2 * i], hops_per_pair, as[2 * i + 1]);
  f.wait();
  auto res = result_of(pairs * hops_per_pair, t0, cpu0);
  for (auto& a : as)
    anon_send_exit(a, exit_reason::user_shutdown);
  return res;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

double quantile(std::vector<double> xs, double q) {
  std::sort(xs.begin(), xs.end());
  return xs[static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5)];
}

// Medians of each variant, then the loss of each round's pair (the two runs
// next to each other: the least drift) as median and quartiles.
void report(const char* name, const std::vector<run_result>& plain,
            const std::vector<run_result>& tracked) {
  auto rates = [](const std::vector<run_result>& xs) {
    std::vector<double> r;
    for (auto& x : xs)
      r.push_back(x.rate);
    return r;
  };
  auto cpus = [](const std::vector<run_result>& xs) {
    std::vector<double> r;
    for (auto& x : xs)
      r.push_back(x.cpu_ns_per_msg);
    return r;
  };
  if (plain.empty() || tracked.empty()) {
    auto& xs = plain.empty() ? tracked : plain;
    std::printf("%-10s %s %8.2f M msg/s   CPU %6.0f ns/msg\n", name,
                plain.empty() ? "tracked" : "untracked",
                median(rates(xs)) / 1e6, median(cpus(xs)));
    return;
  }
  auto p = median(rates(plain)), t = median(rates(tracked));
  std::printf("%-10s untracked %8.2f M msg/s   tracked %8.2f M msg/s   "
              "loss %5.1f %%\n",
              name, p / 1e6, t / 1e6, 100.0 * (p - t) / p);
  std::vector<double> losses, cpu_costs;
  for (size_t i = 0; i < std::min(plain.size(), tracked.size()); ++i) {
    losses.push_back(100.0 * (plain[i].rate - tracked[i].rate)
                     / plain[i].rate);
    cpu_costs.push_back(100.0
                        * (tracked[i].cpu_ns_per_msg
                           - plain[i].cpu_ns_per_msg)
                        / plain[i].cpu_ns_per_msg);
  }
  std::printf("%-10s per-round loss %%:", "");
  for (auto x : losses)
    std::printf(" %.1f", x);
  std::printf("\n%-10s per-round CPU/msg cost %%:", "");
  for (auto x : cpu_costs)
    std::printf(" %.1f", x);
  std::printf("\n");
  std::printf("%-10s paired loss %5.1f %% (quartiles %.1f .. %.1f)   "
              "CPU/msg %4.0f vs %4.0f ns, paired %+5.1f %% (quartiles %.1f "
              ".. %.1f)\n",
              "", median(losses), quantile(losses, 0.25),
              quantile(losses, 0.75), median(cpus(plain)),
              median(cpus(tracked)), median(cpu_costs),
              quantile(cpu_costs, 0.25), quantile(cpu_costs, 0.75));
}

void snapshot_bench(actor_system& sys) {
  constexpr int n = 100'000;
  std::vector<actor> idle;
  idle.reserve(n);
  for (int i = 0; i < n; ++i)
    idle.push_back(spawn_tracked(sys, tracking_info{"", "idle", 0},
                                 [](event_based_actor*) -> behavior {
                                   return {[](int) {}};
                                 }));
  auto& table = process_table::global();
  std::vector<double> ms;
  for (int round = 0; round < 5; ++round) {
    auto t0 = clk::now();
    auto top = table.top(20);
    ms.push_back(
      std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    if (top.size() != 20)
      std::abort();
  }
  std::printf("snapshot   top-20 by mailbox of %zu tracked actors: "
              "median %.2f ms (min %.2f)\n",
              table.size(), median(ms), *std::min_element(ms.begin(), ms.end()));
  for (auto& a : idle)
    anon_send_exit(a, exit_reason::user_shutdown);
}

} // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::string workload = argc > 2 ? argv[2] : "all";
  std::string variant = argc > 3 ? argv[3] : "both";
  bool plain = variant != "tracked", tracked = variant != "untracked";
  auto runs = [&](const char* name) {
    return workload == "all" || workload == name;
  };
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  std::vector<run_result> fp, ft, pp, pt;
  for (int i = 0; i < rounds; ++i) {
    // Odd rounds run the tracked variant first: no bias from the order.
    bool tracked_first = i % 2 == 1;
    if (runs("fan-in")) {
      if (tracked && tracked_first)
        ft.push_back(fan_in<true>(sys));
      if (plain)
        fp.push_back(fan_in<false>(sys));
      if (tracked && !tracked_first)
        ft.push_back(fan_in<true>(sys));
    }
    if (runs("ping-pong")) {
      if (tracked && tracked_first)
        pt.push_back(ping_pong<true>(sys));
      if (plain)
        pp.push_back(ping_pong<false>(sys));
      if (tracked && !tracked_first)
        pt.push_back(ping_pong<true>(sys));
    }
  }
  std::printf("rounds: %d (median), scheduler threads: 2\n", rounds);
  if (runs("fan-in"))
    report("fan-in", fp, ft);
  if (runs("ping-pong"))
    report("ping-pong", pp, pt);
  if (runs("snapshot"))
    snapshot_bench(sys);
}
