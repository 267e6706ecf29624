#define CAF_SUITE skills.tracked
#include "caf/test/dsl.hpp"

#include <future>

#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracked.hpp"

using namespace caf;
using namespace caflens::skills;

namespace {

using add_atom = atom_constant<atom("add")>;
using calc_actor = typed_actor<replies_to<add_atom, int, int>::with<int>>;

behavior counter_impl(event_based_actor*) {
  return {[](int x) { return x + 1; }};
}

calc_actor::behavior_type calc_impl(calc_actor::pointer) {
  return {[](add_atom, int x, int y) { return x + y; }};
}

struct counter_state {
  std::vector<int> seen;
};

behavior stateful_impl(stateful_actor<counter_state>* self) {
  return {[=](int x) {
    self->state.seen.push_back(x);
    // The leak-prone actor reports its state size for the memory skill.
    static_cast<tracked<stateful_actor<counter_state>>*>(self)
      ->report_state_bytes(self->state.seen.size() * sizeof(int));
  }};
}

class class_based : public event_based_actor {
public:
  class_based(actor_config& cfg, int base)
    : event_based_actor(cfg), base_(base) {
  }

  behavior make_behavior() override {
    return {[this](int x) { return x + base_; }};
  }

private:
  int base_;
};

struct fixture : test_coordinator_fixture<> {
  process_table& table = process_table::global();

  actor_info info_of(const strong_actor_ptr& p) {
    caflens::skills::detail::flush_enqueue_counts();
    auto i = table.find(p->id());
    CAF_REQUIRE(i.has_value());
    return *i;
  }

