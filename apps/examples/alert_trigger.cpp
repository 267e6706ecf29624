// Triggering an investigation from an alert: the application records its
// checkout latencies in the lens's metrics; an alert rule watches their p99.
// After 2 s of 50 ms checkouts, /pay takes 900 ms; the rule fires, and the
// lens investigates on its own (`config.alerts.investigate`, the default)
// with the alert's fields as context. The result goes to the store, where the
// application reads it: a latency_regression of route /pay.
//
//   build/apps/examples/alert_trigger
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <unistd.h>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/sinks/alerts.hpp"
#include "caflens/store/store.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace std::chrono_literals;
namespace sinks = caflens::sinks;
namespace tel = caflens::telemetry;

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto db = std::filesystem::temp_directory_path()
            / ("caflens-alert-trigger-" + std::to_string(::getpid()) + ".db");

  caflens::config cfg;
  // The application's latencies, one series per route, in windows of 100 ms
  // slots over a minute (the example runs for seconds, not hours).
  cfg.metrics = std::make_shared<tel::metric_registry>();
  auto checkout = tel::metric_definition::distribution(
    "shop.checkout.ms", {"shop", "checkout", "done"}, "ms", {"route"});
  checkout.window.slot_width = 100ms;
  checkout.window.slots = 600;
  cfg.metrics->add(checkout);
  cfg.thresholds.latency_recent_ms = 1000; // defaults: 1 and 15 minutes
  cfg.thresholds.latency_baseline_ms = 60'000;

  sinks::alert_rule slow;                      // p99 of a distribution
  slow.name = "checkout_p99";
  slow.kind = sinks::alert_kind::quantile;
  slow.metric = "shop.checkout.ms";
  slow.window = std::chrono::seconds{1};
  slow.threshold = 250;
  slow.occurrences = 10;                       // ten evaluations in a row ...
  cfg.alerts.interval = 100ms;                 // ... 100 ms apart: for 1 s
  slow.min_interval = std::chrono::minutes{5}; // then quiet for 5 minutes
  cfg.alerts.rules.push_back(slow);
  cfg.alerts.handlers.push_back([](const sinks::alert_event& e) {
    // On the evaluator's thread: must not block.
    std::cout << (e.fired ? "alert fired: " : "alert resolved: ") << e.text()
              << std::endl;
  });
  cfg.store = caflens::store::store_options{}; // where the result goes
  cfg.store->path = db.string();

  auto lens = caflens::start(sys, cfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }

  // Traffic: 100 checkouts a second on each of /cart and /pay.
  std::atomic<bool> degraded{false}, stop{false};
  std::thread traffic{[&] {
    while (!stop) {
      tel::execute({"shop", "checkout", "done"}, {{"ms", 50}},
                  {{"route", "/cart"}});
      tel::execute({"shop", "checkout", "done"},
                  {{"ms", degraded ? 900.0 : 50.0}}, {{"route", "/pay"}});
      std::this_thread::sleep_for(10ms);
    }
  }};
  std::this_thread::sleep_for(2s);
  std::cout << "/pay degrades to 900 ms" << std::endl;
  degraded = true;

  // The investigation the alert started, once the store has it.
  int rc = 1;
  for (int i = 0; i < 300 && rc != 0; ++i) {
    std::this_thread::sleep_for(100ms);
    auto rows = lens->history();
    if (!rows || rows->empty())
      continue;
    auto stored = lens->stored(rows->front().trace_id);
    if (!stored)
      continue;
    std::cout << "trigger: " << stored->row.trigger << '\n';
    if (auto res = caflens::investigation_result_from_json(stored->result)) {
      std::cout << caflens::render_report(*res);
      rc = 0;
    }
  }
  stop = true;
  traffic.join();
  lens->stop();
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(db.string() + suffix);
  return rc;
}
