#define CAF_SUITE skills.get_state
#include "caf/test/unit_test.hpp"

#include <future>

#include "caf/all.hpp"

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/sandbox/sandbox.hpp"
#include "caflens/telemetry/error.hpp"

using namespace caf;
using namespace caflens::skills;
using namespace std::chrono_literals;

namespace {

struct cart_state {
  std::vector<std::string> items;
};

behavior cart_impl(stateful_actor<cart_state>* self) {
  expose_state(self, [self] {
    return nlohmann::json{{"items", self->state.items}};
  });
  return {[=](const std::string& item) { self->state.items.push_back(item); }};
}

struct fixture {
  actor_system_config cfg;
  std::unique_ptr<actor_system> sys;
  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<actor_system>(cfg);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(get_state_tests, fixture)

CAF_TEST(a tracked actor answers with its state view) {
  auto cart = spawn_tracked(*sys, {"cart-1", "cart", 0}, cart_impl);
  anon_send(cart, std::string{"book"});
  anon_send(cart, std::string{"lamp"});
  auto st = get_state(*sys, cart);
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL((*st)["items"].size(), 2u);
  CAF_CHECK_EQUAL((*st)["items"][1].get<std::string>(), "lamp");
  // The request itself counts as one processed message.
  caflens::skills::detail::flush_enqueue_counts();
  auto info = process_table::global().find(cart.id());
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->processed, 3u);
  anon_send_exit(cart, exit_reason::user_shutdown);
}

CAF_TEST(an operator reaches the view through the actor_state callback) {
  auto cart = spawn_tracked(*sys, {"cart-cb", "cart", 0}, cart_impl);
  anon_send(cart, std::string{"kettle"});
  auto skill = make_actors_skill(process_table::global());
  auto cbs = sandbox_callbacks(*skill);
  caflens::sandbox::sandbox box;
  auto res = box.execute("return actor_state('cart-cb').items[1]", cbs);
  if (!res)
    CAF_FAIL(caflens::render_error(res.error()));
  CAF_CHECK_EQUAL(res->value, "kettle");
  auto missing = box.execute("return actor_state('no-such-cart')", cbs);
  CAF_REQUIRE(!missing);
  CAF_CHECK(caflens::render_error(missing.error()).find("no-such-cart")
            != std::string::npos);
  anon_send_exit(cart, exit_reason::user_shutdown);
}

CAF_TEST(an actor without a view says so) {
  auto plain = spawn_tracked(*sys, {"plain", "plain", 0},
                             [](event_based_actor*) -> behavior {
                               return {[](int) {}};
                             });
  auto st = get_state(*sys, plain);
  CAF_REQUIRE(!st);
  CAF_CHECK_EQUAL(st.error(), skills_errc::no_state);
  anon_send_exit(plain, exit_reason::user_shutdown);
}

CAF_TEST(a stuck actor is reported unresponsive) {
  std::promise<void> entered, release;
  auto release_f = release.get_future().share();
  auto stuck = spawn_tracked(*sys, {"stuck", "stuck", 0},
                             [&](event_based_actor* self) -> behavior {
                               expose_state(self, [] {
                                 return nlohmann::json::object();
                               });
                               return {[&, release_f](int) {
                                 entered.set_value();
                                 release_f.wait();
                               }};
                             });
  anon_send(stuck, 1);
  entered.get_future().wait();
  auto st = get_state(*sys, stuck, 100ms);
  CAF_REQUIRE(!st);
  CAF_CHECK_EQUAL(st.error(), skills_errc::unresponsive);
  release.set_value();
  // Once free again, it answers.
  auto again = get_state(*sys, stuck);
  CAF_CHECK(static_cast<bool>(again));
  anon_send_exit(stuck, exit_reason::user_shutdown);
}

CAF_TEST(a leak seen only through get_state is found by the memory skill) {
  // Two routers expose views: one a size that grows ("alias_cache_entries",
  // a leak nobody reports with report_state_bytes), one only a counter of
  // work done ("ticks_routed"), which grows in any healthy service.
  struct router_state {
    std::vector<int> aliases;
    uint64_t routed = 0;
  };
  using sync_atom = atom_constant<atom("sync")>;
  auto router = [](stateful_actor<router_state>* self, bool leaks) {
    expose_state(self, [self, leaks] {
      nlohmann::json j{{"ticks_routed", self->state.routed}};
      if (leaks)
        j["alias_cache_entries"] = self->state.aliases.size();
      return j;
    });
    return behavior{[=](int n) {
                      self->state.routed += static_cast<uint64_t>(n);
                      if (leaks)
                        for (int i = 0; i < n; ++i)
                          self->state.aliases.push_back(i);
                    },
                    [](sync_atom) { return sync_atom::value; }};
  };
  auto leaky = spawn_tracked(*sys, {"alias-router", "router", 0}, router,
                             true);
  auto fine = spawn_tracked(*sys, {"plain-router", "router", 0}, router,
                            false);
  // The looks follow each other within milliseconds here: judge growth
  // over any window.
  detector_thresholds t;
  t.state_growth_min_window_ms = 0;
  auto skill = make_memory_skill(process_table::global(), t);
  scoped_actor self{*sys};
  std::vector<nlohmann::json> history;
  for (int round = 0; round < 4; ++round) {
    for (auto& r : {leaky, fine}) {
      self->send(r, 300);
      self->request(r, infinite, sync_atom::value)
        .receive([](sync_atom) {}, [](error&) {});
    }
    history.push_back(skill->snapshot());
  }
  auto cur = history.back();
  history.pop_back();
  auto fs = skill->detect(cur, history);
  bool leak_found = false;
  for (auto& f : fs) {
    CAF_CHECK(f.actors.empty() || f.actors[0] != "plain-router");
    if (f.type == "state_growth" && f.actors[0] == "alias-router") {
      leak_found = true;
      CAF_MESSAGE(f.observation);
      CAF_CHECK_EQUAL(f.evidence["field"].get<std::string>(),
                      "/alias_cache_entries");
      CAF_CHECK_EQUAL(f.evidence["source"].get<std::string>(), "get_state");
    }
  }
  CAF_CHECK(leak_found);
  anon_send_exit(leaky, exit_reason::user_shutdown);
  anon_send_exit(fine, exit_reason::user_shutdown);
}

CAF_TEST(stream batches do not count as waiting messages) {
  // CAF's stream batches and acknowledgements bypass `consume`: counted as
  // enqueued, they would leave the sink's mailbox "deep" forever.
  auto finished = std::make_shared<std::promise<void>>();
  auto fut = finished->get_future();
  auto sink = spawn_tracked(
    *sys, {"stream-sink", "sink", 0},
    [finished](event_based_actor* self) -> behavior {
      return {[=](stream<int> in) {
        return attach_stream_sink(
          self, in, [](unit_t&) {}, [](unit_t&, int) {},
          [finished](unit_t&, const error&) { finished->set_value(); });
      }};
    });
  auto source = sys->spawn([sink](event_based_actor* self, int) -> behavior {
    attach_stream_source(
      self, sink, std::make_tuple(), [](int& x) { x = 0; },
      [](int& x, downstream<int>& out, size_t num) {
        for (size_t i = 0; i < num && x < 5000; ++i)
          out.push(x++);
      },
      [](const int& x) { return x >= 5000; });
    return {};
  }, 0);
  CAF_REQUIRE(fut.wait_for(30s) == std::future_status::ready);
  caflens::skills::detail::flush_enqueue_counts();
  auto info = process_table::global().find(sink.id());
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->mailbox_depth, 0u);
  anon_send_exit(sink, exit_reason::user_shutdown);
  anon_send_exit(source, exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
