#define CAF_SUITE supervision.supervisor

#include "caflens/supervision/supervisor.hpp"

#include "caf/test/dsl.hpp"

#include "fixture.hpp"

using namespace supervision_test;
using namespace std::chrono_literals;

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, fixture)

// -- strategies ---------------------------------------------------------------

CAF_TEST(children start left to right and stop right to left) {
  auto sup =
    start_sup(flags(strategy::one_for_one), {spec("a"), spec("b"), spec("c")});
  CAF_CHECK_EQUAL(take_log(), strings({"start a", "start b", "start c"}));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit c shutdown", "exit b shutdown",
                           "exit a shutdown", "exit top shutdown"}));
}

CAF_TEST(one_for_one restarts only the crashed child) {
  auto sup =
    start_sup(flags(strategy::one_for_one), {spec("a"), spec("b"), spec("c")});
  take_log();
  crash("b");
  CAF_CHECK_EQUAL(take_log(), strings({"exit b crash", "start b"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:running c:running");
}

CAF_TEST(one_for_all stops the others right to left and restarts all) {
  auto sup =
    start_sup(flags(strategy::one_for_all), {spec("a"), spec("b"), spec("c")});
  take_log();
  crash("b");
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit b crash", "exit c shutdown", "exit a shutdown",
                           "start a", "start b", "start c"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:running c:running");
}

CAF_TEST(rest_for_one restarts the crashed child and those after it) {
  auto sup = start_sup(flags(strategy::rest_for_one, 5),
                       {spec("a"), spec("b"), spec("c"), spec("d")});
  take_log();
  crash("b");
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit b crash", "exit d shutdown", "exit c shutdown",
                           "start b", "start c", "start d"}));
  crash("d");
  CAF_CHECK_EQUAL(take_log(), strings({"exit d crash", "start d"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:running c:running d:running");
}

// -- restart types ------------------------------------------------------------

CAF_TEST(transient children restart only after abnormal exits) {
  auto sup = start_sup(
    flags(strategy::one_for_one, 10),
    {spec("n", restart_type::transient), spec("s", restart_type::transient),
     spec("r", restart_type::transient), spec("x", restart_type::transient)});
  take_log();
  crash("n", caf::exit_reason::normal);
  crash("s", caf::exit_reason::user_shutdown);
  crash("r", shutdown_reason("done"));
  crash("x", crash_reason("boom"));
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit n normal", "exit s shutdown",
                           "exit r shutdown:done", "exit x boom", "start x"}));
  CAF_CHECK_EQUAL(statuses(sup), "n:stopped s:stopped r:stopped x:running");
}

CAF_TEST(permanent children restart after normal exits too) {
  auto sup = start_sup(flags(strategy::one_for_one, 5), {spec("p")});
  take_log();
  crash("p", caf::exit_reason::normal);
  crash("p", caf::exit_reason::user_shutdown);
  CAF_CHECK_EQUAL(take_log(), strings({"exit p normal", "start p",
                                       "exit p shutdown", "start p"}));
}

CAF_TEST(temporary children are never restarted and are removed) {
  auto sup =
    start_sup(flags(strategy::one_for_all, 5),
              {spec("a"), spec("t", restart_type::temporary), spec("c")});
  take_log();
  // A sibling's crash takes the temporary child down for good.
  crash("c");
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit c crash", "exit t shutdown", "exit a shutdown",
                           "start a", "start c"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running c:running");
  auto t2 =
    call<caf::actor>(sup, start_child{spec("t2", restart_type::temporary)});
  CAF_REQUIRE(t2);
  take_log();
  crash("t2");
  CAF_CHECK_EQUAL(take_log(), strings({"exit t2 crash"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running c:running");
}

// -- restart intensity --------------------------------------------------------

CAF_TEST(exactly intensity restarts within the period are fine) {
  auto sup =
    start_sup(flags(strategy::one_for_one, 3, 5s), {spec("a"), spec("b")});
  take_log();
  for (int i = 0; i < 3; ++i) {
    crash("a");
    advance(1000);
  }
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit a crash", "start a", "exit a crash", "start a",
                           "exit a crash", "start a"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:running");
}

CAF_TEST(one restart over the intensity stops the supervisor) {
  auto before = sys.registry().running();
  auto sup =
    start_sup(flags(strategy::one_for_one, 3, 5s), {spec("a"), spec("b")});
  take_log();
  for (int i = 0; i < 3; ++i)
    crash("a");
  take_log();
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "exit b shutdown",
                                       "exit top shutdown"}));
  CAF_CHECK_EQUAL(sys.registry().running(), before);
}

