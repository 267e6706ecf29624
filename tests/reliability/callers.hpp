// The callers of the chaos programs: threads that run investigations one
// after another and record what each answer was and how long it took.
#pragma once

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "caflens/caflens.hpp"

namespace reliability {

/// What the callers of a run saw.
struct caller_results {
  /// "complete", "partial" or "error: <its text>", counted.
  std::map<std::string, int> outcomes;
  /// Each caller's wait, in the order the answers came.
  std::vector<double> waits_ms;
  /// Answers that came later than the bound (plus 1 s of slack).
  int late = 0;
  /// The live heap once half of the investigations were answered.
  int64_t half_heap = 0;
};

/// Runs investigations 0..total-1 from `callers` threads: `ask(i)` runs
/// investigation i and returns its result. After each answer, `seen(r,
/// results)` runs under the lock that guards `results`.
template <class Ask, class Seen>
caller_results run_callers(int total, int callers,
                           std::chrono::milliseconds bound, Ask ask,
                           Seen seen) {
  caller_results results;
  std::mutex mtx;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < callers; ++k)
    threads.emplace_back([&] {
      for (;;) {
        int i = next++;
        if (i >= total)
          return;
        auto start = std::chrono::steady_clock::now();
        caf::expected<caflens::investigation_result> r = ask(i);
        auto waited = std::chrono::steady_clock::now() - start;
        std::string outcome;
        if (r)
          outcome = r->partial ? "partial" : "complete";
        else
          outcome = "error: " + caflens::render_error(r.error()).substr(0, 60);
        std::lock_guard<std::mutex> guard{mtx};
        ++results.outcomes[outcome];
        results.waits_ms.push_back(
          std::chrono::duration<double, std::milli>(waited).count());
        if (results.waits_ms.size() == static_cast<size_t>(total / 2)) {
          auto mi = mallinfo2();
          results.half_heap = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
        }
        if (waited > bound + std::chrono::seconds{1})
          ++results.late;
        seen(r, results);
      }
    });
  for (auto& t : threads)
    t.join();
  return results;
}

} // namespace reliability
