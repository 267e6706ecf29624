#define CAF_SUITE supervision.reports

#include "caflens/supervision/reports.hpp"

#include <mutex>

#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/test/dsl.hpp"

#include "caflens/telemetry/bus.hpp"

#include "fixture.hpp"

using namespace supervision_test;
using namespace std::chrono_literals;

namespace {

/// Serializes `x` inside a `caf::message` (as for a remote node) and back.
/// Fails for unannounced types: they cannot cross nodes.
template <class T>
void round_trip(caf::actor_system& sys, T x) {
  auto msg = caf::make_message(std::move(x));
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(msg))
    CAF_FAIL("cannot serialize " << to_string(msg) << ": " << sys.render(err));
  caf::message copy;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(copy))
    CAF_FAIL("cannot deserialize " << to_string(msg) << ": "
                                   << sys.render(err));
  CAF_CHECK(copy.match_elements<T>());
  CAF_CHECK_EQUAL(to_string(copy), to_string(msg));
}

child_info make_info(std::string id) {
  child_info result;
  result.id = std::move(id);
  return result;
}

struct counting_observer : child_observer {
  std::vector<std::string> events;

  void child_started(const child_event& ev, const caf::actor& x) override {
    CAF_CHECK(x != nullptr);
    events.push_back("started " + std::string{ev.child_id});
  }

  void child_exited(const child_event& ev, caf::actor_id,
                    const caf::error& reason) override {
    events.push_back("exited " + std::string{ev.child_id} + " " +
                     log_text(reason));
  }