CAF_TEST(default intensity is one restart in five seconds) {
  supervisor_flags f;
  CAF_CHECK_EQUAL(f.intensity, 1u);
  CAF_CHECK(f.period == 5s);
  CAF_CHECK(f.strategy == strategy::one_for_one);
  CAF_CHECK(f.auto_shutdown == auto_shutdown::never);
  f.name = "top";
  auto sup = start_sup(f, {spec("a")});
  take_log();
  crash("a");
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "start a",
                                       "exit a crash", "exit top shutdown"}));
}

CAF_TEST(a restart exactly one period ago still counts) {
  // OTP keeps restarts with time >= now - period.
  auto sup = start_sup(flags(strategy::one_for_one, 1, 5s), {spec("a")});
  take_log();
  crash("a");
  advance(5000);
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "start a",
                                       "exit a crash", "exit top shutdown"}));
}

CAF_TEST(restarts older than the period fall out of the window) {
  // Whole seconds: 5.001 s later is still the 5th second after the first
  // crash's (counted, see above); 6 s later is not.
  auto sup = start_sup(flags(strategy::one_for_one, 1, 5s), {spec("a")});
  take_log();
  crash("a");
  advance(6000);
  crash("a");
  advance(6000);
  crash("a");
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit a crash", "start a", "exit a crash", "start a",
                           "exit a crash", "start a"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
}

CAF_TEST(whole seconds count restarts 1.2 s apart in a 1 s period) {
  // OTP: stamps floor(t / 1 s); 0.1 s and 1.3 s are seconds 0 and 1, and
  // 0 >= 1 - 1 keeps the first.
  auto sup = start_sup(flags(strategy::one_for_one, 1, 1s), {spec("a")});
  take_log();
  advance(100);
  crash("a");
  advance(1200);
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "start a",
                                       "exit a crash", "exit top shutdown"}));
}

CAF_TEST(a millisecond window forgets what whole seconds keep) {
  auto f = flags(strategy::one_for_one, 1, 1s);
  f.window = restart_window::milliseconds;
  auto sup = start_sup(f, {spec("a")});
  take_log();
  advance(100);
  crash("a");
  advance(1200);
  crash("a");
  advance(1001);
  crash("a");
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit a crash", "start a", "exit a crash", "start a",
                           "exit a crash", "start a"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
}

CAF_TEST(a period that is not whole seconds needs the millisecond window) {
  auto f = flags(strategy::one_for_one, 1, 1500ms);
  auto err = validate(f);
  CAF_CHECK_EQUAL(err, supervision_errc::invalid_flags);
  f.window = restart_window::milliseconds;
  CAF_CHECK(!validate(f));
}

CAF_TEST(intensity zero stops at the first restart) {
  start_sup(flags(strategy::one_for_one, 0),
            {spec("a"), spec("t", restart_type::temporary)});
  take_log();
  crash("t");
  CAF_CHECK_EQUAL(take_log(), strings({"exit t crash"}));
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "exit top shutdown"}));
}

// -- shutdown modes -----------------------------------------------------------

CAF_TEST(brutal_kill kills at once) {
  auto sup =
    start_sup(flags(strategy::one_for_one),
              {spec("a", restart_type::permanent,
                    shutdown_policy::brutal_kill(), on_shutdown::hang)});
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit a killed", "exit top shutdown"}));
}

CAF_TEST(a timeout shutdown waits and then kills) {
  auto sup = start_sup(
    flags(strategy::one_for_one),
    {spec("a"), spec("h", restart_type::permanent,
                     shutdown_policy::timeout(500), on_shutdown::hang)});
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings{});
  advance(499);
  CAF_CHECK_EQUAL(take_log(), strings{});
  advance(1);
  CAF_CHECK_EQUAL(take_log(), strings({"exit h killed", "exit a shutdown",
                                       "exit top shutdown"}));
}

