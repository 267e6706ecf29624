#define CAF_SUITE skills.detectors
#include "caf/test/dsl.hpp"

#include <chrono>
#include <future>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace caf;
using namespace caflens::skills;
using namespace caflens::telemetry;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using ping_atom = atom_constant<atom("ping")>;

behavior sink_impl(event_based_actor*) {
  return {[](int) {}};
}

struct hoard_state {
  std::vector<std::string> blobs;
};

behavior hoarder_impl(stateful_actor<hoard_state>* self) {
  return {[=](int kib) {
    self->state.blobs.emplace_back(static_cast<size_t>(kib) * 1024, 'x');
    uint64_t bytes = 0;
    for (auto& b : self->state.blobs)
      bytes += b.size();
    static_cast<tracked<stateful_actor<hoard_state>>*>(self)
      ->report_state_bytes(bytes);
  }};
}

// Half of a request cycle: on an int, asks `peer` and awaits the answer;
// everything else — exit messages included — waits behind the await (CAF
// skips every message while an await is pending). The 1 h timeout only lets
// the test end the cycle.
behavior cyclic_impl(event_based_actor* self, actor* peer) {
  return {[=](int) {
            self->request(*peer, std::chrono::seconds{3600}, ping_atom::value)
              .await([](ping_atom) {}, [](error&) {});
          },
          [=](ping_atom) {
            return self->delegate(*peer, ping_atom::value);
          }};
}

struct fixture : test_coordinator_fixture<> {
  manual_clock clk{1'000'000'000'000};
  process_table& table = process_table::global();
  detector_thresholds thresholds;

  fixture() {
    table.clock(clk);
  }

  ~fixture() {
    table.clock(caflens::telemetry::clock::steady());
  }

  static bool has(const std::vector<finding>& fs, const std::string& type,
                  const std::string& actor) {
    for (auto& f : fs)
      if (f.type == type
          && std::find(f.actors.begin(), f.actors.end(), actor)
               != f.actors.end())
        return true;
    return false;
  }

  static bool warning_or_worse(const std::vector<finding>& fs) {
    for (auto& f : fs)
      if (f.level != severity::info)
        return true;
    return false;
  }

  void flush() {
    caflens::skills::detail::flush_enqueue_counts();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(detector_tests, fixture)

CAF_TEST(a slow consumer shows a growing mailbox) {
  auto consumer = spawn_tracked(sys, {"slow-consumer", "consumer", 0},
                                sink_impl);
  auto healthy = spawn_tracked(sys, {"fast-consumer", "consumer", 0},
                               sink_impl);
  sched.run();
  auto skill = make_actors_skill(table, thresholds);
  auto job_of = [](const actor& a) {
    return dynamic_cast<resumable*>(actor_cast<abstract_actor*>(a));
  };
  // Each round: 1500 then 3000 messages to each consumer; the healthy one
  // handles all of them, the slow one 100 then 400 (one message per event).
  auto round = [&](int sent, int handled) {
    for (int i = 0; i < sent; ++i) {
      self->send(consumer, i);
      self->send(healthy, i);
    }
    sched.run_jobs_filtered(
      [&](resumable* r) { return r == job_of(healthy); });
    for (int i = 0; i < handled; ++i) {
      CAF_REQUIRE(sched.prioritize(consumer));
      sched.run_once();
    }
    flush();
  };
  round(1500, 100);
  auto first = skill->snapshot();
  clk.advance(2s);
  round(3000, 400);
  auto second = skill->snapshot();
  auto slow = table.find(consumer.id());
  CAF_REQUIRE(slow);
  CAF_CHECK_EQUAL(slow->mailbox_depth, 4000u);
  auto fs = skill->detect(second, {first});
  CAF_CHECK(has(fs, "mailbox_growth", "slow-consumer"));
  CAF_CHECK(!has(fs, "mailbox_growth", "fast-consumer"));
  CAF_CHECK(!has(fs, "mailbox_backlog", "fast-consumer"));
  for (auto& f : fs)
    if (f.type == "mailbox_growth") {
      CAF_MESSAGE(f.observation);
      CAF_CHECK_EQUAL(f.evidence["growth_per_s"].get<double>(), 1300.0);
      CAF_CHECK_EQUAL(f.evidence["processed_per_s"].get<double>(), 200.0);
    }
  sched.run();
}

CAF_TEST(an actor whose state grows is a leak) {
  auto leak = spawn_tracked(sys, {"hoarder-1", "hoarder", 0}, hoarder_impl);
  auto fine = spawn_tracked(sys, {"steady-1", "hoarder", 0}, hoarder_impl);
  self->send(fine, 64);
  sched.run();
  auto skill = make_memory_skill(table, thresholds);
  std::vector<json> history;
  for (int round = 0; round < 4; ++round) {
    self->send(leak, 256); // +256 KiB per second
    sched.run();
    history.push_back(skill->snapshot());
    clk.advance(1s);
  }
  auto cur = skill->snapshot();
  auto fs = skill->detect(cur, history);
  CAF_CHECK(has(fs, "state_growth", "hoarder-1"));
  CAF_CHECK(!has(fs, "state_growth", "steady-1"));
}

CAF_TEST(repeated abnormal exits are a crash loop) {
  auto skill = make_crashes_skill(table, thresholds);
  for (int i = 0; i < 4; ++i) {
    auto a = spawn_tracked(sys, {"flaky-" + std::to_string(i), "flaky", 0},
                           sink_impl);
    sched.run();
    anon_send(a, exit_msg{nullptr, make_error(sec::runtime_error,
                                              "cannot open upload store")});
    sched.run();
  }
  auto ok = spawn_tracked(sys, {"calm", "calm", 0},
                          [](event_based_actor* self) -> behavior {
                            return {[=](int) { self->quit(); }};
                          });
  self->send(ok, 1);
  sched.run();
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fs, "crash_loop", "flaky-0"));
  for (auto& f : fs) {
    CAF_CHECK(f.observation.find("cannot open upload store")
              != std::string::npos);
    CAF_CHECK_NOT_EQUAL(f.evidence["kind"].get<std::string>(), "calm");
  }
}

