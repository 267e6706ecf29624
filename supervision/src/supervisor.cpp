// The supervisor actor. OTP's supervisor is a gen_server that blocks while it
// stops or starts children; a CAF actor must not block, so this one runs each
// operation (restart, API call, shutdown) as a chain of continuations and
// keeps everything else that arrives meanwhile — child exits and requests — in
// a queue that it works off, in arrival order, once the operation is over.
// Observably this is OTP's behaviour: one operation at a time, in mailbox
// order, and an exit that arrives from a child the supervisor is about to
// stop is consumed by that stop (OTP's `unlink_flush`).
//
// Children are monitored, not linked: in CAF an actor killed with
// `exit_reason::kill` passes `kill` on to every linked actor, which no exit
// handler can trap, so a killed child would kill its supervisor (OTP turns
// the reason into a trappable `killed`). The other half of a link — children
// die with their supervisor — is an attached functor that sends the
// supervisor's exit reason to every child still running.
#include "caflens/supervision/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/sec.hpp"
#include "caf/send.hpp"

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/observer.hpp"
#include "caflens/supervision/reason.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervision_errc.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::supervision {

namespace detail {

using kill_timer_atom = caf::atom_constant<caf::atom("svkilltmo")>;
using try_again_atom = caf::atom_constant<caf::atom("svtryagain")>;
using await_init_atom = caf::atom_constant<caf::atom("svawait")>;

} // namespace detail

namespace {

using namespace detail;
using clock_type = caf::actor_clock;
using time_point = clock_type::time_point;

constexpr size_t max_history = 8;

// -- telemetry ----------------------------------------------------------------

struct telemetry_events {
  telemetry::event started, child_started, child_start_error, child_ignored,
    child_exited, child_restarted, child_terminated, intensity_exceeded,
    auto_shutdown, stopped;

  static const telemetry_events& get() {
    static const auto& instance = *new telemetry_events([] {
      auto& bus = telemetry::bus::global();
      auto ev = [&](std::string_view what) {
        return bus.intern(telemetry::event_name{"caflens", "supervisor", what});
      };
      return telemetry_events{ev("started"),           ev("child_started"),
                              ev("child_start_error"), ev("child_ignored"),
                              ev("child_exited"),      ev("child_restarted"),
                              ev("child_terminated"),  ev("intensity_exceeded"),
                              ev("auto_shutdown"),     ev("stopped")};
    }());
    return instance;
  }
};

double now_ns() {
  return static_cast<double>(telemetry::bus::system_time());
}

// -- child records ------------------------------------------------------------

struct restart_record {
  int64_t at_ms;
  std::string reason;
};

struct child_record {
  child_record(std::shared_ptr<const child_spec> spec, caf::message args)
    : spec(std::move(spec))
    , args(std::move(args)) {}

  std::shared_ptr<const child_spec> spec;
  caf::message args;
  caf::actor actor;
  bool restarting = false;
  caf::error last_reason;
  uint32_t restarts = 0;
  std::vector<restart_record> history;
};

struct start_outcome {
  enum kind_t { started, ignored, failed } kind;
  caf::actor actor;
  caf::error reason;
};

using start_cont = std::function<void(start_outcome)>;
using exit_cont = std::function<void(caf::error)>;

struct exit_waiter {
  caf::actor actor;
  uint64_t token;
  exit_cont k;
};

/// Work that arrived while an operation was running.
struct pending_item {
  /// A down message of a child or an exit from elsewhere (see `from_child`).
  bool is_exit = false;
  bool from_child = false;
  caf::actor_id source = 0;
  caf::error reason;
  /// Runs the deferred request; `true` means "cancelled, answer an error".
  std::function<void(bool)> fn;
};

/// Runs a list of steps, each of which may finish synchronously or later,
/// without growing the stack for synchronous ones.
struct step_loop : std::enable_shared_from_this<step_loop> {
  std::vector<uint64_t> keys;
  size_t index = 0;
  bool in_loop = false;
  bool step_done = false;
  bool aborted = false;
  bool finished = false;
  /// Runs step `keys[index]`; must call `next()` exactly once.
  std::function<void(uint64_t key, std::function<void()> next)> step;
  std::function<void()> done;

  void run() {
    auto self = shared_from_this();
    in_loop = true;
    while (index < keys.size() && !aborted) {
      step_done = false;
      auto key = keys[index];
      step(key, [self] {
        ++self->index;
        if (self->in_loop)
          self->step_done = true;
        else
          self->run();
      });
      if (!step_done) {
        in_loop = false;
        return;
      }
    }
    in_loop = false;
    if (!finished) {
      finished = true;
      auto fn = std::move(done);
      fn();
    }
  }

  /// Stops the loop early (from within a step, before calling `next`).
  void abort() { aborted = true; }
};

// -- the supervisor -----------------------------------------------------------

class supervisor_state {
public:
  supervisor_state(caf::event_based_actor* self, supervisor_flags flags,
                   std::vector<child_spec> specs)
    : self_(self)
    , flags_(std::move(flags)) {
    observer_ = flags_.observer ? flags_.observer : default_child_observer();
    started_at_ = self_->clock().now();
    for (auto& spec : specs) {
      auto ptr = std::make_shared<const child_spec>(std::move(spec));
      if (simple()) {
        template_ = ptr;
      } else {
        auto key = next_key_++;
        by_id_.emplace(ptr->id, key);
        children_.emplace(key, child_record(ptr, ptr->args));
      }
    }
  }

  caf::behavior make_behavior();

private:
  bool simple() const {
    return flags_.strategy == strategy::simple_one_for_one;
  }

  // -- operation bookkeeping --------------------------------------------------

  void begin() { ++busy_; }

