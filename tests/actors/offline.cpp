#define CAF_SUITE actors.offline
// A dormant lens (nothing inspected the process table before) finds stuck
// actors on real threads: the rule brain rechecks suspects until the
// detectors' thresholds are crossed. The stuck handlers wait on futures the
// test releases, or (the fault itself) work 2 s per message; the test never
// sleeps to wait for an actor.

#include <atomic>
#include <future>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "actors_test_support.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracked.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace std::chrono_literals;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    ::setenv("CAFLENS_BRAIN", "rule", 1);
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 4);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~fixture() {
    ::unsetenv("CAFLENS_BRAIN");
  }

  config lens_config() {
    config c;
    c.builtin_skills = false;
    auto& table = skills::process_table::global();
    c.thresholds.unresponsive_ms = 1000;
    c.skills = {skills::make_actors_skill(table, c.thresholds)};
    return c;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(offline_tests, fixture)

CAF_TEST(a handler blocked before the lens looked is found) {
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> entered;
  auto inside = entered.get_future();
  auto stuck = skills::spawn_tracked(
    *sys, {"resizer-9", "resizer", 0},
    [gate, &entered](caf::event_based_actor*) -> caf::behavior {
      return {[gate, &entered](int x) {
        if (x == 0) {
          entered.set_value();
          gate.wait(); // blocks its scheduler thread
        }
      }};
    });
  caf::anon_send(stuck, 0);
  inside.wait();
  for (int i = 1; i <= 50; ++i)
    caf::anon_send(stuck, i);
  auto lens = caflens::start(*sys, lens_config());
  CAF_REQUIRE(lens);
  auto res = lens->investigate("queue depth over 40", {}, 30s);
  release.set_value();
  CAF_REQUIRE(res);
  auto* top = res->top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->pattern, "scheduler_starvation");
  CAF_CHECK_EQUAL(top->culprits.at(0), "resizer-9");
  lens->stop();
}

CAF_TEST(handlers blocking 2 s per message on 2 threads are found every time) {
  // The acceptance of issue 11: a handler that blocks its scheduler thread
  // 2 s per message, again and again, with 2 worker threads, found by a
  // lens that never looked before — 10 runs out of 10. Each run has a new
  // actor (no observer state) and a new lens with every built-in skill.
  caf::actor_system_config cfg2;
  add_message_types(cfg2);
  cfg2.set("scheduler.max-threads", 2);
  caf::actor_system sys2{cfg2};
  int found = 0;
  for (int run = 0; run < 10; ++run) {
    auto stop = std::make_shared<std::atomic<bool>>(false);
    auto name = "thumbnailer-" + std::to_string(run);
    auto blocker = skills::spawn_tracked(
      sys2, {name, "thumbnailer", 0},
      [stop](caf::event_based_actor*) -> caf::behavior {
        return {[stop](int) {
          // The fault: 2 s of synchronous work per message.
          auto until = std::chrono::steady_clock::now() + 2s;
          while (!stop->load() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(5ms);
        }};
      });
    for (int i = 0; i < 20; ++i)
      caf::anon_send(blocker, i);
    config c;
    auto lens = caflens::start(sys2, c);
    CAF_REQUIRE(lens);
    auto res = lens->investigate("thumbnail queue is slow", {}, 30s);
    stop->store(true);
    CAF_REQUIRE(res);
    auto* top = res->top(severity::warning);
    if (top != nullptr && top->pattern == "scheduler_starvation"
        && !top->culprits.empty() && top->culprits[0] == name)
      ++found;
    else
      CAF_MESSAGE("run " << run << ": " << render_report(*res));
    lens->stop();
    caf::anon_send_exit(blocker, caf::exit_reason::kill);
  }
  CAF_CHECK_EQUAL(found, 10);
}

CAF_TEST(a request cycle is found as unresponsive) {
  // a asks b, b asks a: both await replies that never come (until 4 s).
  auto make = [&](std::string name) {
    return skills::spawn_tracked(
      *sys, {name, "ledger", 0},
      [](caf::event_based_actor* self) -> caf::behavior {
        return {
          [self](caf::actor peer) {
            self->request(peer, 4s, std::string{"ping"})
              .await([](std::string&) {}, [](caf::error&) {});
          },
          [](std::string& x) { return x; },
          [](int) {},
        };
      });
  };
  auto a = make("catalog-1");
  auto b = make("billing-1");
  caf::anon_send(a, b);
  caf::anon_send(b, a);
  for (int i = 0; i < 5; ++i) {
    caf::anon_send(a, i);
    caf::anon_send(b, i);
  }
  auto lens = caflens::start(*sys, lens_config());
  CAF_REQUIRE(lens);
  auto res = lens->investigate("catalog indexing lag", {}, 30s);
  CAF_REQUIRE(res);
  auto* top = res->top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->pattern, "unresponsive");
  std::set<std::string> culprits(top->culprits.begin(), top->culprits.end());
  CAF_CHECK_EQUAL(culprits.count("catalog-1"), 1u);
  CAF_CHECK_EQUAL(culprits.count("billing-1"), 1u);
  lens->stop();
}

CAF_TEST(the async form replies to an actor) {
  auto lens = caflens::start(*sys, lens_config());
  CAF_REQUIRE(lens);
  caf::scoped_actor self{*sys};
  investigate_options opts;
  opts.trigger = "alert";
  lens->investigate_async("routine", self, opts);
  bool got = false;
  self->receive(
    [&](investigation_result& r) {
      got = true;
      CAF_CHECK_EQUAL(r.reason, "routine");
      CAF_CHECK_EQUAL(r.trigger, "alert");
      CAF_CHECK_EQUAL(r.brain, "rule");
    },
    [&](caf::error& err) { CAF_FAIL("error: " << render_error(err)); },
    caf::after(std::chrono::seconds{30}) >> [] { CAF_FAIL("no reply"); });
  CAF_CHECK(got);
  // Bad input comes back as an error, not silence.
  lens->investigate_async("", self);
  self->receive(
    [&](investigation_result&) { CAF_FAIL("expected an error"); },
    [&](caf::error& err) {
      CAF_CHECK_EQUAL(err.category(), actors_errc_category);
    },
    caf::after(std::chrono::seconds{30}) >> [] { CAF_FAIL("no reply"); });
  lens->stop();
}

CAF_TEST_FIXTURE_SCOPE_END()
