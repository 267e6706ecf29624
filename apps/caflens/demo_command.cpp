// `caflens demo`: the upload pipeline of apps/demo with one fault injected,
// watched by alert rules; the first alert starts an investigation, whose
// progress goes to stderr and whose report (or JSON) goes to stdout.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <optional>
#include <iostream>
#include <mutex>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"

#include "caflens/caflens.hpp"
#include "caflens/dashboard/dashboard.hpp"
#include "caflens/demo/pipeline.hpp"
#include "caflens/sinks/alerts.hpp"
#include "caflens/store/store.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"
#include "caflens/telemetry/metrics.hpp"

#include "commands.hpp"
#include "progress.hpp"

namespace caflens::cli {

namespace {

using namespace std::chrono_literals;

} // namespace

int run_demo(const demo_options& opts) {
  progress say{opts.quiet};
  caf::actor_system_config cfg;
  demo_system_config(cfg);
  caf::actor_system sys{cfg};
  auto started = start_demo_app(sys);
  if (!started) {
    std::cerr << "caflens demo: the pipeline did not start: "
              << to_string(started.error()) << '\n';
    return 1;
  }
  auto& pipe = *started->pipe;
  demo::pipeline_options popts;
  say("upload pipeline up: " + std::to_string(popts.producers) +
      " producers x " + std::to_string(popts.uploads_per_second) +
      " uploads/s -> dispatcher -> upload_sup (" +
      std::to_string(popts.workers) + " workers) -> store -> catalog, billing");
  auto& lcfg = started->lens;
  // The demo's alert rules: the pipeline's limits as probes, evaluated by
  // the lens every 100 ms. The first that fires is the investigation's
  // trigger: the demo investigates with the alert's reason and fields (as
  // `alerts.investigate` would, but as the caller, so it holds the result).
  constexpr auto alert_interval = 100ms;
  for (auto& p : pipe.alert_probes()) {
    sinks::alert_rule r;
    r.name = p.name;
    r.kind = sinks::alert_kind::probe;
    r.metric = p.metric;
    r.probe = p.value;
    r.threshold = p.threshold;
    r.description = p.description;
    r.occurrences = static_cast<uint32_t>(p.hold / alert_interval) + 1;
    r.severity = "critical";
    lcfg.alerts.rules.push_back(std::move(r));
  }
  lcfg.alerts.interval = alert_interval;
  lcfg.alerts.investigate = false;
  struct first_alert {
    std::mutex mtx;
    std::condition_variable cv;
    std::optional<sinks::alert_event> event;
    std::chrono::steady_clock::time_point at;
  };
  auto fired = std::make_shared<first_alert>();
  lcfg.alerts.handlers.push_back([fired](const sinks::alert_event& e) {
    if (!e.fired)
      return;
    std::lock_guard<std::mutex> guard{fired->mtx};
    if (fired->event)
      return;
    fired->event = e;
    fired->at = std::chrono::steady_clock::now();
    fired->cv.notify_all();
  });
  // `--store FILE` keeps the investigation (`caflens history`); the
  // dashboard lists investigations from a temporary one without it.
  dashboard::options dopts;
  std::string temp_store;
  if (opts.dashboard) {
    if (auto err = dashboard::parse_listen(opts.dashboard_listen, dopts)) {
      std::cerr << "caflens demo: " << render_error(err) << '\n';
      pipe.stop();
      return 2;
    }
    dopts.token = opts.dashboard_token;
    if (auto* dir = std::getenv("CAFLENS_DASHBOARD_WEB_DIR"))
      dopts.web_dir = dir;
    if (opts.store.empty())
      temp_store = (std::filesystem::temp_directory_path()
                    / ("caflens-demo-" + std::to_string(::getpid()) + ".db"))
                     .string();
  }
  if (!opts.store.empty() || !temp_store.empty()) {
    lcfg.store = store::store_options{};
    lcfg.store->path = opts.store.empty() ? temp_store : opts.store;
  }
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << "caflens demo: caflens::start failed: "
              << to_string(lens.error()) << '\n';
    pipe.stop();
    return 1;
  }
  std::optional<dashboard::server> dash;
  if (opts.dashboard) {
    auto d = dashboard::server::start(*lens, dopts);
    if (!d) {
      std::cerr << "caflens demo: " << render_error(d.error()) << '\n';
      pipe.stop();
      lens->stop();
      sys.await_all_actors_done();
      return 1;
    }
    dash = std::move(*d);
    // A stop request during the run ends the demo after its report.
    install_stop_handlers();
    // Printed even with -q: it is what --dashboard asked for.
    std::cerr << "caflens demo: dashboard: " << dash->url() << std::endl;
  }
  say("caflens attached (dormant), skills: " + [&] {
    std::string out;
    for (auto& s : lens->skill_names())
      out += (out.empty() ? "" : ", ") + s;
    return out;
  }());
  say(std::to_string(lcfg.alerts.rules.size())
      + " alert rules, evaluated every "
      + std::to_string(alert_interval.count()) + " ms: " + [&] {
          std::string out;
          for (auto& r : lcfg.alerts.rules)
            out += (out.empty() ? "" : ", ") + r.name;
          return out;
        }());
  // Warm-up: traffic and latency baselines; the rules arm at the fault.
  say("warming up for " + std::to_string(opts.warmup.count()) + " ms");
  std::this_thread::sleep_for(opts.warmup);
  auto healthy = opts.scenario == demo::scenario::healthy;
  if (healthy)
    say("no fault injected (healthy control); a health check is scheduled "
        "in 1.5 s");
  else
    say("injecting " + std::string{demo::to_string(opts.scenario)} + ": " +
        std::string{demo::fault_description(opts.scenario)});
  auto injected_at = std::chrono::steady_clock::now();
  pipe.inject(opts.scenario);
  // Progress of the investigation, from the engine's telemetry.
  std::optional<progress_lines> lines;
  lines.emplace(say, "caflens.cli.demo.progress");
  say("watching the alert rules");
  // An alert within 10 s (1.5 s for the healthy control) starts the
  // investigation; otherwise the demo asks for a scheduled check itself.
  std::optional<sinks::alert_event> alert;
  std::chrono::steady_clock::time_point alert_at;
  {
    std::unique_lock<std::mutex> guard{fired->mtx};
    fired->cv.wait_until(guard, injected_at + (healthy ? 1500ms : 10'000ms),
                         [&] { return fired->event.has_value(); });
    alert = fired->event;
    alert_at = fired->at;
  }
  auto t0 = std::chrono::steady_clock::now();
  investigate_options iopts;
  std::string reason;
  if (alert) {
    reason = "alert " + alert->text();
    iopts.trigger = "alert";
    iopts.context = alert->to_json().dump();
    say("ALERT after "
        + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                           alert_at - injected_at)
                           .count())
        + " ms: " + reason);
  } else {
    reason = healthy ? std::string{"scheduled health check"}
                     : std::string{"scheduled health check (no alert within "
                                   "10.0 s)"};
    iopts.trigger = "schedule";
    say("scheduled check after "
        + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                           t0 - injected_at)
                           .count())
        + " ms: " + reason);
  }
  say("investigating: " + reason);
  auto result = lens->investigate(reason, iopts);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t0);
  lines.reset();
  int rc = 0;
  if (!result) {
    std::cerr << "caflens demo: the investigation failed: "
              << to_string(result.error()) << '\n';
    rc = 1;
  } else {
    say("investigation done in " + std::to_string(took.count()) + " ms (" +
        result->brain + " brain, " + std::to_string(result->insights.size()) +
        " insights, " + std::to_string(result->notifications.size()) +
        " notifications)");
    if (opts.json)
      std::cout << to_json(*result).dump(2) << '\n';
    else
      std::cout << render_report(*result);
    std::cout << std::flush;
  }
  if (dash) {
    std::cerr << "caflens demo: the demo keeps running for the dashboard at "
              << dash->url() << "; Ctrl-C stops it" << std::endl;
    wait_for_stop_signal();
    dash->stop();
  }
  say("stopping (blocked or awaiting actors exit when their wait ends)");
  pipe.stop();
  lens->stop();
  if (!temp_store.empty()) {
    std::error_code ec;
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(temp_store + suffix, ec);
  }
  // The alert probes read the pipeline: it outlives every actor.
  sys.await_all_actors_done();
  return rc;
}

