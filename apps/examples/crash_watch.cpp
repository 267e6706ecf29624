// An actor that watches crashes through the lens: every operator crash,
// restart and give-up of the lens itself, and the crash loops of the
// application's own supervisors (`config.supervisors`).
//
//   build/apps/examples/crash_watch
//
// Prints one line per report; the application's worker crashes three times,
// its supervisor restarts it twice and then gives up (intensity 2).

#include <atomic>
#include <iostream>
#include <thread>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervisor.hpp"

using namespace caf;
namespace sv = caflens::supervision;

namespace {

std::atomic<int> reports{0};
std::atomic<bool> gave_up{false};

/// Logs every crash report it receives.
behavior crash_logger(event_based_actor* self, int) {
  // Reports it does not log (started, terminated, ...) are dropped.
  self->set_default_handler(drop);
  return {
    [](const caflens::operator_report& x) {
      std::cout << "operator " << x.skill << " " << to_string(x.event)
                << " (investigation " << x.trace_id << ", crash "
                << x.crashes << " of " << x.max_restarts + 1 << "): "
                << x.reason << std::endl;
      ++reports;
    },
    [](const sv::child_exited& x) {
      std::cout << x.supervisor << "/" << x.child_id << " exited: "
                << caflens::render_error(x.reason) << " ("
                << x.restarts_in_period << " restarts in the window)"
                << std::endl;
      ++reports;
    },
    [](const sv::child_restarted& x) {
      std::cout << x.supervisor << "/" << x.child_id << " restarted"
                << std::endl;
      ++reports;
    },
    [](const sv::intensity_exceeded& x) {
      std::cout << x.supervisor << " gave up: " << x.restarts
                << " restarts within " << x.period_ms / 1000 << " s"
                << std::endl;
      ++reports;
      gave_up = true;
    },
  };
}

behavior flaky_worker(event_based_actor* self, int) {
  return {[self](const std::string& cmd) {
    if (cmd == "crash")
      self->quit(make_error(sec::runtime_error, "disk full"));
  }};
}

} // namespace

int main() {
  actor_system_config cfg;
  caflens::add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  caflens::config lcfg;
  sv::supervisor_flags flags;
  flags.name = "ingest_sup";
  flags.intensity = 2;
  flags.period = std::chrono::seconds{10};
  auto app_sup = sv::spawn_supervisor(
    sys, flags,
    {sv::worker("ingest", [](actor_system& s, const message&)
                            -> sv::start_result { return s.spawn(flaky_worker, 0); })});
  if (!app_sup) {
    std::cerr << caflens::render_error(app_sup.error()) << '\n';
    return 1;
  }
  lcfg.supervisors = {*app_sup};
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  auto logger = sys.spawn(crash_logger, 0);
  lens->subscribe(logger);
  scoped_actor self{sys};
  int expected = 0;
  for (int i = 0; i < 3 && !gave_up; ++i) {
    // The current incarnation of the worker, then crash it.
    self->request(*app_sup, infinite, sv::which_children{})
      .receive(
        [&](std::vector<sv::child_info>& xs) {
          if (!xs.empty() && xs[0].actor)
            anon_send(xs[0].actor, std::string{"crash"});
        },
        [](error& e) { std::cerr << caflens::render_error(e) << '\n'; });
    // Wait until the logger has seen the exit (and the restart).
    expected += i < 2 ? 2 : 1;
    while (reports.load() < expected && !gave_up)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  while (!gave_up)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  lens->unsubscribe(logger);
  lens->stop();
  anon_send_exit(logger, exit_reason::user_shutdown);
  return 0;
}