CAF_TEST(a timeout shutdown lets a slow child finish in time) {
  auto sup =
    start_sup(flags(strategy::one_for_one),
              {spec("s", restart_type::permanent, shutdown_policy::timeout(500),
                    on_shutdown::slow)});
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  advance(100);
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit s shutdown", "exit top shutdown"}));
}

CAF_TEST(infinity waits as long as the child needs) {
  auto sup = start_sup(flags(strategy::one_for_one),
                       {spec("h", restart_type::permanent,
                             shutdown_policy::infinity(), on_shutdown::hang)});
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  advance(60'000);
  CAF_CHECK_EQUAL(take_log(), strings{});
  // The child finally goes (here: killed from outside).
  caf::anon_send_exit(actors["h"], caf::exit_reason::kill);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit h killed", "exit top shutdown"}));
}

// -- ignore and start errors --------------------------------------------------

CAF_TEST(ignore keeps the spec of a non temporary child) {
  (*script)["b"] = "io";
  (*script)["t"] = "i";
  auto sup =
    start_sup(flags(strategy::one_for_one),
              {spec("a"), spec("b"), spec("t", restart_type::temporary)});
  CAF_CHECK_EQUAL(take_log(), strings({"start a", "ignore b", "ignore t"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:stopped");
  auto b = call<caf::actor>(sup, restart_child{"b"});
  CAF_REQUIRE(b);
  CAF_CHECK(*b != nullptr);
  CAF_CHECK_EQUAL(statuses(sup), "a:running b:running");
}

CAF_TEST(a start error stops the started children and the supervisor) {
  (*script)["c"] = "e";
  start_sup(flags(strategy::one_for_one),
            {spec("a"), spec("b"), spec("c"), spec("d")});
  CAF_CHECK_EQUAL(take_log(),
                  strings({"start a", "start b", "start_error c",
                           "exit b shutdown", "exit a shutdown",
                           "exit top shutdown:failed_to_start_child:c:boom"}));
}

CAF_TEST(a failing restart is retried and counts against the intensity) {
  // Starts: ok, then two failures, then ok: three restart attempts.
  (*script)["a"] = "oeeo";
  auto sup = start_sup(flags(strategy::one_for_one, 3), {spec("a")});
  take_log();
  crash("a");
  CAF_CHECK_EQUAL(take_log(), strings({"exit a crash", "start_error a",
                                       "start_error a", "start a"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
}

CAF_TEST(restart storm : a child that fails to start stops its supervisor) {
  auto before = sys.registry().running();
  (*script)["w"] = "oe"; // first start ok, every restart fails
  supervisor_flags inner = flags(strategy::one_for_one, 3, 5s, "inner");
  auto top = start_sup(
    flags(strategy::one_for_one, 0, 5s, "outer"),
    {supervisor_child("inner", inner, {spec("w")}, restart_type::transient),
     spec("other")});
  CAF_CHECK_EQUAL(take_log(), strings({"start w", "start other"}));
  CAF_CHECK(call<caf::ok_atom>(top, subscribe{self}));
  crash("w");
  CAF_CHECK_EQUAL(take_log(), strings({"exit w crash", "start_error w",
                                       "start_error w", "start_error w"}));
  // The outer supervisor sees inner exit with shutdown: normal for a
  // transient child, so no restart and the outer supervisor stays.
  bool seen = false;
  self->receive_while([&] { return !seen; })(
    [&](child_exited& x) {
      CAF_CHECK_EQUAL(x.child_id, "inner");
      CAF_CHECK_EQUAL(reason_text(x.reason), "shutdown");
      CAF_CHECK(!x.will_restart);
      seen = true;
    },
    caf::after(std::chrono::seconds{0}) >>
      [&] { CAF_FAIL("no child_exited report for inner"); });
  CAF_CHECK_EQUAL(statuses(top), "inner:stopped other:running");
  caf::anon_send_exit(top, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit other shutdown", "exit outer shutdown"}));
  CAF_CHECK_EQUAL(sys.registry().running(), before);
}

// -- dynamic children ---------------------------------------------------------

CAF_TEST(simple_one_for_one starts children from a template with args) {
  auto tmpl = spec("w", restart_type::transient);
  auto sup = start_sup(flags(strategy::simple_one_for_one, 5), {tmpl});
  CAF_CHECK_EQUAL(take_log(), strings{});
  auto w1 = call<caf::actor>(
    sup, start_dynamic_child{caf::make_message(std::string{"1"})});
  auto w2 = call<caf::actor>(
    sup, start_dynamic_child{caf::make_message(std::string{"2"})});
  CAF_REQUIRE(w1 && w2);
  CAF_CHECK_EQUAL(take_log(), strings({"start w/1", "start w/2"}));
  crash("w/1");
  CAF_CHECK_EQUAL(take_log(), strings({"exit w/1 crash", "start w/1"}));
  crash("w/2", caf::exit_reason::normal);
  CAF_CHECK_EQUAL(take_log(), strings({"exit w/2 normal"}));
  auto counts = call<child_counts>(sup, count_children{});
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(*counts, (child_counts{1, 1, 0, 1}));
  auto t = call<caf::ok_atom>(sup, terminate_child{"", actors["w/1"]});
  CAF_CHECK(t);
  CAF_CHECK_EQUAL(take_log(), strings({"exit w/1 shutdown"}));
  CAF_CHECK_EQUAL(statuses(sup), "");
}

CAF_TEST(simple_one_for_one stops all dynamic children on shutdown) {
  auto sup = start_sup(
    flags(strategy::simple_one_for_one, 5),
    {spec("w", restart_type::permanent, shutdown_policy::brutal_kill())});
  for (auto name : {"1", "2", "3"})
    CAF_CHECK(call<caf::actor>(
      sup, start_dynamic_child{caf::make_message(std::string{name})}));
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  auto lg = take_log();
  CAF_REQUIRE_EQUAL(lg.size(), 4u);
  std::sort(lg.begin(), lg.begin() + 3);
  CAF_CHECK_EQUAL(lg, strings({"exit w/1 killed", "exit w/2 killed",
                               "exit w/3 killed", "exit top shutdown"}));
}

// -- significant children -----------------------------------------------------

CAF_TEST(any_significant shuts down when a significant child ends) {
  auto f = flags(strategy::one_for_one, 5);
  f.auto_shutdown = auto_shutdown::any_significant;
  auto sig = spec("s", restart_type::transient);
  sig.significant = true;
  start_sup(f, {spec("a"), sig});
  take_log();
  // An abnormal exit restarts a transient child: no shutdown.
  crash("s");
  CAF_CHECK_EQUAL(take_log(), strings({"exit s crash", "start s"}));
  crash("s", caf::exit_reason::normal);
  CAF_CHECK_EQUAL(take_log(), strings({"exit s normal", "exit a shutdown",
                                       "exit top shutdown"}));
}

CAF_TEST(all_significant waits for the last significant child) {
  auto f = flags(strategy::one_for_one, 5);
  f.auto_shutdown = auto_shutdown::all_significant;
  auto s1 = spec("s1", restart_type::temporary);
  s1.significant = true;
  auto s2 = spec("s2", restart_type::transient);
  s2.significant = true;
  start_sup(f, {spec("a"), s1, s2});
  take_log();
  crash("s1"); // temporary: any exit counts
  CAF_CHECK_EQUAL(take_log(), strings({"exit s1 crash"}));
  crash("s2", shutdown_reason("done"));
  CAF_CHECK_EQUAL(
    take_log(),
    strings({"exit s2 shutdown:done", "exit a shutdown", "exit top shutdown"}));
}

CAF_TEST(significant needs auto_shutdown and a non permanent child) {
  auto sig = spec("s", restart_type::permanent);
  sig.significant = true;
  auto f = flags(strategy::one_for_one);
  auto r1 = spawn_supervisor(sys, f, {sig});
  CAF_CHECK(r1.error() == supervision_errc::bad_combination);
  f.auto_shutdown = auto_shutdown::any_significant;
  auto r2 = spawn_supervisor(sys, f, {sig});
  CAF_CHECK(r2.error() == supervision_errc::bad_combination);
  sig.restart = restart_type::transient;
  auto r3 = spawn_supervisor(sys, f, {sig});
  CAF_CHECK(r3);
  caf::anon_send_exit(*r3, caf::exit_reason::kill);
  run_all();
}

// -- nested supervisors -------------------------------------------------------

CAF_TEST(nested supervisors start depth first and stop right to left) {
  auto inner = flags(strategy::one_for_one, 1, 5s, "inner");
  auto top = start_sup(
    flags(strategy::one_for_one),
    {spec("a"), supervisor_child("inner", inner, {spec("x"), spec("y")}),
     spec("b")});
  CAF_CHECK_EQUAL(take_log(),
                  strings({"start a", "start x", "start y", "start b"}));
  auto tree_text = call<std::string>(top, get_tree{});
  CAF_REQUIRE(tree_text);
  auto tree = parse_tree(*tree_text);
  CAF_REQUIRE(tree);
  CAF_CHECK_EQUAL((*tree)["name"], "top");
  CAF_CHECK_EQUAL((*tree)["children"].size(), 3u);
  CAF_CHECK_EQUAL((*tree)["children"][1]["type"], "supervisor");
  CAF_CHECK_EQUAL((*tree)["children"][1]["tree"]["children"][1]["id"], "y");
  caf::anon_send_exit(top, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit b shutdown", "exit y shutdown",
                                       "exit x shutdown", "exit a shutdown",
                                       "exit top shutdown"}));
}

CAF_TEST(a nested supervisor over its intensity is restarted by its parent) {
  auto inner = flags(strategy::one_for_one, 0, 5s, "inner");
  auto top = start_sup(flags(strategy::one_for_one, 1),
                       {supervisor_child("inner", inner, {spec("x")})});
  take_log();
  crash("x");
  CAF_CHECK_EQUAL(take_log(), strings({"exit x crash", "start x"}));
  auto tree = parse_tree(*call<std::string>(top, get_tree{}));
  CAF_REQUIRE(tree);
  auto& child = (*tree)["children"][0];
  CAF_CHECK_EQUAL(child["restarts"], 1);
  CAF_CHECK_EQUAL(child["history"].size(), 1u);
  CAF_CHECK_EQUAL(child["history"][0]["reason"], "shutdown");
  CAF_CHECK_EQUAL(child["tree"]["children"][0]["status"], "running");
}

CAF_TEST(a nested supervisor failing to start fails its parent) {
  (*script)["y"] = "e";
  auto inner = flags(strategy::one_for_one, 1, 5s, "inner");
  start_sup(flags(strategy::one_for_one),
            {spec("a"),
             supervisor_child("inner", inner, {spec("x"), spec("y")}),
             spec("b")});
  CAF_CHECK_EQUAL(
    take_log(),
    strings({"start a", "start x", "start_error y", "exit x shutdown",
             "exit a shutdown",
             "exit top shutdown:failed_to_start_child:inner:shutdown:"
             "failed_to_start_child:y:boom"}));
}

CAF_TEST(exits of non children stop the supervisor with that reason) {
  auto sup = start_sup(flags(strategy::one_for_one), {spec("a")});
  take_log();
  auto parent = sys.spawn(
    [sup](caf::event_based_actor* self, int) -> caf::behavior {
      self->link_to(sup);
      return {[self](crash_atom, caf::error& r) { self->quit(std::move(r)); }};
    },
    0);
  run_all();
  caf::anon_send(parent, crash_atom::value, crash_reason("parent_died"));
  run_all();
  CAF_CHECK_EQUAL(take_log(),
                  strings({"exit a shutdown", "exit top parent_died"}));
}

CAF_TEST(a killed child does not take its supervisor down) {
  // CAF passes exit_reason::kill on to linked actors; supervisors monitor.
  auto sup = start_sup(flags(strategy::one_for_one, 2), {spec("a")});
  take_log();
  caf::anon_send_exit(actors["a"], caf::exit_reason::kill);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit a killed", "start a"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
}

CAF_TEST(children die with a killed supervisor) {
  auto before = sys.registry().running();
  auto sup = start_sup(flags(strategy::one_for_one), {spec("a"), spec("b")});
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  run_all();
  auto lg = take_log();
  std::sort(lg.begin(), lg.end());
  CAF_CHECK_EQUAL(
    lg, strings({"exit a killed", "exit b killed", "exit top killed"}));
  CAF_CHECK_EQUAL(sys.registry().running(), before);
}

CAF_TEST_FIXTURE_SCOPE_END()