  template <class Handle>
  actor_info info_of(const Handle& h) {
    return info_of(actor_cast<strong_actor_ptr>(h));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(tracked_tests, fixture)

CAF_TEST(tracked actors register with name and kind) {
  auto before = table.size();
  auto a = spawn_tracked(sys, {"counter-1", "counter", 7}, counter_impl);
  CAF_CHECK_EQUAL(table.size(), before + 1);
  auto i = info_of(a);
  CAF_CHECK_EQUAL(i.name, "counter-1");
  CAF_CHECK_EQUAL(i.kind, "counter");
  CAF_CHECK_EQUAL(i.parent, 7u);
  CAF_CHECK(i.spawned_at_ns > 0);
  auto by_name = table.find(std::string{"counter-1"});
  CAF_REQUIRE(by_name);
  CAF_CHECK_EQUAL(by_name->id, a.id());
  auto unnamed = spawn_tracked(sys, {"", "worker", 0}, counter_impl);
  CAF_CHECK_EQUAL(info_of(unnamed).name,
                  "worker-" + std::to_string(unnamed.id()));
}

CAF_TEST(counters follow enqueues and handler runs) {
  auto a = spawn_tracked(sys, {"c", "counter", 0}, counter_impl);
  sched.run();
  for (int i = 0; i < 10; ++i)
    self->send(a, i);
  auto before = info_of(a);
  CAF_CHECK_EQUAL(before.enqueued, 10u);
  CAF_CHECK_EQUAL(before.processed, 0u);
  CAF_CHECK_EQUAL(before.mailbox_depth, 10u);
  CAF_CHECK(!before.in_handler);
  sched.run();
  auto after = info_of(a);
  CAF_CHECK_EQUAL(after.processed, 10u);
  CAF_CHECK_EQUAL(after.mailbox_depth, 0u);
  CAF_CHECK(after.last_activity_ns > 0);
  // The first run of every 64 is timed.
  CAF_CHECK(after.mean_handler_ns > 0);
}

CAF_TEST(typed actors are tracked and still answer) {
  auto c = spawn_tracked(sys, {"calc", "calc", 0}, calc_impl);
  self->send(c, add_atom::value, 2, 3);
  expect((add_atom, int, int), from(self).to(c).with(_, 2, 3));
  expect((int), from(c).to(self).with(5));
  CAF_CHECK_EQUAL(info_of(c).processed, 1u);
}

CAF_TEST(stateful actors report their state size) {
  auto s = spawn_tracked(sys, {"hoarder", "hoarder", 0}, stateful_impl);
  for (int i = 0; i < 100; ++i)
    self->send(s, i);
  sched.run();
  auto i = info_of(s);
  CAF_CHECK_EQUAL(i.processed, 100u);
  CAF_CHECK_EQUAL(i.state_bytes, 100 * sizeof(int));
  auto top = table.top(1, actor_order::state_bytes);
  CAF_REQUIRE_EQUAL(top.size(), 1u);
  CAF_CHECK_EQUAL(top[0].id, s.id());
}

CAF_TEST(class based actors are tracked) {
  auto c = spawn_tracked<class_based>(sys, {"cb", "class_based", 0}, 40);
  self->send(c, 2);
  expect((int), from(self).to(c).with(2));
  expect((int), from(c).to(self).with(42));
  CAF_CHECK_EQUAL(info_of(c).kind, "class_based");
}

CAF_TEST(top orders by mailbox depth) {
  std::vector<actor> as;
  for (int i = 0; i < 5; ++i)
    as.push_back(spawn_tracked(sys, {"q" + std::to_string(i), "queue", 0},
                               counter_impl));
  sched.run();
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < (i + 1) * 10; ++j)
      self->send(as[i], j);
  caflens::skills::detail::flush_enqueue_counts();
  auto top = table.top(3);
  CAF_REQUIRE_EQUAL(top.size(), 3u);
  CAF_CHECK_EQUAL(top[0].name, "q4");
  CAF_CHECK_EQUAL(top[0].mailbox_depth, 50u);
  CAF_CHECK_EQUAL(top[1].name, "q3");
  CAF_CHECK_EQUAL(top[2].name, "q2");
  CAF_CHECK(table.total_mailbox_depth() >= 150u);
  sched.run();
  CAF_CHECK_EQUAL(table.total_mailbox_depth(), 0u);
}

CAF_TEST(enqueues batched in a quiet sender count without a flush) {
  // Five messages from this thread stay in its batch (flushed every 32);
  // observers still see them waiting.
  auto a = spawn_tracked(sys, {"quiet-target", "queue", 0}, counter_impl);
  sched.run();
  for (int j = 0; j < 5; ++j)
    self->send(a, j);
  auto i = table.find(std::string{"quiet-target"});
  CAF_REQUIRE(i.has_value());
  CAF_CHECK_EQUAL(i->mailbox_depth, 5u);
  auto top = table.top(1);
  CAF_REQUIRE_EQUAL(top.size(), 1u);
  CAF_CHECK_EQUAL(top[0].name, "quiet-target");
  CAF_CHECK_EQUAL(table.total_mailbox_depth(), 5u);
  sched.run();
  auto after = table.find(std::string{"quiet-target"});
  CAF_REQUIRE(after.has_value());
  CAF_CHECK_EQUAL(after->mailbox_depth, 0u);
}

CAF_TEST(exits leave the table with their reason) {
  auto a = spawn_tracked(sys, {"doomed", "doomed", 0}, counter_impl);
  auto b = spawn_tracked(sys, {"quiet", "quiet", 0},
                         [](event_based_actor* self) -> behavior {
                           return {[=](int) { self->quit(); }};
                         });
  sched.run();
  auto ida = a.id();
  auto before = table.size();
  anon_send(a, exit_msg{nullptr, make_error(sec::runtime_error, "disk on fire")});
  anon_send(b, 0); // quits normally
  sched.run();
  CAF_CHECK_EQUAL(table.size(), before - 2);
  CAF_CHECK(!table.find(ida).has_value());
  auto exits = table.exits();
  CAF_REQUIRE(exits.size() >= 2u);
  auto& x = exits[exits.size() - 2];
  CAF_CHECK_EQUAL(x.name, "doomed");
  CAF_CHECK(x.abnormal);
  CAF_CHECK(x.reason.find("disk on fire") != std::string::npos);
  CAF_CHECK(!exits.back().abnormal);
}

CAF_TEST_FIXTURE_SCOPE_END()

// A handler that blocks is visible from another thread while it blocks.
CAF_TEST(a blocked handler is seen in the handler) {
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  std::promise<void> entered, release;
  auto release_f = release.get_future().share();
  auto a = spawn_tracked(sys, {"blocker", "blocker", 0},
                         [&](event_based_actor*) -> behavior {
                           return {[&, release_f](int) {
                             entered.set_value();
                             release_f.wait();
                           }};
                         });
  anon_send(a, 1);
  entered.get_future().wait();
  auto& table = process_table::global();
  auto i = table.find(a.id());
  CAF_REQUIRE(i);
  CAF_CHECK(i->in_handler);
  CAF_CHECK(i->busy_since_ns > 0);
  auto again = table.find(a.id());
  CAF_CHECK_EQUAL(again->busy_since_ns, i->busy_since_ns); // same run
  release.set_value();
  anon_send_exit(a, exit_reason::user_shutdown);
}