void print_scenarios() {
  for (auto s : demo::all_scenarios()) {
    std::string name{demo::to_string(s)};
    name.resize(std::max<size_t>(name.size(), 21), ' ');
    std::cout << name << ' ' << demo::fault_description(s) << '\n';
  }
}

void demo_system_config(caf::actor_system_config& cfg) {
  caflens::add_message_types(cfg);
  // Blocking faults hold scheduler threads; keep enough of them.
  cfg.set("scheduler.max-threads", 4);
  cfg.set("logger.verbosity", caf::atom("quiet"));
}

caf::expected<demo_app> start_demo_app(caf::actor_system& sys) {
  skills::track_supervised_children();
  demo_app app;
  auto logs = std::make_shared<skills::log_buffer>();
  auto metrics = std::make_shared<telemetry::metric_registry>();
  demo::pipeline_options popts;
  popts.logs = logs;
  popts.metrics = metrics;
  auto started = demo::pipeline::start(sys, popts);
  if (!started)
    return std::move(started.error());
  app.pipe = std::move(*started);
  app.lens.logs = std::move(logs);
  app.lens.metrics = std::move(metrics);
  app.lens.thresholds = demo::demo_thresholds();
  app.lens.supervisors = {app.pipe->supervisor()};
  return app;
}


} // namespace caflens::cli