  void child_start_failed(const child_event& ev,
                          const caf::error& reason) override {
    events.push_back("failed " + std::string{ev.child_id} + " " +
                     log_text(reason));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(report_tests, fixture)

CAF_TEST(every message type survives a serialization round trip) {
  auto err = crash_reason("boom");
  auto sd = shutdown_policy::timeout(250);
  child_spec spec;
  spec.id = "a";
  spec.args = caf::make_message(std::string{"x"}, int32_t{7});
  spec.restart = restart_type::transient;
  spec.shutdown = sd;
  spec.significant = true;
  // Requests and replies.
  round_trip(sys, start_child{spec});
  round_trip(sys, start_dynamic_child{caf::make_message(std::string{"w1"})});
  round_trip(sys, terminate_child{"a", {}});
  round_trip(sys, restart_child{"a"});
  round_trip(sys, delete_child{"a"});
  round_trip(sys, which_children{});
  round_trip(sys, count_children{});
  round_trip(sys, get_childspec{"a", {}});
  round_trip(sys, get_tree{});
  round_trip(sys, subscribe{});
  round_trip(sys, unsubscribe{});
  round_trip(sys, spec);
  round_trip(sys, child_info{"a",
                             {},
                             child_status::restarting,
                             child_type::supervisor,
                             restart_type::temporary,
                             3});
  round_trip(sys, std::vector<child_info>{make_info("a"), make_info("b")});
  round_trip(sys, child_counts{4, 3, 2, 1});
  // Reports.
  round_trip(sys, supervisor_started{"top", strategy::rest_for_one, 3});
  round_trip(sys, child_started{"top", "a", 42, child_type::worker,
                                restart_type::transient, true, 2});
  round_trip(sys, child_ignored{"top", "a"});
  round_trip(sys, child_start_error{"top", "a", err, 1});
  round_trip(
    sys, child_exited{"top", "a", 42, err, restart_type::permanent, true, 1});
  round_trip(sys, child_restarted{"top", "a", 43, err, 1});
  round_trip(
    sys, child_terminated{"top", "a", 42, caf::exit_reason::user_shutdown, sd});
  round_trip(sys, intensity_exceeded{"top", "a", err, 2, 1, 5000});
  round_trip(
    sys, auto_shutdown_triggered{"top", "s", auto_shutdown::all_significant});
  round_trip(sys, supervisor_stopped{"top", shutdown_reason("done")});
}

CAF_TEST(a round trip keeps the values) {
  child_exited x{
    "top", "a", 42, shutdown_reason("bye"), restart_type::transient, false, 3};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  CAF_REQUIRE(!sink(x));
  child_exited y;
  caf::binary_deserializer source{sys, buf};
  CAF_REQUIRE(!source(y));
  CAF_CHECK_EQUAL(y.supervisor, "top");
  CAF_CHECK_EQUAL(y.child_id, "a");
  CAF_CHECK_EQUAL(y.actor, 42u);
  CAF_CHECK_EQUAL(reason_text(y.reason), "shutdown:bye");
  CAF_CHECK(y.restart == restart_type::transient);
  CAF_CHECK_EQUAL(y.restarts_in_period, 3u);
}

CAF_TEST(subscribers get typed reports of starts exits and restarts) {
  auto sup = start_sup(flags(strategy::one_for_one, 1), {spec("a")});
  CAF_CHECK(call<caf::ok_atom>(sup, subscribe{self}));
  crash("a");
  std::vector<std::string> got;
  bool done = false;
  self->receive_while([&] { return !done; })(
    [&](child_exited& x) {
      CAF_CHECK_EQUAL(x.supervisor, "top");
      CAF_CHECK_EQUAL(x.child_id, "a");
      CAF_CHECK_EQUAL(log_text(x.reason), "crash");
      CAF_CHECK(x.will_restart);
      CAF_CHECK_EQUAL(x.restarts_in_period, 0u);
      got.push_back("exited");
    },
    [&](child_started& x) {
      CAF_CHECK(x.restarted);
      CAF_CHECK(x.actor == actors["a"].id());
      CAF_CHECK_EQUAL(x.restarts_in_period, 1u);
      got.push_back("started");
    },
    [&](child_restarted& x) {
      CAF_CHECK_EQUAL(log_text(x.reason), "crash");
      CAF_CHECK_EQUAL(x.restarts_in_period, 1u);
      got.push_back("restarted");
    },
    caf::after(0s) >> [&] { done = true; });
  CAF_CHECK_EQUAL(got, strings({"exited", "started", "restarted"}));
  // One more is over the intensity.
  crash("a");
  got.clear();
  done = false;
  self->receive_while([&] { return !done; })(
    [&](child_exited&) { got.push_back("exited"); },
    [&](intensity_exceeded& x) {
      CAF_CHECK_EQUAL(x.child_id, "a");
      CAF_CHECK_EQUAL(x.restarts, 2u);
      CAF_CHECK_EQUAL(x.intensity, 1u);
      CAF_CHECK_EQUAL(x.period_ms, 5000);
      got.push_back("intensity_exceeded");
    },
    [&](supervisor_stopped& x) {
      CAF_CHECK_EQUAL(reason_text(x.reason), "shutdown");
      got.push_back("stopped");
    },
    caf::after(0s) >> [&] { done = true; });
  CAF_CHECK_EQUAL(got, strings({"exited", "intensity_exceeded", "stopped"}));
}

CAF_TEST(a subscriber that understands no report cannot stop the supervisor) {
  auto sup = start_sup(flags(strategy::one_for_one, 5), {spec("a")});
  // CAF answers every message it does not handle with an error.
  auto deaf = sys.spawn(
    [](caf::event_based_actor*, int) -> caf::behavior {
      return {[](int) {}};
    },
    0);
  CAF_CHECK(call<caf::ok_atom>(sup, subscribe{deaf}));
  crash("a");
  run_all();
  crash("a");
  run_all();
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
  caf::anon_send_exit(deaf, caf::exit_reason::user_shutdown);
  run_all();
}

CAF_TEST(unsubscribed actors get no reports) {
  auto sup = start_sup(flags(strategy::one_for_one, 5), {spec("a")});
  CAF_CHECK(call<caf::ok_atom>(sup, subscribe{self}));
  CAF_CHECK(call<caf::ok_atom>(sup, unsubscribe{self}));
  crash("a");
  bool any = false;
  self->receive([&](child_exited&) { any = true; }, caf::after(0s) >> [] {});
  CAF_CHECK(!any);
}

CAF_TEST(reports are telemetry events too) {
  std::mutex mtx;
  std::vector<std::string> events;
  auto names = std::vector<caflens::telemetry::event_name>{
    {"caflens", "supervisor", "started"},
    {"caflens", "supervisor", "child_started"},
    {"caflens", "supervisor", "child_exited"},
    {"caflens", "supervisor", "child_restarted"},
    {"caflens", "supervisor", "child_terminated"},
    {"caflens", "supervisor", "intensity_exceeded"},
    {"caflens", "supervisor", "stopped"}};
  auto err = caflens::telemetry::attach_many(
    "supervision-test", names,
    [&](const caflens::telemetry::event_name& ev,
        const caflens::telemetry::measurements& m,
        const caflens::telemetry::metadata& md, const std::any&) {
      std::string line = ev.segments().back();
      if (auto id = md.find("child_id"))
        line += " " + std::string{id->as_string()};
      if (auto r = md.find("reason"))
        line += " " + std::string{r->as_string()};
      if (auto rip = m.find("restarts_in_period"))
        line += " rip=" + std::to_string(static_cast<int>(*rip));
      CAF_CHECK_EQUAL(md.find("supervisor")->as_string(), "top");
      std::lock_guard<std::mutex> guard{mtx};
      events.push_back(line);
    });
  CAF_REQUIRE(!err);
  auto sup = start_sup(flags(strategy::one_for_one, 1), {spec("a")});
  crash("a", shutdown_reason("x"));
  crash("a", shutdown_reason("y"));
  caflens::telemetry::detach("supervision-test");
  CAF_CHECK_EQUAL(
    events,
    strings({"child_started a", "started", "child_exited a shutdown:x rip=0",
             "child_started a", "child_restarted a shutdown:x rip=1",
             "child_exited a shutdown:y rip=1", "intensity_exceeded a",
             "stopped shutdown"}));
}

CAF_TEST(start errors ignores terminations and auto shutdowns are events) {
  namespace tm = caflens::telemetry;
  std::mutex mtx;
  std::vector<std::string> events;
  auto names = std::vector<tm::event_name>{
    {"caflens", "supervisor", "child_start_error"},
    {"caflens", "supervisor", "child_ignored"},
    {"caflens", "supervisor", "child_terminated"},
    {"caflens", "supervisor", "auto_shutdown"}};
  auto err = tm::attach_many(
    "supervision-test", names,
    [&](const tm::event_name& ev, const tm::measurements&,
        const tm::metadata& md, const std::any&) {
      std::string line = std::string{md.find("supervisor")->as_string()} + " "
                         + ev.segments().back();
      for (auto key : {"child_id", "reason", "auto_shutdown"})
        if (auto v = md.find(key); v && !v->as_string().empty())
          line += " " + std::string{v->as_string()};
      std::lock_guard<std::mutex> guard{mtx};
      events.push_back(line);
    });
  CAF_REQUIRE(!err);
  // b's first restart fails (the retry succeeds), c ignores its start.
  (*script)["b"] = "oeo";
  (*script)["c"] = "i";
  auto sup = start_sup(flags(strategy::one_for_one, 5),
                       {spec("a"), spec("b"), spec("c")});
  crash("b");
  advance(10);
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"a", {}}));
  // A significant transient child ending normally shuts `inner` down.
  auto f = flags(strategy::one_for_one, 5, std::chrono::seconds{5}, "inner");
  f.auto_shutdown = auto_shutdown::any_significant;
  auto d = spec("d", restart_type::transient);
  d.significant = true;
  start_sup(f, {d});
  crash("d", caf::error{});
  advance(10);
  tm::detach("supervision-test");
  CAF_CHECK_EQUAL(
    events,
    strings({"top child_ignored c",
             R"(top child_start_error b system_error(runtime_error, ("boom")))",
             "top child_terminated a shutdown",
             "inner auto_shutdown d any_significant"}));
}

CAF_TEST(the observer sees every child start and exit) {
  auto obs = std::make_shared<counting_observer>();
  auto f = flags(strategy::one_for_all, 2);
  f.observer = obs;
  (*script)["c"] = "oe"; // every restart of c fails
  start_sup(f, {spec("a"), spec("c")});
  crash("a");
  // Restart 1 (a's crash) and 2 (retry) fail on c; retry 3 is over the
  // intensity and stops everything.
  CAF_CHECK_EQUAL(
    obs->events,
    strings({"started a", "started c", "exited a crash", "exited c shutdown",
             "started a", "failed c boom", "exited a shutdown", "started a",
             "failed c boom", "exited a shutdown"}));
}

CAF_TEST(a default observer applies when the flags name none) {
  auto obs = std::make_shared<counting_observer>();
  set_default_child_observer(obs);
  start_sup(flags(strategy::one_for_one), {spec("a")});
  set_default_child_observer(nullptr);
  CAF_CHECK_EQUAL(obs->events, strings({"started a"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
