// Tracked vs untracked actors, measured side by side in one run:
//   fan-in:    20 senders -> 1 receiver, 4 M messages
//   ping-pong: 4 pairs bouncing a counter, 1 M hops in all
//   snapshot:  top-20 by mailbox of 100 000 tracked actors
// Rounds alternate untracked/tracked; the median of each is reported.
// Usage: caflens-skills-bench [rounds=5]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
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

template <bool Tracked>
double fan_in(actor_system& sys) {
  std::promise<void> done;
  auto f = done.get_future();
  auto r = make<Tracked>(sys, "receiver", receiver, senders * per_sender,
                         &done);
  std::vector<actor> ss;
  for (int i = 0; i < senders; ++i)
    ss.push_back(make<Tracked>(sys, "sender", sender, r, per_sender));
  auto t0 = clk::now();
  for (auto& s : ss)
    anon_send(s, go_atom::value);
  f.wait();
  auto secs = std::chrono::duration<double>(clk::now() - t0).count();
  for (auto& s : ss)
    anon_send_exit(s, exit_reason::user_shutdown);
  anon_send_exit(r, exit_reason::user_shutdown);
  return senders * per_sender / secs;
}

template <bool Tracked>
double ping_pong(actor_system& sys) {
  std::promise<void> done;
  auto f = done.get_future();
  std::atomic<int> finished{0};
  std::vector<actor> as;
  for (int i = 0; i < 2 * pairs; ++i)
    as.push_back(make<Tracked>(sys, "ponger", ponger, &finished, &done));
  auto t0 = clk::now();
  for (int i = 0; i < pairs; ++i)
    anon_send(as[2 * i], hops_per_pair, as[2 * i + 1]);
  f.wait();
  auto secs = std::chrono::duration<double>(clk::now() - t0).count();
  for (auto& a : as)
    anon_send_exit(a, exit_reason::user_shutdown);
  return pairs * hops_per_pair / secs;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

void report(const char* name, std::vector<double>& plain,
            std::vector<double>& tracked) {
  auto p = median(plain), t = median(tracked);
  std::printf("%-10s untracked %8.2f M msg/s   tracked %8.2f M msg/s   "
              "loss %5.1f %%\n",
              name, p / 1e6, t / 1e6, 100.0 * (p - t) / p);
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
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  std::vector<double> fp, ft, pp, pt;
  for (int i = 0; i < rounds; ++i) {
    fp.push_back(fan_in<false>(sys));
    ft.push_back(fan_in<true>(sys));
    pp.push_back(ping_pong<false>(sys));
    pt.push_back(ping_pong<true>(sys));
  }
  std::printf("rounds: %d (median), scheduler threads: 2\n", rounds);
  report("fan-in", fp, ft);
  report("ping-pong", pp, pt);
  snapshot_bench(sys);
}
