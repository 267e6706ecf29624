#define CAF_SUITE supervision.messages

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reason.hpp"

#include "caf/test/dsl.hpp"

#include "fixture.hpp"

using namespace supervision_test;
using namespace std::chrono_literals;

namespace {

template <class T>
bool fails_with(const caf::expected<T>& x, supervision_errc code) {
  return !x && x.error() == code;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(message_tests, fixture)

CAF_TEST(start_child adds and starts a child) {
  auto sup = start_sup(flags(strategy::one_for_one), {spec("a")});
  take_log();
  auto c = call<caf::actor>(sup, start_child{spec("c")});
  CAF_REQUIRE(c);
  CAF_CHECK(*c == actors["c"]);
  CAF_CHECK_EQUAL(take_log(), strings({"start c"}));
  CAF_CHECK_EQUAL(statuses(sup), "a:running c:running");
  // Stopped right to left, the added child first.
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit c shutdown", "exit a shutdown",
                                       "exit top shutdown"}));
}

CAF_TEST(which_children lists the newest child first) {
  auto sup = start_sup(flags(strategy::one_for_one, 5),
                       {spec("a"), spec("b"), spec("c")});
  CAF_CHECK_EQUAL(listing(call<std::vector<child_info>>(sup, which_children{})),
                  strings({"c", "b", "a"}));
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"b", {}}));
  CAF_CHECK(call<caf::ok_atom>(sup, delete_child{"b"}));
  CAF_CHECK(call<caf::actor>(sup, start_child{spec("b")}));
  CAF_CHECK(call<caf::actor>(sup, start_child{spec("d")}));
  crash("c");
  run_all();
  CAF_CHECK_EQUAL(listing(call<std::vector<child_info>>(sup, which_children{})),
                  strings({"d", "b", "c", "a"}));
  take_log();
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  CAF_CHECK_EQUAL(take_log(), strings({"exit d shutdown", "exit b shutdown",
                                       "exit c shutdown", "exit a shutdown",
                                       "exit top shutdown"}));
}

CAF_TEST(start_child errors) {
  auto sup = start_sup(flags(strategy::one_for_one), {spec("a")});
  auto again = call<caf::actor>(sup, start_child{spec("a")});
  CAF_CHECK(fails_with(again, supervision_errc::already_started));
  // OTP's {error, {already_started, Pid}}: the running child comes along.
  CAF_REQUIRE(!again);
  auto& ctx = again.error().context();
  CAF_REQUIRE(ctx.match_elements<std::string, caf::actor>());
  CAF_CHECK(ctx.get_as<caf::actor>(1) == actors["a"]);
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"a", {}}));
  CAF_CHECK(fails_with(call<caf::actor>(sup, start_child{spec("a")}),
                       supervision_errc::already_present));
  child_spec no_start;
  no_start.id = "x";
  CAF_CHECK(fails_with(call<caf::actor>(sup, start_child{no_start}),
                       supervision_errc::invalid_child_spec));
  auto sig = spec("s", restart_type::transient);
  sig.significant = true;
  CAF_CHECK(fails_with(call<caf::actor>(sup, start_child{sig}),
                       supervision_errc::bad_combination));
  (*script)["bad"] = "e";
  auto bad = call<caf::actor>(sup, start_child{spec("bad")});
  CAF_REQUIRE(!bad);
  // OTP's {error, {Reason, ChildSpec}}: the reason with the spec.
  CAF_CHECK(fails_with(bad, supervision_errc::start_error));
  auto why = start_error_of(bad.error());
  CAF_REQUIRE(why);
  CAF_CHECK_EQUAL(log_text(why->reason), "boom");
  CAF_CHECK_EQUAL(why->id, "bad");
  CAF_CHECK_EQUAL(why->type, "worker");
  CAF_CHECK_EQUAL(statuses(sup), "a:stopped");
  (*script)["ign"] = "i";
  auto ign = call<caf::actor>(sup, start_child{spec("ign")});
  CAF_REQUIRE(ign);
  CAF_CHECK(*ign == nullptr);
  CAF_CHECK_EQUAL(statuses(sup), "a:stopped ign:stopped");
}