  void end() {
    --busy_;
    drain();
  }

  void drain() {
    if (draining_)
      return;
    draining_ = true;
    while (busy_ == 0 && !stopping_ && !pending_.empty()) {
      auto item = std::move(pending_.front());
      pending_.pop_front();
      if (item.is_exit)
        handle_exit(item.source, std::move(item.reason), item.from_child);
      else
        item.fn(false);
    }
    draining_ = false;
  }

  void defer_or_run(std::function<void(bool)> fn) {
    if (busy_ > 0 || stopping_)
      pending_.push_back(
        pending_item{false, false, 0, caf::error{}, std::move(fn)});
    else
      fn(false);
  }

  /// Runs `body` as one operation and answers the request with its result.
  template <class T>
  caf::result<T>
  op(std::function<void(std::function<void(caf::expected<T>)>)> body) {
    auto rp = self_->make_response_promise<T>();
    defer_or_run([this, rp, body](bool cancel) mutable {
      if (cancel) {
        rp.deliver(make_error(supervision_errc::shutting_down));
        return;
      }
      begin();
      body([this, rp](caf::expected<T> res) mutable {
        if (res)
          rp.deliver(std::move(*res));
        else
          rp.deliver(std::move(res.error()));
        end();
      });
    });
    return rp;
  }

  // -- lookup -----------------------------------------------------------------

  child_record* find(uint64_t key) {
    auto i = children_.find(key);
    return i != children_.end() ? &i->second : nullptr;
  }

  std::optional<uint64_t> key_of(const std::string& id) const {
    if (auto i = by_id_.find(id); i != by_id_.end())
      return i->second;
    return std::nullopt;
  }

  std::optional<uint64_t> key_of(const caf::actor& x) const {
    if (!x)
      return std::nullopt;
    if (auto i = by_actor_.find(x.id()); i != by_actor_.end())
      return i->second;
    return std::nullopt;
  }

  /// OTP's del_child: temporary and dynamic children go, others stay stopped.
  void del_child(uint64_t key) {
    auto i = children_.find(key);
    if (i == children_.end())
      return;
    auto& c = i->second;
    if (c.actor) {
      by_actor_.erase(c.actor.id());
      c.actor = nullptr;
    }
    c.restarting = false;
    if (simple() || c.spec->restart == restart_type::temporary) {
      if (!simple())
        by_id_.erase(c.spec->id);
      children_.erase(i);
    }
  }

  void erase_child(uint64_t key) {
    auto i = children_.find(key);
    if (i == children_.end())
      return;
    if (i->second.actor)
      by_actor_.erase(i->second.actor.id());
    if (!simple())
      by_id_.erase(i->second.spec->id);
    children_.erase(i);
  }

  std::vector<uint64_t> all_keys() const {
    std::vector<uint64_t> result;
    result.reserve(children_.size());
    for (auto& kvp : children_)
      result.push_back(kvp.first);
    return result;
  }

  uint32_t restarts_in_period() {
    prune_restarts(self_->clock().now());
    return static_cast<uint32_t>(restarts_.size());
  }

  /// A restart's stamp. OTP's add_restart stamps erlang:monotonic_time(1):
  /// whole seconds of the clock (floor), and keeps the stamps
  /// `>= now - period`, so a restart exactly `period` seconds old still
  /// counts. `restart_window::milliseconds` stamps milliseconds.
  int64_t stamp(time_point now) const {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch())
                .count();
    if (flags_.window == restart_window::milliseconds)
      return ms;
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  }

  int64_t window_length() const {
    auto ms = flags_.period.count();
    return flags_.window == restart_window::milliseconds ? ms : ms / 1000;
  }

  void prune_restarts(time_point now) {
    auto threshold = stamp(now) - window_length();
    while (!restarts_.empty() && restarts_.front() < threshold)
      restarts_.pop_front();
  }

