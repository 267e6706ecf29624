#define CAF_SUITE skills.tracer
#include "caf/test/dsl.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>

#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"
#include "caflens/telemetry/trace_id.hpp"

using namespace caf;
using namespace caflens::skills;
using namespace std::chrono_literals;
using nlohmann::json;
namespace tel = caflens::telemetry;

namespace {

using work_atom = atom_constant<atom("work")>;
using ping_atom = atom_constant<atom("ping")>;
using boom_atom = atom_constant<atom("boom")>;

struct recorded_event {
  std::string name;
  json measurements;
  json metadata;
};

// (work, ms): spends ms in the handler by the test's clock; (ping, n): quick;
// (boom): throws; a callback hook runs inside the handler of (ping, -1).
behavior worker_impl(event_based_actor*, tel::manual_clock* clk,
                     std::function<void()>* inside) {
  return {
    [=](work_atom, int ms) { clk->advance(std::chrono::milliseconds{ms}); },
    [=](ping_atom, int n) {
      if (n < 0 && *inside)
        (*inside)();
    },
    [=](boom_atom) { throw std::runtime_error("boom"); }};
}

// Forwards (ping, n) to `target`, so captures have a tracked sender.
behavior client_impl(event_based_actor* self, actor target) {
  return {[=](int n) { self->send(target, ping_atom::value, n); }};
}

struct fixture : test_coordinator_fixture<> {
  tel::manual_clock clk{1'000'000'000'000};
  tel::bus bus;
  std::vector<recorded_event> events;
  process_table& table = process_table::global();
  std::function<void()> inside;
  std::shared_ptr<tracer> tr;

  fixture() {
    auto err = bus.attach_many(
      "test",
      {{"caflens", "tracer", "capture"}, {"caflens", "tracer", "stopped"}},
      [this](const tel::event_name& e, const tel::measurements& m,
             const tel::metadata& md, const std::any&) {
        events.push_back({e.str(), m.to_json(), md.to_json()});
      });
    CAF_REQUIRE(!err);
    tr = std::make_shared<tracer>(table, tracer_options{}, clk, bus);
  }

  actor worker(const std::string& name) {
    auto a =
      spawn_tracked(sys, {name, "worker", 0}, worker_impl, &clk, &inside);
    sched.run();
    return a;
  }

  void pings(const actor& a, int n) {
    for (int i = 0; i < n; ++i)
      self->send(a, ping_atom::value, i);
    sched.run();
  }

  size_t count(const std::string& event) const {
    return static_cast<size_t>(std::count_if(
      events.begin(), events.end(), [&](auto& e) { return e.name == event; }));
  }

  trace_status status() {
    auto st = tr->status();
    CAF_REQUIRE(st);
    return *st;
  }

  bool attached(const actor& a) {
    auto s = table.stats(a.id());
    return s && s->trace.load() != nullptr;
  }