CAF_TEST(terminate restart and delete) {
  auto sup = start_sup(flags(strategy::one_for_one), {spec("a"), spec("b")});
  take_log();
  CAF_CHECK(fails_with(call<caf::ok_atom>(sup, terminate_child{"zz", {}}),
                       supervision_errc::not_found));
  CAF_CHECK(fails_with(call<caf::ok_atom>(sup, delete_child{"a"}),
                       supervision_errc::running));
  CAF_CHECK(fails_with(call<caf::actor>(sup, restart_child{"a"}),
                       supervision_errc::running));
  CAF_CHECK(fails_with(call<caf::actor>(sup, restart_child{"zz"}),
                       supervision_errc::not_found));
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"a", {}}));
  CAF_CHECK_EQUAL(take_log(), strings({"exit a shutdown"}));
  CAF_CHECK(call<caf::actor>(sup, restart_child{"a"}));
  CAF_CHECK_EQUAL(take_log(), strings({"start a"}));
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"b", {}}));
  CAF_CHECK(call<caf::ok_atom>(sup, delete_child{"b"}));
  CAF_CHECK(fails_with(call<caf::ok_atom>(sup, delete_child{"b"}),
                       supervision_errc::not_found));
  CAF_CHECK_EQUAL(statuses(sup), "a:running");
}

CAF_TEST(count_children and get_childspec) {
  auto inner = flags(strategy::one_for_one, 1, 5s, "inner");
  auto sup = start_sup(
    flags(strategy::one_for_one),
    {spec("a", restart_type::transient, shutdown_policy::brutal_kill()),
     supervisor_child("inner", inner, {spec("x")}), spec("b")});
  CAF_CHECK(call<caf::ok_atom>(sup, terminate_child{"b", {}}));
  auto counts = call<child_counts>(sup, count_children{});
  CAF_REQUIRE(counts);
  CAF_CHECK_EQUAL(*counts, (child_counts{3, 2, 1, 2}));
  auto a = call<child_spec>(sup, get_childspec{"a", {}});
  CAF_REQUIRE(a);
  CAF_CHECK_EQUAL(a->id, "a");
  CAF_CHECK(a->restart == restart_type::transient);
  CAF_CHECK(a->shutdown == shutdown_policy::brutal_kill());
  auto in = call<child_spec>(sup, get_childspec{"inner", {}});
  CAF_REQUIRE(in);
  CAF_CHECK(in->type == child_type::supervisor);
  CAF_CHECK(in->shutdown == shutdown_policy::infinity());
  CAF_CHECK(fails_with(call<child_spec>(sup, get_childspec{"zz", {}}),
                       supervision_errc::not_found));
}

CAF_TEST(simple_one_for_one rejects id based operations) {
  auto sup = start_sup(flags(strategy::simple_one_for_one, 5), {spec("w")});
  auto w = call<caf::actor>(
    sup, start_dynamic_child{caf::make_message(std::string{"1"})});
  CAF_REQUIRE(w);
  CAF_CHECK(fails_with(call<caf::actor>(sup, start_child{spec("x")}),
                       supervision_errc::simple_one_for_one));
  CAF_CHECK(fails_with(call<caf::actor>(sup, restart_child{"w"}),
                       supervision_errc::simple_one_for_one));
  CAF_CHECK(fails_with(call<caf::ok_atom>(sup, delete_child{"w"}),
                       supervision_errc::simple_one_for_one));
  CAF_CHECK(fails_with(call<caf::ok_atom>(sup, terminate_child{"w", {}}),
                       supervision_errc::simple_one_for_one));
  auto s = call<child_spec>(sup, get_childspec{"", *w});
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->id, "w");
  auto other =
    start_sup(flags(strategy::one_for_one, 1, 5s, "other"), {spec("a")});
  CAF_CHECK(fails_with(call<caf::actor>(other, start_dynamic_child{}),
                       supervision_errc::not_simple_one_for_one));
}