  int64_t uptime_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             self_->clock().now() - started_at_)
      .count();
  }

  child_event event_for(const child_record& c) const {
    return child_event{flags_.name, self_->id(), c.spec->id, c.spec->type,
                       c.spec->restart};
  }

  // -- reports ----------------------------------------------------------------

  /// Sends `report` to every subscriber, anonymously: a subscriber that does
  /// not handle it (CAF answers an unexpected message with an error) cannot
  /// answer back.
  template <class T>
  void publish(const T& report) {
    for (auto& sub : subscribers_)
      caf::anon_send(sub, report);
  }

  void report_started() {
    supervisor_started rep{flags_.name, flags_.strategy,
                           static_cast<uint32_t>(children_.size())};
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.started)) {
      auto strat = to_string(flags_.strategy);
      bus.execute(ev.started, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"children", rep.children}});
    }
    publish(rep);
  }

  void report_child_started(const child_record& c, bool restarted,
                            const caf::error& reason) {
    auto rip = restarts_in_period();
    child_started rep{flags_.name,     c.spec->id, c.actor.id(), c.spec->type,
                      c.spec->restart, restarted,  rip};
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.child_started)) {
      auto strat = to_string(flags_.strategy);
      auto type = to_string(c.spec->type);
      auto restart = to_string(c.spec->restart);
      bus.execute(ev.child_started, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id},
                   {"child_type", type},
                   {"restart_type", restart}});
    }
    publish(rep);
    if (!restarted)
      return;
    child_restarted rr{flags_.name, c.spec->id, c.actor.id(), reason, rip};
    if (bus.has_handlers(ev.child_restarted)) {
      auto strat = to_string(flags_.strategy);
      auto text = reason_text(reason);
      bus.execute(ev.child_restarted,
                  {{"system_time", now_ns()},
                   {"restarts_in_period", static_cast<double>(rip)}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id},
                   {"reason", text}});
    }
    publish(rr);
  }

  void report_start_error(const child_record& c, const caf::error& reason) {
    child_start_error rep{flags_.name, c.spec->id, reason,
                          restarts_in_period()};
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.child_start_error)) {
      auto strat = to_string(flags_.strategy);
      auto text = reason_text(reason);
      bus.execute(ev.child_start_error, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id},
                   {"reason", text}});
    }
    publish(rep);
    if (observer_)
      observer_->child_start_failed(event_for(c), reason);
  }

  void report_ignored(const child_record& c) {
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.child_ignored)) {
      auto strat = to_string(flags_.strategy);
      bus.execute(ev.child_ignored, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id}});
    }
    publish(child_ignored{flags_.name, c.spec->id});
  }

  void report_exited(const child_record& c, caf::actor_id aid,
                     const caf::error& reason, bool will_restart) {
    auto rip = restarts_in_period();
    if (observer_)
      observer_->child_exited(event_for(c), aid, reason);
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.child_exited)) {
      auto strat = to_string(flags_.strategy);
      auto text = reason_text(reason);
      auto restart = to_string(c.spec->restart);
      bus.execute(ev.child_exited,
                  {{"system_time", now_ns()},
                   {"restarts_in_period", static_cast<double>(rip)}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id},
                   {"reason", text},
                   {"restart_type", restart}});
    }
    publish(child_exited{flags_.name, c.spec->id, aid, reason, c.spec->restart,
                         will_restart, rip});
  }

  void report_terminated(const child_record& c, caf::actor_id aid,
                         const caf::error& reason) {
    if (observer_)
      observer_->child_terminated(event_for(c), aid, reason);
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.child_terminated)) {
      auto strat = to_string(flags_.strategy);
      auto text = reason_text(reason);
      auto shutdown = to_string(c.spec->shutdown);
      bus.execute(ev.child_terminated, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", c.spec->id},
                   {"reason", text},
                   {"shutdown", shutdown}});
    }
    publish(
      child_terminated{flags_.name, c.spec->id, aid, reason, c.spec->shutdown});
  }

  void report_intensity(const child_record& c, const caf::error& reason) {
    auto& child_id = c.spec->id;
    auto restarts = static_cast<uint32_t>(restarts_.size());
    if (observer_)
      observer_->intensity_exceeded(event_for(c), reason, restarts,
                                    flags_.intensity,
                                    static_cast<int64_t>(
                                      flags_.period.count()));
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.intensity_exceeded)) {
      auto strat = to_string(flags_.strategy);
      bus.execute(ev.intensity_exceeded,
                  {{"system_time", now_ns()},
                   {"restarts", static_cast<double>(restarts)},
                   {"intensity", static_cast<double>(flags_.intensity)},
                   {"period_ms", static_cast<double>(flags_.period.count())}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", child_id}});
    }
    publish(intensity_exceeded{flags_.name, child_id, reason, restarts,
                               flags_.intensity,
                               static_cast<int64_t>(flags_.period.count())});
  }

  void report_auto_shutdown(const std::string& child_id) {
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.auto_shutdown)) {
      auto strat = to_string(flags_.strategy);
      auto mode = to_string(flags_.auto_shutdown);
      bus.execute(ev.auto_shutdown, {{"system_time", now_ns()}},
                  {{"supervisor", flags_.name},
                   {"strategy", strat},
                   {"child_id", child_id},
                   {"auto_shutdown", mode}});
    }
    publish(
      auto_shutdown_triggered{flags_.name, child_id, flags_.auto_shutdown});
  }

  void report_stopped(const caf::error& reason) {
    auto& ev = telemetry_events::get();
    auto& bus = telemetry::bus::global();
    if (bus.has_handlers(ev.stopped)) {
      auto strat = to_string(flags_.strategy);
      auto text = reason_text(reason);
      bus.execute(
        ev.stopped, {{"system_time", now_ns()}},
        {{"supervisor", flags_.name}, {"strategy", strat}, {"reason", text}});
    }
    publish(supervisor_stopped{flags_.name, reason});
  }

  // -- starting ---------------------------------------------------------------

  /// Calls the start function of child `key`; for supervisor children waits
  /// until the child's own children are up.
  void start_one(uint64_t key, bool restarted, caf::error cause, start_cont k) {
    auto* c = find(key);
    auto spec = c->spec;
    start_result res;
    try {
      res = spec->start(self_->system(), c->args);
    } catch (const std::exception& ex) {
      res = make_error(supervision_errc::start_function_threw,
                       std::string{ex.what()});
    } catch (...) {
      res = make_error(supervision_errc::start_function_threw,
                       std::string{"unknown exception"});
    }
    if (res.ignored()) {
      report_ignored(*c);
      k(start_outcome{start_outcome::ignored, {}, {}});
      return;
    }
    auto err = res.error();
    if (!err && !res.actor())
      err = make_error(supervision_errc::invalid_start_result,
                       "start function of '" + spec->id +
                         "' returned neither an actor, an error nor ignore");
    if (err) {
      report_start_error(*c, err);
      k(start_outcome{start_outcome::failed, {}, std::move(err)});
      return;
    }
    auto actor = res.actor();
    self_->monitor(actor);
    if (spec->type != child_type::supervisor) {
      on_started(key, actor, restarted, cause, std::move(k));
      return;
    }
    // A supervisor child: wait for its init to finish (or for its exit).
    auto aid = actor.id();
    auto done = std::make_shared<bool>(false);
    waiters_[aid] =
      exit_waiter{actor, 0, [this, key, k, done](caf::error r) {
                    if (*done)
                      return;
                    *done = true;
                    if (auto* c = find(key))
                      report_start_error(*c, r);
                    k(start_outcome{start_outcome::failed, {}, std::move(r)});
                  }};
    auto on_ready = [this, key, actor, aid, restarted, cause, k, done] {
      if (*done)
        return;
      *done = true;
      waiters_.erase(aid);
      on_started(key, actor, restarted, cause, k);
    };
    self_->request(actor, caf::infinite, await_init_atom::value)
      .then([on_ready](caf::ok_atom) mutable { on_ready(); },
            [on_ready](caf::error& err) mutable {
              // An actor that does not speak the protocol counts as started;
              // a failing supervisor is handled by its exit.
              if (err == caf::sec::unexpected_message)
                on_ready();
            });
  }

  void on_started(uint64_t key, const caf::actor& actor, bool restarted,
                  const caf::error& cause, const start_cont& k) {
    auto* c = find(key);
    c->actor = actor;
    c->restarting = false;
    by_actor_[actor.id()] = key;
    if (restarted)
      ++c->restarts;
    if (observer_)
      observer_->child_started(event_for(*c), actor);
    report_child_started(*c, restarted, cause);
    k(start_outcome{start_outcome::started, actor, {}});
  }

  /// OTP's start_children: starts `keys` left to right; an ignored temporary
  /// child is removed; stops at the first failure and reports its key.
  void start_children(
    std::vector<uint64_t> keys, bool restarted, caf::error cause,
    std::function<void(std::optional<uint64_t>, caf::error)> done) {
    auto loop = std::make_shared<step_loop>();
    auto failed = std::make_shared<std::optional<uint64_t>>();
    auto failure = std::make_shared<caf::error>();
    loop->keys = std::move(keys);
    loop->step = [this, restarted, cause, failed, failure,
                  weak = std::weak_ptr<step_loop>(loop)](
                   uint64_t key, std::function<void()> next) {
      if (!find(key)) {
        next();
        return;
      }
      start_one(key, restarted, cause,
                [this, key, next, failed, failure, weak](start_outcome o) {
                  if (o.kind == start_outcome::ignored) {
                    auto* c = find(key);
                    if (c && c->spec->restart == restart_type::temporary)
                      erase_child(key);
                  } else if (o.kind == start_outcome::failed) {
                    *failed = key;
                    *failure = std::move(o.reason);
                    if (auto loop = weak.lock())
                      loop->abort();
                  }
                  next();
                });
    };
    loop->done = [done, failed, failure] { done(*failed, *failure); };
    loop->run();
  }

  // -- stopping ---------------------------------------------------------------

  /// Stops one child as its shutdown policy says; `k` gets its exit reason.
  /// With a `shared_token`, the caller runs one kill timer for many children.
  void terminate_one(uint64_t key, exit_cont k, uint64_t shared_token = 0) {
    auto* c = find(key);
    if (!c || !c->actor) {
      k(caf::error{});
      return;
    }
    auto actor = c->actor;
    auto aid = actor.id();
    by_actor_.erase(aid);
    auto finish = [this, key, aid, k](caf::error reason) {
      if (auto* c = find(key)) {
        c->actor = nullptr;
        report_terminated(*c, aid, reason);
      }
      k(std::move(reason));
    };
    // An exit of this child that is still queued: it died on its own.
    for (auto i = pending_.begin(); i != pending_.end(); ++i) {
      if (i->is_exit && i->source == aid) {
        auto reason = std::move(i->reason);
        pending_.erase(i);
        finish(std::move(reason));
        return;
      }
    }
    // The child is monitored since its start: its down message ends the wait.
    auto token = shared_token != 0 ? shared_token : next_token_++;
    waiters_[aid] = exit_waiter{actor, token, finish};
    auto& policy = c->spec->shutdown;
    switch (policy.kind) {
      case shutdown_policy::kind_t::brutal_kill:
        self_->send_exit(actor, caf::exit_reason::kill);
        break;
      case shutdown_policy::kind_t::timeout:
        self_->send_exit(actor, caf::exit_reason::user_shutdown);
        if (shared_token == 0)
          self_->delayed_send(self_,
                              std::chrono::milliseconds{policy.timeout_ms},
                              kill_timer_atom::value, aid, token);
        break;
      case shutdown_policy::kind_t::infinity:
        self_->send_exit(actor, caf::exit_reason::user_shutdown);
        break;
    }
  }

  /// OTP's terminate_children: stops `keys` in the given order (callers pass
  /// right to left); temporary children are removed, others stay stopped.
  void terminate_children(std::vector<uint64_t> keys,
                          std::function<void()> done) {
    auto loop = std::make_shared<step_loop>();
    loop->keys = std::move(keys);
    loop->step = [this](uint64_t key, std::function<void()> next) {
      if (!find(key)) {
        next();
        return;
      }
      terminate_one(key, [this, key, next](caf::error) {
        if (auto* c = find(key)) {
          c->restarting = false;
          if (c->spec->restart == restart_type::temporary)
            erase_child(key);
        }
        next();
      });
    };
    loop->done = std::move(done);
    loop->run();
  }

  /// Stops all dynamic children at once (OTP stops them in parallel).
  void terminate_dynamic(std::function<void()> done) {
    auto remaining = std::make_shared<size_t>(1);
    auto finish = [remaining, done] {
      if (--*remaining == 0)
        done();
    };
    // Like OTP: one kill timer for all of them (actor id 0 = all waiters
    // with this token).
    uint64_t token = 0;
    if (template_->shutdown.kind == shutdown_policy::kind_t::timeout) {
      token = next_token_++;
      self_->delayed_send(
        self_, std::chrono::milliseconds{template_->shutdown.timeout_ms},
        kill_timer_atom::value, caf::actor_id{0}, token);
    }
    for (auto key : all_keys()) {
      auto* c = find(key);
      if (!c->actor)
        continue;
      ++*remaining;
      terminate_one(
        key, [finish](caf::error) { finish(); }, token);
    }
    finish();
  }

  /// Stops every child right to left and exits with `reason`.
  void shutdown(caf::error reason) {
    if (stopping_)
      return;
    stopping_ = true;
    begin();
    auto finish = [this, reason] {
      children_.clear();
      by_actor_.clear();
      by_id_.clear();
      report_stopped(reason);
      for (auto& rp : init_waiters_)
        rp.deliver(reason ? reason
                          : make_error(supervision_errc::shutting_down));
      init_waiters_.clear();
      auto items = std::move(pending_);
      pending_.clear();
      for (auto& item : items)
        if (!item.is_exit)
          item.fn(true);
      self_->quit(reason);
    };
    if (simple()) {
      terminate_dynamic(finish);
    } else {
      auto keys = all_keys();
      std::reverse(keys.begin(), keys.end());
      terminate_children(std::move(keys), finish);
    }
  }

  // -- exits and restarts -----------------------------------------------------

  /// A child terminated (down message) or someone else sent an exit.
  void on_signal(caf::actor_id aid, caf::error reason, bool from_child) {
    if (aid != 0) {
      if (auto i = waiters_.find(aid); i != waiters_.end()) {
        auto k = std::move(i->second.k);
        waiters_.erase(i);
        k(std::move(reason));
        return;
      }
    }
    if (busy_ > 0 || stopping_) {
      pending_.push_back(
        pending_item{true, from_child, aid, std::move(reason), {}});
      return;
    }
    handle_exit(aid, std::move(reason), from_child);
  }

