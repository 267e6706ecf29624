// Remediation, opt-in: the application registers the built-in action
// restart_child for its supervisor, allows it, and runs the lens in approve
// mode. The supervised `cache` crashes four times; an investigation finds
// the crash loop and proposes restarting it; a human (here: this program)
// approves the proposal, and the action runs.
//
//   build/apps/examples/remediation
#include <chrono>
#include <iostream>
#include <string>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervisor.hpp"

using namespace std::chrono_literals;
namespace sv = caflens::supervision;

namespace {

caf::behavior cache(caf::event_based_actor* self, int) {
  return {[self](const std::string& cmd) {
    if (cmd == "crash")
      self->quit(caf::make_error(caf::sec::runtime_error, "corrupt index"));
  }};
}

/// The supervisor's current `cache`.
caf::actor current_child(caf::actor_system& sys, const caf::actor& sup) {
  caf::scoped_actor self{sys};
  caf::actor result;
  self->request(sup, 5s, sv::which_children{})
    .receive([&](std::vector<sv::child_info>& xs) { result = xs.at(0).actor; },
             [](caf::error&) {});
  return result;
}

} // namespace

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  sv::supervisor_flags flags;
  flags.name = "ingest_sup";
  flags.intensity = 10;
  flags.period = 10s;
  auto ingest_sup = sv::spawn_supervisor(
    sys, flags,
    {sv::worker("cache", [](caf::actor_system& s, const caf::message&)
                           -> sv::start_result { return s.spawn(cache, 0); })});
  if (!ingest_sup) {
    std::cerr << caflens::render_error(ingest_sup.error()) << '\n';
    return 1;
  }

  caflens::config c;
  c.supervisors = {*ingest_sup};
  c.actions.mode = caflens::action_mode::approve;
  c.actions.registered = {caflens::actions::restart_child(sys, {*ingest_sup})};
  c.actions.allow = {"restart_child"};
  auto lens = caflens::start(sys, c);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }

  // A crash loop: four crashes, each followed by the supervisor's restart.
  {
    caf::scoped_actor self{sys};
    lens->subscribe(caf::actor_cast<caf::actor>(self));
    for (int i = 0; i < 4; ++i) {
      caf::anon_send(current_child(sys, *ingest_sup), std::string{"crash"});
      bool restarted = false;
      self->receive_while([&] { return !restarted; })(
        [&](sv::child_restarted&) { restarted = true; },
        [](caf::message&) {}, // other reports
        caf::after(5s) >> [&] { restarted = true; });
    }
    lens->unsubscribe(caf::actor_cast<caf::actor>(self));
  }
  auto before = current_child(sys, *ingest_sup);

  auto res = lens->investigate("the cache keeps crashing");
  if (!res) {
    std::cerr << caflens::render_error(res.error()) << '\n';
    return 1;
  }
  for (auto& x : res->insights)
    std::cout << "insight: " << x.pattern << " — " << x.summary << '\n';
  for (auto& a : res->actions) {         // restart_child {"child":"cache",...}
    std::cout << "proposed: " << a.id << ' ' << a.action << ' ' << a.args
              << '\n';
    auto done = lens->approve_action(a.id, "oncall@example.org");
    if (!done) {
      std::cerr << caflens::render_error(done.error()) << '\n';
      return 1;
    }
    std::cout << "approved: " << to_string(done->status) << ' ' << done->result
              << '\n';
  }
  auto after = current_child(sys, *ingest_sup);
  std::cout << "cache restarted: " << (after && after != before ? "yes" : "no")
            << "\naudit: " << lens->actions().size() << " record(s)\n";
  lens->stop();
  caf::anon_send_exit(*ingest_sup, caf::exit_reason::user_shutdown);
  return res->actions.empty() ? 1 : 0;
}