  static bool is(const error& err, skills_errc code) {
    return err.category() == skills_errc_category &&
           err.code() == static_cast<uint8_t>(code);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(tracer_tests, fixture)

CAF_TEST(a trace captures matching messages with their handler time) {
  auto w = worker("tw-match");
  auto c = spawn_tracked(sys, {"tw-client", "client", 0}, client_impl, w);
  sched.run();
  auto st = tr->start("tw-match", "work");
  CAF_REQUIRE(st);
  CAF_CHECK(st->running);
  CAF_CHECK_EQUAL(st->actor, "tw-match");
  CAF_CHECK_EQUAL(st->actor_id, w.id());
  CAF_CHECK(tel::is_trace_id(st->id));
  CAF_CHECK(attached(w));
  self->send(w, work_atom::value, 250);
  self->send(w, ping_atom::value, 1);
  self->send(w, work_atom::value, 3);
  self->send(c, 7); // c sends (ping, 7): not matched
  sched.run();
  auto cs = tr->captures();
  CAF_REQUIRE_EQUAL(cs.size(), 2u);
  CAF_MESSAGE("rendering: " << cs[0].message);
  CAF_CHECK(cs[0].message.find("work") != std::string::npos);
  CAF_CHECK(cs[0].message.find("250") != std::string::npos);
  CAF_CHECK_EQUAL(cs[0].handler_ns, 250'000'000u);
  CAF_CHECK_EQUAL(cs[1].handler_ns, 3'000'000u);
  CAF_CHECK_EQUAL(cs[0].index, 1u);
  CAF_CHECK_EQUAL(cs[1].index, 2u);
  CAF_CHECK_EQUAL(cs[0].result, "consumed");
  CAF_CHECK_EQUAL(cs[0].sender, self->id());
  auto s = status();
  CAF_CHECK_EQUAL(s.seen, 4u);
  CAF_CHECK_EQUAL(s.matched, 2u);
  CAF_CHECK_EQUAL(s.captured, 2u);
  CAF_CHECK_EQUAL(s.max_handler_ns, 250'000'000u);
  CAF_CHECK(s.running);
  // Senders in the table are named.
  CAF_REQUIRE(tr->stop());
  CAF_REQUIRE(tr->start(w.id(), "ping"));
  self->send(c, 9);
  sched.run();
  cs = tr->captures();
  CAF_REQUIRE_EQUAL(cs.size(), 1u);
  CAF_CHECK_EQUAL(cs[0].sender, c.id());
  CAF_CHECK_EQUAL(cs[0].sender_name, "tw-client");
}

CAF_TEST(patterns are substrings with star and question mark) {
  auto w = worker("tw-glob");
  auto captured = [&](const std::string& pattern) {
    CAF_REQUIRE(tr->start(w.id(), pattern));
    self->send(w, work_atom::value, 250);
    self->send(w, work_atom::value, 0);
    self->send(w, ping_atom::value, 42);
    sched.run();
    auto n = tr->captures().size();
    CAF_REQUIRE(tr->stop());
    return n;
  };
  CAF_CHECK_EQUAL(captured(""), 3u);
  CAF_CHECK_EQUAL(captured("*"), 3u);
  CAF_CHECK_EQUAL(captured("work"), 2u);
  CAF_CHECK_EQUAL(captured("w?rk"), 2u);
  CAF_CHECK_EQUAL(captured("work*25"), 1u);
  CAF_CHECK_EQUAL(captured("p*4?"), 1u);
  CAF_CHECK_EQUAL(captured("WORK"), 0u);
  CAF_CHECK_EQUAL(captured("work*9"), 0u);
  auto long_pattern = tr->start(w.id(), std::string(300, 'x'));
  CAF_REQUIRE(!long_pattern);
  CAF_CHECK(is(long_pattern.error(), skills_errc::invalid_argument));
}

CAF_TEST(at most five captures in any second) {
  auto w = worker("tw-rate");
  CAF_REQUIRE(tr->start(w.id(), "ping"));
  pings(w, 20);
  auto s = status();
  CAF_CHECK_EQUAL(s.captured, 5u);
  CAF_CHECK_EQUAL(s.seen, 20u);
  CAF_CHECK_EQUAL(s.rate_limited, 15u);
  CAF_CHECK_EQUAL(s.matched, 5u); // rate-limited messages are not rendered
  clk.advance(999ms);
  pings(w, 3);
  CAF_CHECK_EQUAL(status().captured, 5u); // the window is a sliding second
  clk.advance(1ms);
  pings(w, 20);
  CAF_CHECK_EQUAL(status().captured, 10u);
  CAF_CHECK_EQUAL(count("caflens.tracer.capture"), 10u);
  CAF_CHECK(status().running);
}

CAF_TEST(a trace stops by itself after fifty captures) {
  auto w = worker("tw-total");
  CAF_REQUIRE(tr->start(w.id(), ""));
  for (int second = 0; second < 12; ++second) {
    pings(w, 5);
    clk.advance(1s);
  }
  auto s = status();
  CAF_CHECK(!s.running);
  CAF_CHECK_EQUAL(s.stop_reason, "capture_limit");
  CAF_CHECK_EQUAL(s.captured, 50u);
  CAF_CHECK_EQUAL(tr->captures().size(), 50u);
  CAF_CHECK_EQUAL(tr->captures(5).size(), 5u);
  auto last_five = tr->captures(5); // a local: CAF_CHECK_EQUAL binds auto&&
  CAF_CHECK_EQUAL(last_five.back().index, 50u);
  CAF_CHECK(!attached(w));
  CAF_CHECK_EQUAL(count("caflens.tracer.capture"), 50u);
  CAF_REQUIRE_EQUAL(count("caflens.tracer.stopped"), 1u);
  CAF_CHECK_EQUAL(events.back().metadata["reason"].get<std::string>(),
                  "capture_limit");
  CAF_CHECK_EQUAL(events.back().measurements["captured"].get<double>(), 50.0);
}

CAF_TEST(a trace stops by itself after sixty seconds) {
  auto w = worker("tw-timeout");
  CAF_REQUIRE(tr->start(w.id(), ""));
  pings(w, 1);
  clk.advance(59s);
  pings(w, 1);
  CAF_CHECK_EQUAL(status().captured, 2u);
  clk.advance(1s);
  // Noticed by the next message...
  pings(w, 1);
  CAF_CHECK(!attached(w));
  auto s = status();
  CAF_CHECK(!s.running);
  CAF_CHECK_EQUAL(s.stop_reason, "timeout");
  CAF_CHECK_EQUAL(s.captured, 2u);
  CAF_CHECK_EQUAL(s.elapsed_ns, 60'000'000'000);
  // ... or by the next call, when the actor gets no message.
  CAF_REQUIRE(tr->start(w.id(), ""));
  clk.advance(61s);
  CAF_CHECK(!tr->running());
  CAF_CHECK_EQUAL(status().stop_reason, "timeout");
  CAF_CHECK(!attached(w));
  CAF_CHECK_EQUAL(count("caflens.tracer.stopped"), 2u);
}

CAF_TEST(event handlers may call the tracer) {
  auto w = worker("tw-reenter");
  bool reentered = false;
  auto err = bus.attach("reenter", {"caflens", "tracer", "stopped"},
                        [&](const tel::event_name&, const tel::measurements&,
                            const tel::metadata&, const std::any&) {
                          auto st = tr->status();
                          reentered = st && !st->running;
                        });
  CAF_REQUIRE(!err);
  CAF_REQUIRE(tr->start(w.id(), ""));
  clk.advance(61s);
  CAF_CHECK(!tr->running()); // the stop, noticed here, emits the event
  CAF_CHECK(reentered);
}

CAF_TEST(limits can be lowered but never raised) {
  auto w = worker("tw-limits");
  tracer_limits lower;
  lower.max_per_second = 2;
  lower.max_captures = 3;
  lower.max_duration = 10s;
  auto st = tr->start(w.id(), "", lower);
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL(st->limits.max_per_second, 2u);
  pings(w, 5);
  CAF_CHECK_EQUAL(status().captured, 2u);
  clk.advance(1s);
  pings(w, 5);
  CAF_CHECK_EQUAL(status().captured, 3u);
  CAF_CHECK_EQUAL(status().stop_reason, "capture_limit");
  tracer_limits higher;
  higher.max_per_second = 100;
  higher.max_captures = 1000;
  higher.max_duration = 1h;
  st = tr->start(w.id(), "", higher);
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL(st->limits.max_per_second, 5u);
  CAF_CHECK_EQUAL(st->limits.max_captures, 50u);
  CAF_CHECK(st->limits.max_duration == std::chrono::nanoseconds{60s});
  CAF_REQUIRE(tr->stop());
  // A tracer configured lower keeps its limits for every trace.
  tracer_options opts;
  opts.limits.max_duration = 5s;
  tracer short_tracer{table, opts, clk, bus};
  st = short_tracer.start(w.id(), "", higher);
  CAF_REQUIRE(st);
  CAF_CHECK(st->limits.max_duration == std::chrono::nanoseconds{5s});
  clk.advance(5s);
  CAF_CHECK(!short_tracer.running());
}

CAF_TEST(stop ends the trace and detaches it from the actor) {
  auto w = worker("tw-stop");
  CAF_REQUIRE(tr->start("tw-stop", ""));
  pings(w, 2);
  auto st = tr->stop();
  CAF_REQUIRE(st);
  CAF_CHECK(!st->running);
  CAF_CHECK_EQUAL(st->stop_reason, "stopped");
  CAF_CHECK_EQUAL(st->captured, 2u);
  CAF_CHECK(!attached(w));
  clk.advance(1s);
  pings(w, 2);
  CAF_CHECK_EQUAL(status().captured, 2u); // the last trace stays readable
  auto again = tr->stop();
  CAF_REQUIRE(!again);
  CAF_CHECK(is(again.error(), skills_errc::not_found));
  CAF_REQUIRE_EQUAL(count("caflens.tracer.stopped"), 1u);
  CAF_CHECK_EQUAL(events.back().metadata["reason"].get<std::string>(),
                  "stopped");
  CAF_CHECK_EQUAL(events.back().metadata["actor"].get<std::string>(),
                  "tw-stop");
}

CAF_TEST(one trace at a time) {
  auto a = worker("tw-one-a");
  auto b = worker("tw-one-b");
  CAF_REQUIRE(tr->start(a.id(), ""));
  auto second = tr->start(b.id(), "");
  CAF_REQUIRE(!second);
  CAF_CHECK(is(second.error(), skills_errc::limit_reached));
  CAF_MESSAGE(caflens::render_error(second.error()));
  // Another tracer cannot attach to the same actor either.
  tracer other{table, {}, clk, bus};
  auto same = other.start(a.id(), "");
  CAF_REQUIRE(!same);
  CAF_CHECK(is(same.error(), skills_errc::limit_reached));
  CAF_CHECK(other.start(b.id(), "")); // but to another actor
  pings(a, 1);
  pings(b, 1);
  CAF_CHECK_EQUAL(tr->captures().size(), 1u);
  CAF_CHECK_EQUAL(other.captures().size(), 1u);
}

CAF_TEST(the death of the actor ends its trace) {
  auto w = worker("tw-dies");
  CAF_REQUIRE(tr->start(w.id(), ""));
  pings(w, 2);
  anon_send_exit(w, exit_reason::kill);
  sched.run();
  auto s = status();
  CAF_CHECK(!s.running);
  CAF_CHECK_EQUAL(s.stop_reason, "actor_exited");
  // The exit message itself went through the handler path: captured.
  CAF_REQUIRE_EQUAL(s.captured, 3u);
  auto last = tr->captures().back().message;
  CAF_MESSAGE(last);
  CAF_CHECK(last.find("exit_msg") != std::string::npos);
  CAF_REQUIRE_EQUAL(count("caflens.tracer.stopped"), 1u);
  CAF_CHECK_EQUAL(events.back().metadata["reason"].get<std::string>(),
                  "actor_exited");
  // A dead actor cannot be traced.
  auto again = tr->start(w.id(), "");
  CAF_REQUIRE(!again);
  CAF_CHECK(is(again.error(), skills_errc::not_found));
}

CAF_TEST(an actor that quits inside a traced handler ends its trace) {
  auto q = spawn_tracked(sys, {"tw-quitter", "quitter", 0},
                         [](event_based_actor* self) -> behavior {
                           return {[=](int) { self->quit(); }};
                         });
  sched.run();
  CAF_REQUIRE(tr->start(q.id(), ""));
  self->send(q, 1);
  sched.run();
  auto s = status();
  CAF_CHECK(!s.running);
  CAF_CHECK_EQUAL(s.stop_reason, "actor_exited");
  CAF_CHECK_EQUAL(count("caflens.tracer.stopped"), 1u);
}

CAF_TEST(a handler that throws is captured as an exception) {
  auto w = worker("tw-throws");
  CAF_REQUIRE(tr->start(w.id(), "boom"));
  self->send(w, boom_atom::value);
  sched.run();
  auto cs = tr->captures();
  CAF_REQUIRE_EQUAL(cs.size(), 1u);
  CAF_CHECK_EQUAL(cs[0].result, "exception");
  auto s = status();
  CAF_CHECK(!s.running);
  CAF_CHECK_EQUAL(s.stop_reason, "actor_exited");
}

CAF_TEST(stopping while the actor is inside a traced handler is safe) {
  auto w = worker("tw-midway");
  CAF_REQUIRE(tr->start(w.id(), ""));
  // The operator stops the trace and drops the tracer while the actor runs
  // the handler of a message the trace matched.
  inside = [&] {
    CAF_CHECK(tr->stop());
    tr.reset();
  };
  self->send(w, ping_atom::value, -1);
  sched.run();
  CAF_CHECK(!tr);
  CAF_CHECK(!attached(w));
  CAF_CHECK_EQUAL(count("caflens.tracer.capture"), 0u); // the trace was final
  CAF_CHECK_EQUAL(count("caflens.tracer.stopped"), 1u);
  pings(w, 3); // back on the untraced path
  auto info = table.find(w.id());
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->processed, 4u);
}

CAF_TEST(untracked actors give a clear error) {
  auto plain = sys.spawn(worker_impl, &clk, &inside);
  auto by_id = tr->start(plain.id(), "");
  CAF_REQUIRE(!by_id);
  CAF_CHECK(is(by_id.error(), skills_errc::not_found));
  auto text = caflens::render_error(by_id.error());
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("no tracked actor with id") != std::string::npos);
  auto by_name = tr->start("tw-nobody", "");
  CAF_REQUIRE(!by_name);
  CAF_CHECK(is(by_name.error(), skills_errc::not_found));
  // Registered (e.g. a supervised child) but spawned without spawn_tracked.
  table.add_untracked(plain.id(), plain.address(), {"tw-registered", "w", 0},
                      "local");
  auto registered = tr->start("tw-registered", "");
  CAF_REQUIRE(!registered);
  CAF_CHECK(is(registered.error(), skills_errc::invalid_argument));
  text = caflens::render_error(registered.error());
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("not tracked") != std::string::npos);
  table.remove(plain.id(), error{});
  CAF_CHECK(!tr->status());
}

CAF_TEST(telemetry events carry the catalogued keys) {
  auto w = worker("tw-events");
  auto st = tr->start(w.id(), "work");
  CAF_REQUIRE(st);
  self->send(w, work_atom::value, 12);
  sched.run();
  CAF_REQUIRE(tr->stop());
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  auto keys = [](const json& obj) {
    std::vector<std::string> xs;
    for (auto& [k, v] : obj.items())
      xs.push_back(k);
    std::sort(xs.begin(), xs.end());
    return xs;
  };
  auto sorted = [](std::vector<std::string> xs) {
    std::sort(xs.begin(), xs.end());
    return xs;
  };
  for (auto& e : events) {
    auto name = tel::event_name::parse(e.name);
    CAF_REQUIRE(name);
    auto info = tel::info(*name);
    CAF_REQUIRE(info);
    CAF_CHECK_EQUAL(keys(e.measurements), sorted(info->measurements));
    CAF_CHECK_EQUAL(keys(e.metadata), sorted(info->metadata));
  }
  auto& capture = events[0];
  CAF_CHECK_EQUAL(capture.name, "caflens.tracer.capture");
  CAF_CHECK_EQUAL(capture.measurements["handler_time"].get<double>(), 12e6);
  CAF_CHECK_EQUAL(capture.measurements["captured"].get<double>(), 1.0);
  CAF_CHECK_EQUAL(capture.metadata["trace_id"].get<std::string>(), st->id);
  CAF_CHECK_EQUAL(capture.metadata["pattern"].get<std::string>(), "work");
  CAF_CHECK_EQUAL(capture.metadata["actor"].get<std::string>(), "tw-events");
  CAF_CHECK_EQUAL(events[1].name, "caflens.tracer.stopped");
}

CAF_TEST(the skill offers callbacks a snapshot and a slow handler finding) {
  auto w = worker("tw-skill");
  tracer_options opts;
  auto t = std::make_shared<tracer>(table, opts, clk, bus);
  auto sk = make_tracer_skill(t);
  CAF_CHECK_EQUAL(sk->name(), "tracer");
  auto idle = sk->snapshot();
  CAF_CHECK_EQUAL(idle["active"].get<bool>(), false);
  CAF_CHECK(idle["trace"].is_null());
  CAF_CHECK(sk->detect(idle, {}).empty());
  std::map<std::string, callback> cbs;
  for (auto& cb : sk->callbacks())
    cbs.emplace(cb.name, cb);
  for (auto name :
       {"trace_start", "trace_status", "trace_captures", "trace_stop"})
    CAF_CHECK(cbs.count(name) == 1);
  auto unknown = cbs["trace_start"].fn({"tw-nobody", "work"});
  CAF_REQUIRE(!unknown);
  CAF_MESSAGE(caflens::render_error(unknown.error()));
  auto bad = cbs["trace_start"].fn({json::array(), "work"});
  CAF_REQUIRE(!bad);
  CAF_CHECK(is(bad.error(), skills_errc::invalid_argument));
  auto started = cbs["trace_start"].fn({"tw-skill", "work"});
  CAF_REQUIRE(started);
  CAF_CHECK_EQUAL((*started)["running"].get<bool>(), true);
  CAF_CHECK_EQUAL((*started)["limits"]["max_captures"].get<int>(), 50);
  self->send(w, work_atom::value, 5);
  sched.run();
  // Fast handlers: nothing to report.
  auto fast = sk->snapshot();
  CAF_CHECK_EQUAL(fast["active"].get<bool>(), true);
  CAF_CHECK_EQUAL(fast["recent_captures"].size(), 1u);
  CAF_CHECK(sk->detect(fast, {}).empty());
  self->send(w, work_atom::value, 250);
  sched.run();
  auto slow = sk->snapshot();
  CAF_CHECK_EQUAL(slow["trace"]["slow_captures"].get<int>(), 1);
  auto fs = sk->detect(slow, {});
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK_EQUAL(fs[0].type, "slow_traced_handler");
  CAF_CHECK(fs[0].level == severity::warning);
  CAF_CHECK_EQUAL(fs[0].actors, std::vector<std::string>{"tw-skill"});
  CAF_MESSAGE(fs[0].observation);
  CAF_CHECK(fs[0].observation.find("250.0 ms") != std::string::npos);
  self->send(w, work_atom::value, 1500);
  sched.run();
  fs = sk->detect(sk->snapshot(), {});
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK(fs[0].level == severity::critical);
  auto caps = cbs["trace_captures"].fn({2});
  CAF_REQUIRE(caps);
  CAF_REQUIRE_EQUAL(caps->size(), 2u);
  CAF_CHECK_EQUAL((*caps)[1]["handler_ms"].get<double>(), 1500.0);
  auto st = cbs["trace_status"].fn({});
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL((*st)["captured"].get<int>(), 3);
  auto stopped = cbs["trace_stop"].fn({});
  CAF_REQUIRE(stopped);
  CAF_CHECK_EQUAL((*stopped)["stop_reason"].get<std::string>(), "stopped");
  CAF_CHECK(!cbs["trace_stop"].fn({}));
  // An id given as digits works as well.
  auto by_digits = cbs["trace_start"].fn({std::to_string(w.id()), nullptr});
  CAF_REQUIRE(by_digits);
  CAF_CHECK_EQUAL((*by_digits)["actor"].get<std::string>(), "tw-skill");
  CAF_CHECK(sk->snapshot().dump().size() <= sk->limits().max_snapshot_bytes);
}

CAF_TEST_FIXTURE_SCOPE_END()

// Untraced actors on a real scheduler while a trace runs and stops on
// another actor: nothing is lost or double-counted.
CAF_TEST(traces start and stop while actors run on worker threads) {
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  tel::manual_clock clk;
  tel::bus bus;
  auto& table = process_table::global();
  std::function<void()> inside;
  auto w =
    spawn_tracked(sys, {"tw-threads", "worker", 0}, worker_impl, &clk, &inside);
  tracer t{table, {}, clk, bus};
  scoped_actor self{sys};
  for (int round = 0; round < 200; ++round) {
    CAF_REQUIRE(t.start(w.id(), ""));
    for (int i = 0; i < 50; ++i)
      self->send(w, ping_atom::value, i);
    CAF_REQUIRE(t.stop());
    clk.advance(1s);
  }
  // A request after the pings: when it returns, every ping was handled.
  self->send(w, ping_atom::value, 0);
  auto answer = get_state(sys, w, 10s);
  CAF_CHECK(!answer); // no state view, but the request went through
  caflens::skills::detail::flush_enqueue_counts();
  auto info = table.find(w.id());
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->processed, 200u * 50 + 2);
  CAF_CHECK(t.captures().size() <= 5u);
  anon_send_exit(w, exit_reason::user_shutdown);
}