CAF_TEST(a request cycle leaves both actors unresponsive) {
  actor a, b;
  a = spawn_tracked(sys, {"cycle-a", "cyclic", 0}, cyclic_impl, &b);
  b = spawn_tracked(sys, {"cycle-b", "cyclic", 0}, cyclic_impl, &a);
  auto bystander = spawn_tracked(sys, {"bystander", "sink", 0}, sink_impl);
  sched.run();
  self->send(a, 1);
  self->send(b, 1);
  sched.run();
  // More work arrives and waits behind the awaits.
  for (int i = 0; i < 5; ++i) {
    self->send(a, i);
    self->send(b, i);
    self->send(bystander, i);
  }
  sched.run();
  flush();
  auto skill = make_actors_skill(table, thresholds);
  auto first = skill->snapshot();
  clk.advance(3s);
  auto second = skill->snapshot();
  auto fs = skill->detect(second, {first});
  CAF_CHECK(has(fs, "unresponsive", "cycle-a"));
  CAF_CHECK(has(fs, "unresponsive", "cycle-b"));
  CAF_CHECK(!has(fs, "unresponsive", "bystander"));
  // Unkillable while awaiting: the exit waits behind the await.
  anon_send_exit(a, exit_reason::kill);
  sched.run();
  CAF_CHECK(table.find(a.id()).has_value());
  // Request timeouts end each await; every waiting int re-arms one, so
  // let them run out until the kills get through.
  for (int i = 0; i < 50 && (table.find(a.id()) || table.find(b.id()));
       ++i) {
    anon_send_exit(a, exit_reason::kill);
    anon_send_exit(b, exit_reason::kill);
    sched.advance_time(std::chrono::seconds{3601});
    sched.run();
  }
  CAF_CHECK(!table.find(a.id()).has_value());
  CAF_CHECK(!table.find(b.id()).has_value());
}