public:
  /// Called when the supervisor terminates: children still running die with
  /// it (the parent half of an OTP link). A child this supervisor is
  /// shutting down already has its exit (`shutdown`): as in OTP, where the
  /// `killed` that follows is only a message to a child trapping exits, it
  /// finishes its terminate and exits with `shutdown`, outliving its killed
  /// supervisor. (CAF's `kill` cannot be trapped: the other children die at
  /// once, where OTP's trapping children would receive `killed` as a
  /// message.)
  void on_terminate(const caf::error& reason) {
    auto forwarded =
      reason ? reason : caf::error{caf::exit_reason::user_shutdown};
    for (auto& kvp : children_)
      if (auto& a = kvp.second.actor; a) {
        if (auto i = waiters_.find(a.id());
            i != waiters_.end() && i->second.token != 0)
          continue;
        kvp.second.actor->enqueue(
          nullptr, caf::make_message_id(caf::message_priority::high),
          caf::make_message(
            caf::exit_msg{kvp.second.actor.address(), forwarded}),
          nullptr);
      }
    children_.clear();
  }

private:
  /// OTP's restart_child/do_restart for an exit that nobody waited for.
  void handle_exit(caf::actor_id aid, caf::error reason, bool from_child) {
    auto i = by_actor_.find(aid);
    if (i == by_actor_.end()) {
      if (from_child)
        return; // a former child, already dealt with
      // Not a child: the parent (or anyone linked) tells us to stop. Normal
      // exits of non-children do not propagate in CAF; ignore them.
      if (reason)
        shutdown(std::move(reason));
      return;
    }
    auto key = i->second;
    by_actor_.erase(i);
    auto& c = children_.at(key);
    c.actor = nullptr;
    auto restart = c.spec->restart;
    bool normal = is_normal_exit(reason);
    bool will_restart = restart == restart_type::permanent ||
                        (restart == restart_type::transient && !normal);
    report_exited(c, aid, reason, will_restart);
    if (will_restart) {
      restart_child_after_exit(key, std::move(reason));
      return;
    }
    auto significant = c.spec->significant;
    auto id = c.spec->id;
    del_child(key);
    check_auto_shutdown(significant, id);
  }

  void check_auto_shutdown(bool significant, const std::string& child_id) {
    if (flags_.auto_shutdown == auto_shutdown::never || !significant)
      return;
    if (flags_.auto_shutdown == auto_shutdown::all_significant) {
      if (simple()) {
        if (!children_.empty())
          return;
      } else {
        for (auto& kvp : children_) {
          auto& c = kvp.second;
          if (c.spec->significant && (c.actor || c.restarting))
            return;
        }
      }
    }
    report_auto_shutdown(child_id);
    shutdown(caf::exit_reason::user_shutdown);
  }

  /// OTP's restart/2: counts the restart, then restarts per strategy.
  void restart_child_after_exit(uint64_t key, caf::error reason) {
    auto now = self_->clock().now();
    prune_restarts(now);
    restarts_.push_back(stamp(now));
    auto& c = children_.at(key);
    if (restarts_.size() > flags_.intensity) {
      report_intensity(c, reason);
      del_child(key);
      shutdown(caf::exit_reason::user_shutdown);
      return;
    }
    c.last_reason = reason;
    c.history.push_back(restart_record{uptime_ms(), reason_text(reason)});
    if (c.history.size() > max_history)
      c.history.erase(c.history.begin());
    begin();
    auto on_failure = [this, reason](std::optional<uint64_t> failed,
                                     caf::error) {
      if (failed) {
        if (auto* fc = find(*failed)) {
          fc->restarting = true;
          fc->last_reason = reason;
          self_->send(self_, try_again_atom::value, *failed);
        }
      }
      end();
    };
    switch (flags_.strategy) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        start_one(key, true, reason, [this, key, on_failure](start_outcome o) {
          if (o.kind == start_outcome::failed) {
            on_failure(key, o.reason);
            return;
          }
          if (o.kind == start_outcome::ignored)
            del_child(key);
          on_failure(std::nullopt, {});
        });
        break;
      case strategy::rest_for_one:
      case strategy::one_for_all: {
        std::vector<uint64_t> keys;
        for (auto& kvp : children_)
          if (flags_.strategy == strategy::one_for_all || kvp.first >= key)
            keys.push_back(kvp.first);
        std::vector<uint64_t> rev(keys.rbegin(), keys.rend());
        terminate_children(std::move(rev), [this, keys, reason, on_failure] {
          start_children(keys, true, reason, on_failure);
        });
        break;
      }
    }
  }

  void on_try_again(uint64_t key) {
    defer_or_run([this, key](bool cancel) {
      if (cancel)
        return;
      auto* c = find(key);
      if (!c || !c->restarting)
        return;
      restart_child_after_exit(key, c->last_reason);
    });
  }

  // -- init -------------------------------------------------------------------

  void init() {
    begin();
    start_children(all_keys(), false, caf::error{},
                   [this](std::optional<uint64_t> failed, caf::error err) {
                     if (!failed) {
                       initialized_ = true;
                       report_started();
                       for (auto& rp : init_waiters_)
                         rp.deliver(caf::ok_atom::value);
                       init_waiters_.clear();
                       end();
                       return;
                     }
                     auto id = find(*failed)->spec->id;
                     shutdown(
                       make_error(supervision_errc::failed_to_start_child, id,
                                  std::move(err)));
                     end();
                   });
  }

  // -- API --------------------------------------------------------------------

  void api_start_child(const child_spec& spec,
                       std::function<void(caf::expected<caf::actor>)> reply) {
    if (simple())
      return reply(make_error(supervision_errc::simple_one_for_one,
                              "start_child with a spec on a "
                              "simple_one_for_one supervisor; use "
                              "start_dynamic_child"));
    if (auto err = validate(spec, flags_.auto_shutdown))
      return reply(std::move(err));
    if (auto key = key_of(spec.id)) {
      if (children_.at(*key).actor)
        // OTP's {error, {already_started, Pid}}: the running child.
        return reply(make_error(supervision_errc::already_started, spec.id,
                                children_.at(*key).actor));
      return reply(make_error(supervision_errc::already_present, spec.id));
    }
    auto key = next_key_++;
    auto ptr = std::make_shared<const child_spec>(spec);
    by_id_.emplace(spec.id, key);
    children_.emplace(key, child_record(ptr, ptr->args));
    start_one(key, false, {}, [this, key, reply](start_outcome o) {
      switch (o.kind) {
        case start_outcome::started:
          return reply(o.actor);
        case start_outcome::ignored:
          if (find(key)->spec->restart == restart_type::temporary)
            erase_child(key);
          return reply(caf::actor{});
        default: {
          // OTP's {error, {Reason, ChildSpec}}: the spec goes with it.
          auto spec = find(key)->spec;
          auto err = make_error(supervision_errc::start_error,
                                std::move(o.reason), spec->id,
                                to_string(spec->type));
          erase_child(key);
          return reply(std::move(err));
        }
      }
    });
  }

  void api_start_dynamic(caf::message args,
                         std::function<void(caf::expected<caf::actor>)> reply) {
    if (!simple())
      return reply(make_error(supervision_errc::not_simple_one_for_one,
                              "start_dynamic_child needs a simple_one_for_one "
                              "supervisor"));
    auto key = next_key_++;
    children_.emplace(key, child_record(template_, template_->args + args));
    start_one(key, false, {}, [this, key, reply](start_outcome o) {
      if (o.kind == start_outcome::started)
        return reply(o.actor);
      erase_child(key);
      if (o.kind == start_outcome::ignored)
        return reply(caf::actor{});
      return reply(std::move(o.reason));
    });
  }

  void api_terminate(const terminate_child& req,
                     std::function<void(caf::expected<caf::ok_atom>)> reply) {
    std::optional<uint64_t> key;
    if (simple()) {
      if (!req.child)
        return reply(make_error(supervision_errc::simple_one_for_one,
                                "terminate_child by id '" + req.id +
                                  "' on a simple_one_for_one supervisor; "
                                  "pass the child actor"));
      key = key_of(req.child);
    } else {
      key = req.child ? key_of(req.child) : key_of(req.id);
    }
    if (!key)
      return reply(make_error(supervision_errc::not_found,
                              req.child ? "no such child actor"
                                        : "no child '" + req.id + "'"));
    auto k = *key;
    terminate_one(k, [this, k, reply](caf::error) {
      del_child(k);
      reply(caf::ok_atom::value);
    });
  }

  caf::expected<uint64_t> stopped_static_child(const std::string& id) {
    if (simple())
      return make_error(supervision_errc::simple_one_for_one,
                        "operation invalid for simple_one_for_one");
    auto key = key_of(id);
    if (!key)
      return make_error(supervision_errc::not_found, "no child '" + id + "'");
    auto& c = children_.at(*key);
    if (c.restarting)
      return make_error(supervision_errc::restarting, id);
    if (c.actor)
      return make_error(supervision_errc::running, id);
    return *key;
  }

  void api_restart(const std::string& id,
                   std::function<void(caf::expected<caf::actor>)> reply) {
    auto key = stopped_static_child(id);
    if (!key)
      return reply(std::move(key.error()));
    start_one(*key, false, {}, [reply](start_outcome o) {
      if (o.kind == start_outcome::started)
        return reply(o.actor);
      if (o.kind == start_outcome::ignored)
        return reply(caf::actor{});
      return reply(std::move(o.reason));
    });
  }

  caf::expected<caf::ok_atom> api_delete(const std::string& id) {
    auto key = stopped_static_child(id);
    if (!key)
      return std::move(key.error());
    erase_child(*key);
    return caf::ok_atom::value;
  }

  /// OTP's order: the newest child first (a child added by start_child
  /// comes before the children of init, which are listed last to first);
  /// a restart keeps a child's place. Dynamic children oldest first.
  std::vector<child_info> api_which() const {
    std::vector<child_info> result;
    result.reserve(children_.size());
    auto add = [&](const child_record& c) {
      auto status = c.actor        ? child_status::running
                    : c.restarting ? child_status::restarting
                                   : child_status::stopped;
      result.push_back(child_info{c.spec->id, c.actor, status, c.spec->type,
                                  c.spec->restart, c.restarts});
    };
    if (simple())
      for (auto& kvp : children_)
        add(kvp.second);
    else
      for (auto i = children_.rbegin(); i != children_.rend(); ++i)
        add(i->second);
    return result;
  }

  child_counts api_count() const {
    child_counts result;
    if (simple()) {
      result.specs = 1;
      for (auto& kvp : children_)
        if (kvp.second.actor)
          ++result.active;
      auto n = static_cast<uint32_t>(children_.size());
      if (template_->type == child_type::supervisor)
        result.supervisors = n;
      else
        result.workers = n;
      return result;
    }
    for (auto& [key, c] : children_) {
      ++result.specs;
      if (c.actor)
        ++result.active;
      if (c.spec->type == child_type::supervisor)
        ++result.supervisors;
      else
        ++result.workers;
    }
    return result;
  }

  caf::expected<child_spec> api_childspec(const get_childspec& req) const {
    if (simple()) {
      if (key_of(req.child))
        return *template_;
    } else if (auto key = req.child ? key_of(req.child) : key_of(req.id)) {
      return *children_.at(*key).spec;
    }
    return make_error(supervision_errc::not_found,
                      req.child ? "no such child actor"
                                : "no child '" + req.id + "'");
  }

  nlohmann::json tree_json() {
    nlohmann::json result;
    result["name"] = flags_.name;
    result["actor"] = self_->id();
    result["strategy"] = to_string(flags_.strategy);
    result["intensity"] = flags_.intensity;
    result["period_ms"] = flags_.period.count();
    result["restart_window"] = std::string{to_string(flags_.window)};
    result["auto_shutdown"] = to_string(flags_.auto_shutdown);
    result["state"] = stopping_       ? "stopping"
                      : !initialized_ ? "starting"
                      : busy_ > 0     ? "busy"
                                      : "running";
    result["restarts_in_period"] = restarts_in_period();
    result["uptime_ms"] = uptime_ms();
    auto children = nlohmann::json::array();
    for (auto& [key, c] : children_) {
      nlohmann::json x;
      x["id"] = c.spec->id;
      x["actor"] = c.actor ? c.actor.id() : 0;
      x["status"] = to_string(c.actor        ? child_status::running
                              : c.restarting ? child_status::restarting
                                             : child_status::stopped);
      x["type"] = to_string(c.spec->type);
      x["restart"] = to_string(c.spec->restart);
      x["shutdown"] = to_string(c.spec->shutdown);
      x["significant"] = c.spec->significant;
      x["restarts"] = c.restarts;
      auto history = nlohmann::json::array();
      for (auto& h : c.history)
        history.push_back({{"at_ms", h.at_ms}, {"reason", h.reason}});
      x["history"] = std::move(history);
      children.push_back(std::move(x));
    }
    result["children"] = std::move(children);
    return result;
  }

  caf::result<std::string> api_tree() {
    auto rp = self_->make_response_promise<std::string>();
    auto doc = std::make_shared<nlohmann::json>(tree_json());
    // Collect the trees of running supervisor children.
    std::vector<std::pair<size_t, caf::actor>> nested;
    size_t index = 0;
    for (auto& [key, c] : children_) {
      if (c.spec->type == child_type::supervisor && c.actor)
        nested.emplace_back(index, c.actor);
      ++index;
    }
    if (nested.empty()) {
      rp.deliver(doc->dump());
      return rp;
    }
    auto remaining = std::make_shared<size_t>(nested.size());
    for (auto& [pos, actor] : nested) {
      auto finish = [rp, doc, remaining]() mutable {
        if (--*remaining == 0)
          rp.deliver(doc->dump());
      };
      self_->request(actor, caf::infinite, get_tree{})
        .then(
          [doc, pos = pos, finish](std::string& text) mutable {
            auto sub = nlohmann::json::parse(text, nullptr, false);
            if (!sub.is_discarded())
              (*doc)["children"][pos]["tree"] = std::move(sub);
            finish();
          },
          [doc, pos = pos, finish](caf::error& err) mutable {
            (*doc)["children"][pos]["tree_error"] = reason_text(err);
            finish();
          });
    }
    return rp;
  }

  // -- member variables -------------------------------------------------------

  caf::event_based_actor* self_;
  supervisor_flags flags_;
  std::shared_ptr<child_observer> observer_;
  std::shared_ptr<const child_spec> template_;
  std::map<uint64_t, child_record> children_;
  std::unordered_map<std::string, uint64_t> by_id_;
  std::unordered_map<caf::actor_id, uint64_t> by_actor_;
  std::unordered_map<caf::actor_id, exit_waiter> waiters_;
  std::deque<pending_item> pending_;
  /// Stamps of the restarts in the window (see `stamp`), oldest first.
  std::deque<int64_t> restarts_;
  std::vector<caf::actor> subscribers_;
  std::vector<caf::typed_response_promise<caf::ok_atom>> init_waiters_;
  time_point started_at_;
  uint64_t next_key_ = 1;
  uint64_t next_token_ = 1;
  int busy_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  bool initialized_ = false;
};

