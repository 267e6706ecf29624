// Shared fixture of the supervision suites: a deterministic actor system
// (CAF's test coordinator), scripted worker children that log their starts
// and exits, and helpers to talk to a supervisor from the test body.
#pragma once

#include <algorithm>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "caf/test/dsl.hpp"

#include "caflens/supervision/all.hpp"

namespace supervision_test {

using namespace caflens::supervision;

using crash_atom = caf::atom_constant<caf::atom("crash")>;

struct config : caf::actor_system_config {
  config() { caflens::supervision::add_message_types(*this); }
};

/// How a worker reacts to its supervisor's shutdown exit.
enum class on_shutdown { comply, hang, slow };

/// What the test log records: "start a", "exit a shutdown", ...
using event_log = std::shared_ptr<std::vector<std::string>>;

/// Outcomes of successive start attempts: 'o' ok, 'i' ignore, 'e' error; the
/// last one repeats.
using start_script = std::shared_ptr<std::map<std::string, std::string>>;

inline caf::error crash_reason(const std::string& what) {
  return caf::make_error(caf::sec::runtime_error, what);
}

/// Text of a reason as the log prints it: OTP style, and "crash:<what>" for
/// `crash_reason(what)`.
inline std::string crash_text(const caf::error& reason) {
  if (reason.category() == caf::atom("system") &&
      reason.code() == static_cast<uint8_t>(caf::sec::runtime_error) &&
      reason.context().match_elements<std::string>())
    return reason.context().get_as<std::string>(0);
  return caflens::render_error(reason);
}

inline std::string log_text(const caf::error& reason) {
  return reason_text(reason, crash_text);
}

inline caf::behavior worker_impl(caf::event_based_actor* self,
                                 on_shutdown mode) {
  if (mode != on_shutdown::comply) {
    self->set_exit_handler([self, mode](caf::exit_msg& x) {
      if (mode == on_shutdown::slow)
        self->delayed_send(self, std::chrono::milliseconds{50},
                           crash_atom::value, x.reason);
      // hang: ignore; only kill stops it
    });
  }
  return {
    [self](crash_atom, caf::error& reason) { self->quit(std::move(reason)); },
    [](int x) { return x; },
  };
}

struct fixture : test_coordinator_fixture<config> {
  event_log log = std::make_shared<std::vector<std::string>>();
  start_script script = std::make_shared<std::map<std::string, std::string>>();
  std::map<std::string, caf::actor> actors;
  std::vector<caf::actor> supervisors;

  ~fixture() {
    // Stop whatever a test left running so the actor system can shut down.
    for (auto& sup : supervisors)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    run_all();
    for (auto& kvp : actors)
      caf::anon_send_exit(kvp.second, caf::exit_reason::kill);
    advance(3'600'000);
  }

  /// Runs all ready actors without triggering timers.
  void run_all() { sched.run(); }

  /// Advances virtual time by `ms`, firing due timers in order.
  void advance(int ms) {
    sched.run();
    auto target = sched.clock().current_time + std::chrono::milliseconds{ms};
    for (;;) {
      auto& schedule = sched.clock().schedule();
      if (schedule.empty() || schedule.begin()->first > target)
        break;
      sched.clock().trigger_timeout();
      sched.run();
    }
    sched.clock().current_time = target;
    sched.run();
  }

  /// A start function for a worker named `name` that logs its lifecycle.
  start_function starter(std::string name,
                         on_shutdown mode = on_shutdown::comply) {
    auto lg = log;
    auto sc = script;
    auto* acts = &actors;
    return [=](caf::actor_system& sys,
               const caf::message& args) mutable -> start_result {
      auto full = name;
      if (args.match_elements<std::string>())
        full += "/" + args.get_as<std::string>(0);
      char outcome = 'o';
      if (auto i = sc->find(full); i != sc->end() && !i->second.empty()) {
        outcome = i->second.front();
        if (i->second.size() > 1)
          i->second.erase(0, 1);
      }
      if (outcome == 'i') {
        lg->push_back("ignore " + full);
        return ignore;
      }
      if (outcome == 'e') {
        lg->push_back("start_error " + full);
        return crash_reason("boom");
      }
      auto child = sys.spawn(worker_impl, mode);
      lg->push_back("start " + full);
      child->attach_functor([lg, full](const caf::error& reason) {
        lg->push_back("exit " + full + " " + log_text(reason));
      });
      (*acts)[full] = child;
      return child;
    };
  }

  child_spec spec(std::string id,
                  restart_type restart = restart_type::permanent,
                  shutdown_policy shutdown = shutdown_policy::timeout(100),
                  on_shutdown mode = on_shutdown::comply) {
    auto result = worker(id, starter(id, mode), restart);
    result.shutdown = shutdown;
    return result;
  }

  /// Spawns a supervisor, logs its exit as "exit <name> <reason>", runs it.
  caf::actor start_sup(supervisor_flags flags, std::vector<child_spec> specs) {
    auto name = flags.name;
    auto sup = spawn_supervisor(sys, std::move(flags), std::move(specs));
    if (!sup)
      CAF_FAIL(
        "spawn_supervisor failed: " << caflens::render_error(sup.error()));
    auto lg = log;
    (*sup)->attach_functor([lg, name](const caf::error& reason) {
      lg->push_back("exit " + name + " " + log_text(reason));
    });
    supervisors.push_back(*sup);
    run_all();
    return *sup;
  }

  supervisor_flags
  flags(strategy s, uint32_t intensity = 1,
        std::chrono::milliseconds period = std::chrono::seconds{5},
        std::string name = "top") {
    supervisor_flags result;
    result.name = std::move(name);
    result.strategy = s;
    result.intensity = intensity;
    result.period = period;
    return result;
  }

  /// Makes the current actor of `name` exit with `reason`.
  void crash(const std::string& name,
             caf::error reason = crash_reason("crash")) {
    auto i = actors.find(name);
    CAF_REQUIRE(i != actors.end());
    caf::anon_send(i->second, crash_atom::value, std::move(reason));
    run_all();
  }

  /// Returns and clears the log.
  std::vector<std::string> take_log() {
    auto result = std::move(*log);
    log->clear();
    return result;
  }

  /// Sends `req` to `sup` and returns the reply (the request must finish
  /// without timers).
  template <class T, class Request>
  caf::expected<T> call(const caf::actor& sup, Request req) {
    self->send(sup, std::move(req));
    run_all();
    return receive_reply<T>();
  }

  template <class T>
  caf::expected<T> receive_reply() {
    caf::expected<T> result{caf::sec::request_timeout};
    self->receive([&](T& x) { result = std::move(x); },
                  [&](caf::error& err) { result = std::move(err); },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    return result;
  }

  /// The children in start order (which_children lists static children
  /// newest first, as OTP; see `listing`).
  std::string statuses(const caf::actor& sup) {
    auto xs = call<std::vector<child_info>>(sup, which_children{});
    if (!xs)
      return "error: " + caflens::render_error(xs.error());
    std::reverse(xs->begin(), xs->end());
    std::string result;
    for (auto& x : *xs) {
      if (!result.empty())
        result += ' ';
      result += x.id + ":" + to_string(x.status);
    }
    return result;
  }
};

using strings = std::vector<std::string>;

/// which_children's ids in its own order.
inline strings listing(const caf::expected<std::vector<child_info>>& xs) {
  strings result;
  if (xs)
    for (auto& x : *xs)
      result.push_back(x.id);
  return result;
}

} // namespace supervision_test
