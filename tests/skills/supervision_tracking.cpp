#define CAF_SUITE skills.supervision_tracking
#include "caf/test/dsl.hpp"

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/supervision/supervisor.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::skills;

namespace {

behavior idle_impl(event_based_actor*, int) {
  return {[](int) {}};
}

struct fixture : test_coordinator_fixture<> {
  process_table& table = process_table::global();
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervision_tracking_tests, fixture)

CAF_TEST(supervised children appear with child id and parent) {
  supervision::supervisor_flags flags;
  flags.name = "app_sup";
  flags.intensity = 5;
  flags.observer = std::make_shared<supervision_tracker>(table);
  std::vector<supervision::child_spec> children{
    supervision::worker("db",
                        [](actor_system& sys,
                           const message&) -> supervision::start_result {
                          return spawn_tracked(sys, {"", "database", 0},
                                               idle_impl, 0);
                        }),
    supervision::worker("cache",
                        [](actor_system& sys,
                           const message&) -> supervision::start_result {
                          return sys.spawn(idle_impl, 0);
                        })};
  auto sup = supervision::spawn_supervisor(sys, flags, children);
  CAF_REQUIRE(sup);
  sched.run();
  auto db = table.find(std::string{"db"});
  auto cache = table.find(std::string{"cache"});
  CAF_REQUIRE(db);
  CAF_REQUIRE(cache);
  CAF_CHECK_EQUAL(db->kind, "database"); // tracked: keeps its kind
  CAF_CHECK_EQUAL(db->parent, sup->id());
  CAF_CHECK_EQUAL(cache->kind, "supervised"); // untracked: registered
  CAF_CHECK_EQUAL(cache->parent, sup->id());
  // The untracked child crashes: its exit is recorded, the restart shows up
  // as a new entry under the same name.
  auto old_id = cache->id;
  anon_send(actor_cast<actor>(cache->addr),
            exit_msg{nullptr, make_error(sec::runtime_error, "cache lost")});
  sched.run();
  auto restarted = table.find(std::string{"cache"});
  CAF_REQUIRE(restarted);
  CAF_CHECK_NOT_EQUAL(restarted->id, old_id);
  auto exits = table.exits();
  bool recorded = false;
  for (auto& e : exits)
    if (e.id == old_id && e.abnormal
        && e.reason.find("cache lost") != std::string::npos)
      recorded = true;
  CAF_CHECK(recorded);
  anon_send_exit(*sup, exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(!table.find(std::string{"db"}));
  CAF_CHECK(!table.find(std::string{"cache"}));
}

CAF_TEST(a real supervisor that gives up is found with child and supervisor) {
  // quotes_sup (intensity 2 per 5 s) restarts "feed" after each crash; the
  // third crash is one too many: the supervisor gives up and shuts down.
  // The supervision skill hears it on the telemetry bus.
  auto skill = make_supervision_skill(nullptr);
  supervision::supervisor_flags flags;
  flags.name = "quotes_sup";
  flags.intensity = 2;
  flags.period = std::chrono::seconds{5};
  flags.observer = std::make_shared<supervision_tracker>(table);
  std::vector<supervision::child_spec> children{supervision::worker(
    "feed", [](actor_system& sys, const message&) -> supervision::start_result {
      return spawn_tracked(sys, {"", "feed_handler", 0}, idle_impl, 0);
    })};
  auto sup = supervision::spawn_supervisor(sys, flags, children);
  CAF_REQUIRE(sup);
  sched.run();
  for (int i = 0; i < 3; ++i) {
    auto feed = table.find(std::string{"feed"});
    CAF_REQUIRE(feed);
    anon_send(actor_cast<actor>(feed->addr),
              exit_msg{nullptr,
                       make_error(sec::runtime_error, "sequence gap")});
    sched.run();
  }
  CAF_CHECK(!table.find(std::string{"feed"})); // given up: nothing restarts
  auto fs = skill->detect(skill->snapshot(), {});
  const finding* gave_up = nullptr;
  for (auto& f : fs)
    if (f.type == "restart_intensity_exceeded")
      gave_up = &f;
  CAF_REQUIRE(gave_up != nullptr);
  CAF_CHECK_EQUAL(gave_up->actors,
                  (std::vector<std::string>{"feed", "quotes_sup"}));
  CAF_CHECK(gave_up->observation.find("sequence gap") != std::string::npos);
  CAF_CHECK_EQUAL(gave_up->evidence["restarts"], 3);
  CAF_CHECK_EQUAL(gave_up->evidence["intensity"], 2);
  // The crashes skill counts the three crashes, not the supervisor's own
  // shutdown.
  auto crashes = make_crashes_skill(table);
  auto snap = crashes->snapshot();
  uint64_t feeds = 0;
  for (auto& k : snap["by_kind"])
    if (k["kind"] == "feed_handler")
      feeds = k["in_window"].get<uint64_t>();
  CAF_CHECK_EQUAL(feeds, 3u);
}

CAF_TEST_FIXTURE_SCOPE_END()