caf::behavior supervisor_state::make_behavior() {
  // An error message nobody asked for (a subscriber or a stranger answering
  // with unexpected_message) is no reason for a supervisor to die; CAF's
  // default would quit with it.
  self_->set_error_handler([](caf::error&) {});
  self_->set_exit_handler([this](caf::exit_msg& x) {
    // Children are monitored, so an exit comes from the parent or anyone
    // else: a non-normal one stops the supervisor (see handle_exit).
    auto aid = x.source ? x.source.id() : caf::actor_id{0};
    if (by_actor_.count(aid) > 0 || waiters_.count(aid) > 0)
      return; // a child's exit; its down message follows
    on_signal(aid, std::move(x.reason), false);
  });
  self_->set_down_handler([this](caf::down_msg& x) {
    auto aid = x.source ? x.source.id() : caf::actor_id{0};
    if (waiters_.count(aid) > 0 || by_actor_.count(aid) > 0) {
      on_signal(aid, std::move(x.reason), true);
      return;
    }
    auto& subs = subscribers_;
    subs.erase(std::remove_if(
                 subs.begin(), subs.end(),
                 [&](const caf::actor& a) { return a.address() == x.source; }),
               subs.end());
  });
  init();
  return {
    [this](start_child& req) -> caf::result<caf::actor> {
      return op<caf::actor>([this, spec = std::move(req.spec)](auto reply) {
        api_start_child(spec, std::move(reply));
      });
    },
    [this](start_dynamic_child& req) -> caf::result<caf::actor> {
      return op<caf::actor>([this, args = std::move(req.args)](auto reply) {
        api_start_dynamic(args, std::move(reply));
      });
    },
    [this](terminate_child& req) -> caf::result<caf::ok_atom> {
      return op<caf::ok_atom>(
        [this, req](auto reply) { api_terminate(req, std::move(reply)); });
    },
    [this](restart_child& req) -> caf::result<caf::actor> {
      return op<caf::actor>(
        [this, id = req.id](auto reply) { api_restart(id, std::move(reply)); });
    },
    [this](delete_child& req) -> caf::result<caf::ok_atom> {
      return op<caf::ok_atom>(
        [this, id = req.id](auto reply) { reply(api_delete(id)); });
    },
    [this](which_children) -> caf::result<std::vector<child_info>> {
      return op<std::vector<child_info>>(
        [this](auto reply) { reply(api_which()); });
    },
    [this](count_children) -> caf::result<child_counts> {
      return op<child_counts>([this](auto reply) { reply(api_count()); });
    },
    [this](get_childspec& req) -> caf::result<child_spec> {
      return op<child_spec>(
        [this, req](auto reply) { reply(api_childspec(req)); });
    },
    [this](get_tree) -> caf::result<std::string> { return api_tree(); },
    [this](subscribe& req) -> caf::ok_atom {
      if (req.subscriber && std::find(subscribers_.begin(), subscribers_.end(),
                                      req.subscriber) == subscribers_.end()) {
        self_->monitor(req.subscriber);
        subscribers_.push_back(req.subscriber);
      }
      return caf::ok_atom::value;
    },
    [this](unsubscribe& req) -> caf::ok_atom {
      auto i =
        std::find(subscribers_.begin(), subscribers_.end(), req.subscriber);
      if (i != subscribers_.end()) {
        self_->demonitor(req.subscriber);
        subscribers_.erase(i);
      }
      return caf::ok_atom::value;
    },
    [this](await_init_atom) -> caf::result<caf::ok_atom> {
      if (initialized_)
        return caf::ok_atom::value;
      auto rp = self_->make_response_promise<caf::ok_atom>();
      init_waiters_.push_back(rp);
      return rp;
    },
    [this](try_again_atom, uint64_t key) { on_try_again(key); },
    [this](kill_timer_atom, caf::actor_id aid, uint64_t token) {
      if (aid == 0) {
        for (auto& kvp : waiters_)
          if (kvp.second.token == token)
            self_->send_exit(kvp.second.actor, caf::exit_reason::kill);
      } else if (auto i = waiters_.find(aid);
                 i != waiters_.end() && i->second.token == token) {
        self_->send_exit(i->second.actor, caf::exit_reason::kill);
      }
    },
  };
}

} // namespace

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys,
                                           supervisor_flags flags,
                                           std::vector<child_spec> children) {
  detail::error_category_registered();
  if (auto err = validate(flags, children))
    return err;
  auto impl = [](caf::event_based_actor* self, supervisor_flags flags,
                 std::vector<child_spec> children) {
    auto state = std::make_shared<supervisor_state>(self, std::move(flags),
                                                    std::move(children));
    // The state lives as long as the actor's behavior and handlers.
    self->attach_functor([state](const caf::error& reason) mutable {
      state->on_terminate(reason);
      state.reset();
    });
    return state->make_behavior();
  };
  if (flags.detached)
    return sys.spawn<caf::detached>(impl, std::move(flags),
                                    std::move(children));
  return sys.spawn(impl, std::move(flags), std::move(children));
}

child_spec supervisor_child(std::string id, supervisor_flags flags,
                            std::vector<child_spec> children,
                            restart_type restart) {
  child_spec result;
  result.id = id;
  if (flags.name == supervisor_flags{}.name)
    flags.name = id;
  result.start = [flags = std::move(flags), children = std::move(children)](
                   caf::actor_system& sys,
                   const caf::message&) -> start_result {
    return spawn_supervisor(sys, flags, children);
  };
  result.restart = restart;
  result.shutdown = shutdown_policy::infinity();
  result.type = child_type::supervisor;
  return result;
}

} // namespace caflens::supervision