CAF_TEST(error bursts name their source) {
  auto logs = std::make_shared<log_buffer>(1000, clk);
  auto skill = make_logs_skill(logs, thresholds);
  for (int i = 0; i < 5; ++i)
    logs->append("info", "api", "request ok");
  CAF_CHECK(skill->detect(skill->snapshot(), {}).empty());
  for (int i = 0; i < 12; ++i)
    logs->append("error", "uploader", "S3 PUT failed: 503 SlowDown");
  logs->append("error", "api", "bad request");
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_REQUIRE_EQUAL(fs.size(), 1u);
  CAF_CHECK_EQUAL(fs[0].type, "error_burst");
  CAF_CHECK_EQUAL(fs[0].actors.at(0), "uploader");
  // An hour later the burst is over.
  clk.advance(1h);
  CAF_CHECK(skill->detect(skill->snapshot(), {}).empty());
}

CAF_TEST(a latency regression is found against its baseline) {
  bus b;
  metric_registry metrics{b, clk};
  CAF_REQUIRE(!metrics.add(metric_definition::distribution(
    "request.latency", {"app", "request", "stop"}, "duration", {"route"})));
  auto record = [&](const char* route, double ms) {
    b.execute(event_name{"app", "request", "stop"}, {{"duration", ms * 1e6}},
              {{"route", route}});
  };
  // 14 minutes of normal traffic, then one slow minute on /upload.
  for (int minute = 0; minute < 14; ++minute) {
    for (int i = 0; i < 100; ++i) {
      record("/upload", 10 + i % 5);
      record("/health", 1);
    }
    clk.advance(1min);
  }
  for (int i = 0; i < 100; ++i) {
    record("/upload", 80 + i % 5);
    record("/health", 1);
  }
  auto skill = make_telemetry_skill(metrics, thresholds);
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fs, "latency_regression", "/upload"));
  CAF_CHECK(!has(fs, "latency_regression", "/health"));
}

CAF_TEST(a healthy system yields no warnings) {
  std::vector<actor> workers;
  for (int i = 0; i < 10; ++i)
    workers.push_back(spawn_tracked(sys, {"worker-" + std::to_string(i),
                                          "worker", 0},
                                    sink_impl));
  auto actors = make_actors_skill(table, thresholds);
  auto memory = make_memory_skill(table, thresholds);
  auto scheduler = make_scheduler_skill(table, thresholds);
  std::vector<json> ah, mh;
  for (int round = 0; round < 3; ++round) {
    for (auto& w : workers)
      for (int i = 0; i < 200; ++i)
        self->send(w, i);
    sched.run();
    flush();
    ah.push_back(actors->snapshot());
    mh.push_back(memory->snapshot());
    clk.advance(1s);
  }
  CAF_CHECK(!warning_or_worse(actors->detect(actors->snapshot(), ah)));
  CAF_CHECK(!warning_or_worse(memory->detect(memory->snapshot(), mh)));
  CAF_CHECK(!warning_or_worse(scheduler->detect(scheduler->snapshot(), {})));
}

CAF_TEST_FIXTURE_SCOPE_END()

// Real threads: a handler that blocks its scheduler thread.
CAF_TEST(a blocking handler starves the scheduler) {
  manual_clock clk{5'000'000'000'000};
  auto& table = process_table::global();
  table.clock(clk);
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  {
    actor_system sys{cfg};
    std::promise<void> entered, release;
    auto release_f = release.get_future().share();
    auto blocker = spawn_tracked(sys, {"thumbnailer", "image_worker", 0},
                                 [&](event_based_actor*) -> behavior {
                                   return {[&, release_f](int) {
                                     entered.set_value();
                                     release_f.wait(); // e.g. blocking I/O
                                   }};
                                 });
    anon_send(blocker, 1);
    entered.get_future().wait();
    auto actors = make_actors_skill(table, {});
    auto scheduler = make_scheduler_skill(table, {});
    actors->snapshot(); // first sight of the running handler
    scheduler->snapshot();
    clk.advance(2500ms);
    auto fa = actors->detect(actors->snapshot(), {});
    auto fs = scheduler->detect(scheduler->snapshot(), {});
    release.set_value();
    anon_send_exit(blocker, exit_reason::user_shutdown);
    auto named = [](const std::vector<finding>& xs, const char* type) {
      for (auto& f : xs)
        if (f.type == type && f.actors.at(0) == "thumbnailer")
          return true;
      return false;
    };
    CAF_CHECK(named(fa, "blocked_handler"));
    CAF_CHECK(named(fs, "scheduler_starvation"));
  }
  table.clock(caflens::telemetry::clock::steady());
}