CAF_TEST(validation follows OTP) {
  auto f = flags(strategy::one_for_one);
  f.period = 0ms;
  CAF_CHECK(spawn_supervisor(sys, f, {}).error() ==
            supervision_errc::invalid_flags);
  CAF_CHECK(
    spawn_supervisor(sys, flags(strategy::one_for_one), {spec("a"), spec("a")})
      .error() == supervision_errc::duplicate_child_id);
  CAF_CHECK(spawn_supervisor(sys, flags(strategy::simple_one_for_one),
                             {spec("a"), spec("b")})
              .error() == supervision_errc::invalid_child_spec);
  CAF_CHECK(
    spawn_supervisor(sys, flags(strategy::one_for_one), {spec("")}).error() ==
    supervision_errc::invalid_child_spec);
  CAF_CHECK_EQUAL(caflens::render_error(
                    make_error(supervision_errc::not_found, "no child 'x'")),
                  "supervisor: not_found: no child 'x'");
}

CAF_TEST(requests wait for a running operation) {
  auto sup = start_sup(
    flags(strategy::one_for_one),
    {spec("a"), spec("h", restart_type::permanent,
                     shutdown_policy::timeout(500), on_shutdown::hang)});
  take_log();
  self->send(sup, terminate_child{"h", {}});
  self->send(sup, which_children{});
  run_all();
  // Both wait for h's shutdown timeout.
  CAF_CHECK(!receive_reply<caf::ok_atom>());
  advance(500);
  CAF_CHECK(receive_reply<caf::ok_atom>());
  auto xs = receive_reply<std::vector<child_info>>();
  CAF_REQUIRE(xs);
  CAF_CHECK_EQUAL(xs->size(), 2u);
  CAF_CHECK_EQUAL(take_log(), strings({"exit h killed"}));
}

CAF_TEST(requests queued during a shutdown get shutting_down) {
  auto sup =
    start_sup(flags(strategy::one_for_one),
              {spec("h", restart_type::permanent, shutdown_policy::timeout(500),
                    on_shutdown::hang)});
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  run_all();
  self->send(sup, count_children{});
  run_all();
  advance(500);
  auto res = receive_reply<child_counts>();
  CAF_CHECK(fails_with(res, supervision_errc::shutting_down));
}

CAF_TEST(get_tree shows nested supervisors and restart history) {
  auto inner = flags(strategy::one_for_all, 3, 5s, "inner");
  auto sup = start_sup(
    flags(strategy::one_for_one, 3),
    {spec("a"), supervisor_child("inner", inner, {spec("x"), spec("y")})});
  crash("a");
  crash("x");
  auto text = call<std::string>(sup, get_tree{});
  CAF_REQUIRE(text);
  auto tree = parse_tree(*text);
  CAF_REQUIRE(tree);
  auto& t = *tree;
  CAF_CHECK_EQUAL(t["name"], "top");
  CAF_CHECK_EQUAL(t["strategy"], "one_for_one");
  CAF_CHECK_EQUAL(t["restarts_in_period"], 1);
  CAF_CHECK_EQUAL(t["children"][0]["id"], "a");
  CAF_CHECK_EQUAL(t["children"][0]["restarts"], 1);
  CAF_CHECK_EQUAL(t["children"][0]["history"][0]["reason"],
                  caflens::render_error(crash_reason("crash")));
  auto& nested = t["children"][1]["tree"];
  CAF_CHECK_EQUAL(nested["name"], "inner");
  CAF_CHECK_EQUAL(nested["restarts_in_period"], 1);
  CAF_CHECK_EQUAL(nested["children"][0]["restarts"], 1);
  CAF_CHECK_EQUAL(nested["children"][1]["restarts"], 1);
  CAF_CHECK_EQUAL(nested["children"][1]["status"], "running");
}

CAF_TEST_FIXTURE_SCOPE_END()
