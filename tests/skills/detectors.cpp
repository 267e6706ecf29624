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
#include "caflens/supervision/reason.hpp"

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

// Looks 400 ms apart with the given RSS and live heap (MiB); the heap left
// out is what another allocator leaves in mallinfo2: zeros.
std::vector<json> memory_looks(std::vector<std::pair<double, double>> mib) {
  std::vector<json> out;
  int64_t t = 1'000'000'000;
  for (auto [rss, heap] : mib) {
    auto b = [](double m) { return static_cast<int64_t>(m * (1 << 20)); };
    out.push_back({{"captured_at_ns", t},
                   {"rss_bytes", b(rss)},
                   {"heap",
                    {{"in_use_bytes", b(heap)}, {"mmap_bytes", 0}}}});
    t += 400'000'000;
  }
  return out;
}

bool rss_growth(skill& sk, std::vector<json> looks) {
  auto cur = looks.back();
  looks.pop_back();
  for (auto& f : sk.detect(cur, looks))
    if (f.type == "rss_growth")
      return true;
  return false;
}

CAF_TEST(rss growth counts when the live heap carries it) {
  auto skill = make_memory_skill(table, thresholds);
  // A backlog or a leak: RSS and the heap in use climb together.
  CAF_CHECK(rss_growth(*skill, memory_looks({{32, 10}, {34, 12}, {36, 14}})));
  // Allocator high-water (new arenas, short-lived buffers of caflens' own
  // model calls): RSS climbs, the heap in use rises and falls back.
  CAF_CHECK(
    !rss_growth(*skill, memory_looks({{32, 10}, {33.5, 11.1}, {34.5, 10.8}})));
  // RSS that fell in between is no growth at every look.
  CAF_CHECK(!rss_growth(*skill, memory_looks({{32, 10}, {31, 12}, {36, 14}})));
  // Another allocator: no heap figures; RSS alone counts when unambiguous.
  CAF_CHECK(rss_growth(*skill, memory_looks({{32, 0}, {38, 0}, {44, 0}})));
  CAF_CHECK(!rss_growth(*skill, memory_looks({{32, 0}, {33, 0}, {35, 0}})));
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
  // Both are stamped as awaiting when their await began (real time).
  auto ia = table.find(a.id());
  CAF_REQUIRE(ia);
  CAF_CHECK_GREATER_OR_EQUAL(table.stats(a.id())->awaiting_since_ns.load(),
                             1);
  // An await with an empty mailbox is found by its age alone: the cycle
  // member nobody else sends to. Simulate 2.5 s of await.
  actor holder = spawn_tracked(
    sys, {"holder", "server", 0}, [](event_based_actor* self) -> behavior {
      auto held = std::make_shared<std::vector<response_promise>>();
      return {[=](ping_atom) {
        held->push_back(self->make_response_promise());
      }};
    });
  auto lone = spawn_tracked(sys, {"lone-awaiter", "cyclic", 0}, cyclic_impl,
                            &holder);
  sched.run();
  self->send(lone, 1);
  sched.run();
  auto ls = table.stats(lone.id());
  CAF_REQUIRE(ls != nullptr);
  CAF_REQUIRE_GREATER(ls->awaiting_since_ns.load(), 0);
  CAF_CHECK(!has(skill->detect(skill->snapshot(), {}), "unresponsive",
                 "lone-awaiter"));
  ls->awaiting_since_ns.store(ls->awaiting_since_ns.load()
                              - 2'500'000'000);
  auto fl = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fl, "unresponsive", "lone-awaiter"));
  for (auto& f : fl)
    if (f.type == "unresponsive" && f.actors[0] == "lone-awaiter") {
      CAF_CHECK_GREATER_OR_EQUAL(f.evidence["awaiting_ms"].get<int64_t>(),
                                 2500);
      // The actor that holds its request is named with it.
      CAF_CHECK_EQUAL(f.actors,
                      (std::vector<std::string>{"lone-awaiter", "holder"}));
      CAF_MESSAGE(f.observation);
    }
  anon_send_exit(holder, exit_reason::kill);
  anon_send_exit(lone, exit_reason::kill);
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

CAF_TEST(shutdowns and stops by the supervisor are not crashes) {
  auto skill = make_crashes_skill(table, thresholds);
  auto exit_of = [&](const std::string& name, error reason) {
    auto a = spawn_tracked(sys, {name, "session", 0}, sink_impl);
    sched.run();
    anon_send(a, exit_msg{nullptr, std::move(reason)});
    sched.run();
    return a.id();
  };
  // Pool scale-down and graceful shutdowns, four times each.
  for (int i = 0; i < 4; ++i) {
    exit_of("scaled-" + std::to_string(i), exit_reason::user_shutdown);
    exit_of("graceful-" + std::to_string(i),
            caflens::supervision::shutdown_reason("rebalance"));
  }
  // Killed by their supervisor after the shutdown timeout.
  for (int i = 0; i < 4; ++i)
    table.mark_terminated(
      exit_of("stopped-" + std::to_string(i), exit_reason::kill));
  // (Earlier tests' crashes share the process-wide table: look at this
  // kind only.)
  auto of_sessions = [&] {
    size_t n = 0;
    for (auto& f : skill->detect(skill->snapshot(), {}))
      if (f.evidence.value("kind", std::string{}) == "session")
        ++n;
    return n;
  };
  CAF_CHECK_EQUAL(of_sessions(), 0u);
  auto snap = skill->snapshot();
  CAF_CHECK_GREATER_OR_EQUAL(snap["stopped_by_supervisor"].get<uint64_t>(),
                             4u);
  // A kill nobody's supervisor sent is a crash.
  for (int i = 0; i < 3; ++i)
    exit_of("killed-" + std::to_string(i), exit_reason::kill);
  CAF_CHECK(has(skill->detect(skill->snapshot(), {}), "crash_loop",
                "killed-2"));
}

CAF_TEST(a backlog of pending replies is a queue too) {
  // The asker sends 600 requests with .then to a server that holds every
  // promise: no mailbox grows, yet 600 answers are outstanding.
  auto server = spawn_tracked(
    sys, {"quote-server", "server", 0},
    [](event_based_actor* self) -> behavior {
      auto held = std::make_shared<std::vector<response_promise>>();
      return {[=](ping_atom) {
        held->push_back(self->make_response_promise());
      }};
    });
  auto asker = spawn_tracked(
    sys, {"fanout-1", "fanout", 0},
    [=](event_based_actor* self) -> behavior {
      return {[=](int n) {
        for (int i = 0; i < n; ++i)
          self->request(server, std::chrono::seconds{3600}, ping_atom::value)
            .then([](ping_atom) {});
      }};
    });
  sched.run();
  auto skill = make_actors_skill(table, thresholds);
  auto first = skill->snapshot();
  self->send(asker, 300);
  sched.run();
  clk.advance(1s);
  auto second = skill->snapshot();
  self->send(asker, 300);
  sched.run();
  clk.advance(1s);
  auto third = skill->snapshot();
  auto info = table.find(asker.id());
  CAF_REQUIRE(info);
  CAF_CHECK_EQUAL(info->pending_responses, 600u);
  CAF_CHECK_EQUAL(info->mailbox_depth, 0u);
  auto fs = skill->detect(third, {first, second});
  CAF_CHECK(has(fs, "reply_backlog", "fanout-1"));
  for (auto& f : fs)
    if (f.type == "reply_backlog") {
      CAF_MESSAGE(f.observation);
      CAF_CHECK_EQUAL(f.evidence["pending_replies"].get<uint64_t>(), 600u);
      CAF_CHECK_EQUAL(f.evidence["growth_per_s"].get<double>(), 300.0);
    }
  CAF_CHECK(!has(fs, "reply_backlog", "quote-server"));
  // The other end: the server holds 600 requests unanswered.
  CAF_CHECK(has(fs, "unanswered_requests", "quote-server"));
  auto srv = table.find(server.id());
  CAF_REQUIRE(srv);
  CAF_CHECK_EQUAL(srv->open_promises, 600u);
  // The held promises never resolve: end both.
  anon_send_exit(asker, exit_reason::kill);
  anon_send_exit(server, exit_reason::kill);
  sched.run();
}

CAF_TEST(blocking in a detached actor starves no scheduler thread) {
  // The table's view of two actors inside one handler for 3 s: one on the
  // scheduler, one detached (its own thread). Simulated through the
  // counters: an odd consume_seq means "inside a handler".
  auto stuck = table.add(9'000'001, {}, {"resizer-1", "resizer", 0}, "n");
  auto io = table.add(9'000'002, {}, {"disk-writer", "writer", 0}, "n");
  io->detached.store(true);
  stuck->consume_seq.store(1);
  io->consume_seq.store(1);
  auto skill = make_actors_skill(table, thresholds);
  auto first = skill->snapshot();
  clk.advance(3s);
  auto second = skill->snapshot();
  auto fs = skill->detect(second, {first});
  CAF_CHECK(has(fs, "blocked_handler", "resizer-1"));
  CAF_CHECK(!has(fs, "blocked_handler", "disk-writer"));
  CAF_CHECK(!has(fs, "suspect_blocked_handler", "disk-writer"));
  table.remove(9'000'001, error{});
  table.remove(9'000'002, error{});
}

CAF_TEST(long handler runs back to back are followed across runs) {
  // A handler that blocks 2 s per message, repeatedly, and a lens that
  // happens to look just after each new run began: no single run is ever
  // seen busy for long, yet the actor is inside a handler at every look
  // and starts one run per 2.1 s.
  auto stats = table.add(9'000'003, {}, {"resizer-2", "resizer", 0}, "n");
  auto detector = make_actors_skill(table, thresholds);
  uint64_t seq = 1;
  stats->consume_seq.store(seq);
  std::vector<json> history;
  int found_at = -1;
  for (int look = 0; look < 4 && found_at < 0; ++look) {
    auto snap = detector->snapshot();
    auto fs = detector->detect(snap, history);
    if (has(fs, "blocked_handler", "resizer-2"))
      found_at = look;
    else if (look > 0)
      CAF_CHECK(has(fs, "suspect_blocked_handler", "resizer-2"));
    history.push_back(snap);
    clk.advance(2100ms);
    seq += 2; // the next run began just before the next look
    stats->consume_seq.store(seq);
  }
  CAF_CHECK_EQUAL(found_at, 1);
  // Many short runs while busy at every look are no blocked handler.
  auto busy = table.add(9'000'004, {}, {"parser", "parser", 0}, "n");
  uint64_t bseq = 1;
  busy->consume_seq.store(bseq);
  history.clear();
  for (int look = 0; look < 4; ++look) {
    auto snap = detector->snapshot();
    auto fs = detector->detect(snap, history);
    CAF_CHECK(!has(fs, "blocked_handler", "parser"));
    CAF_CHECK(!has(fs, "suspect_blocked_handler", "parser"));
    history.push_back(snap);
    clk.advance(2100ms);
    bseq += 2 * 5000;
    busy->consume_seq.store(bseq);
  }
  table.remove(9'000'003, error{});
  table.remove(9'000'004, error{});
}

CAF_TEST(an outlier among its peers is a suspect below every floor) {
  // Twelve workers of one pool: eleven with a mailbox of ~5, one with 400
  // (far below the absolute floor of 1000).
  std::vector<caf::intrusive_ptr<actor_stats>> xs;
  for (uint64_t i = 0; i < 12; ++i) {
    auto s = table.add(9'100'000 + i, {},
                       {"worker-" + std::to_string(i), "pool_worker", 77},
                       "n");
    s->enqueued.store(i == 7 ? 400 : 4 + i % 3);
    xs.push_back(s);
  }
  auto skill = make_actors_skill(table, thresholds);
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fs, "peer_outlier", "worker-7"));
  for (auto& f : fs)
    if (f.type == "peer_outlier") {
      CAF_MESSAGE(f.observation);
      CAF_CHECK(f.observation.find("11 peers") != std::string::npos);
      CAF_CHECK_EQUAL(f.actors[0], "worker-7");
    }
  for (uint64_t i = 0; i < 12; ++i)
    table.remove(9'100'000 + i, error{});
}

CAF_TEST(a deep queue that drains fast is a busy service and no backlog) {
  // 5 000 messages waiting, 20 000 handled per second, steady: a message
  // waits 250 ms. Quiet. The same depth at 500 msg/s: it waits 10 s.
  auto busy = table.add(9'200'001, {}, {"ingest", "ingest", 0}, "n");
  auto slow = table.add(9'200'002, {}, {"indexer", "indexer", 0}, "n");
  auto skill = make_actors_skill(table, thresholds);
  std::vector<json> history;
  uint64_t p_busy = 0, p_slow = 0;
  for (int i = 0; i < 3; ++i) {
    busy->enqueued.store(p_busy + 5000);
    busy->consume_seq.store(2 * p_busy);
    slow->enqueued.store(p_slow + 5000);
    slow->consume_seq.store(2 * p_slow);
    history.push_back(skill->snapshot());
    clk.advance(300ms);
    p_busy += 6000;
    p_slow += 150;
  }
  busy->enqueued.store(p_busy + 5000);
  busy->consume_seq.store(2 * p_busy);
  slow->enqueued.store(p_slow + 5000);
  slow->consume_seq.store(2 * p_slow);
  auto cur = skill->snapshot();
  auto fs = skill->detect(cur, history);
  for (auto& f : fs)
    if (f.actors[0] == "ingest")
      CAF_CHECK_EQUAL(f.level, severity::info);
  CAF_CHECK(has(fs, "mailbox_backlog", "indexer"));
  for (auto& f : fs)
    if (f.actors[0] == "indexer")
      CAF_CHECK_EQUAL(f.level, severity::warning);
  table.remove(9'200'001, error{});
  table.remove(9'200'002, error{});
}

CAF_TEST(answered and delegated requests are not held) {
  // A server that answers at once, a router that delegates to it, and a
  // keeper that answers later from a timer-like message.
  auto echo = spawn_tracked(sys, {"echo", "server", 0},
                            [](event_based_actor*) -> behavior {
                              return {[](ping_atom x) { return x; }};
                            });
  auto router = spawn_tracked(
    sys, {"router", "router", 0}, [=](event_based_actor* self) -> behavior {
      return {[=](ping_atom x) { return self->delegate(echo, x); }};
    });
  auto keeper = spawn_tracked(
    sys, {"keeper", "server", 0}, [](event_based_actor* self) -> behavior {
      auto held = std::make_shared<std::vector<response_promise>>();
      return {[=](ping_atom) { held->push_back(self->make_response_promise()); },
              [=](int) {
                for (auto& rp : *held)
                  rp.deliver(ping_atom::value);
                held->clear();
              }};
    });
  auto client = spawn_tracked(
    sys, {"client", "client", 0}, [=](event_based_actor* self) -> behavior {
      return {[=](int n) {
        for (int i = 0; i < n; ++i) {
          self->request(echo, std::chrono::seconds{60}, ping_atom::value)
            .then([](ping_atom) {});
          self->request(router, std::chrono::seconds{60}, ping_atom::value)
            .then([](ping_atom) {});
          self->request(keeper, std::chrono::seconds{60}, ping_atom::value)
            .then([](ping_atom) {});
        }
      }};
    });
  sched.run();
  self->send(client, 150);
  sched.run();
  // (Bind each value first: CAF_CHECK_EQUAL keeps a reference into its
  // operands, and find() returns a temporary.)
  auto open_of = [&](const actor& x) { return table.find(x.id())->open_promises; };
  auto pending_of = [&](const actor& x) {
    return table.find(x.id())->pending_responses;
  };
  auto echo_open = open_of(echo), router_open = open_of(router);
  auto keeper_open = open_of(keeper), client_pending = pending_of(client);
  CAF_CHECK_EQUAL(echo_open, 0u);
  CAF_CHECK_EQUAL(router_open, 0u);
  CAF_CHECK_EQUAL(keeper_open, 150u);
  CAF_CHECK_EQUAL(client_pending, 150u);
  // The keeper delivers: nothing is held any more.
  self->send(keeper, 1);
  sched.run();
  keeper_open = open_of(keeper);
  client_pending = pending_of(client);
  CAF_CHECK_EQUAL(keeper_open, 0u);
  CAF_CHECK_EQUAL(client_pending, 0u);
  for (auto& x : {echo, router, keeper, client})
    anon_send_exit(x, exit_reason::kill);
  sched.run();
}

CAF_TEST(a deep queue that is the normal of its actor is quiet) {
  // A batch indexer that always holds ~5 000 messages and handles 2 000/s:
  // every message waits 2.5 s, by design. Seen cold, that is a backlog;
  // after a minute of looks (periodic checks every 10 s) it is its normal.
  auto idx = table.add(9'300'001, {}, {"batch-indexer", "indexer", 0}, "n");
  auto skill = make_actors_skill(table, thresholds);
  uint64_t p = 0;
  auto set = [&](uint64_t depth) {
    idx->enqueued.store(p + depth);
    idx->consume_seq.store(2 * p);
  };
  auto looks = [&] {
    std::vector<json> history;
    for (int i = 0; i < 3; ++i) {
      set(5000 + 10 * (i % 2));
      history.push_back(skill->snapshot());
      clk.advance(300ms);
      p += 600;
    }
    set(5000);
    auto cur = skill->snapshot();
    return skill->detect(cur, history);
  };
  auto level_of = [](const std::vector<finding>& fs) {
    auto lvl = severity::info;
    for (auto& f : fs)
      if (f.actors[0] == "batch-indexer")
        lvl = std::max(lvl, f.level);
    return lvl;
  };
  CAF_CHECK_EQUAL(level_of(looks()), severity::warning);
  for (int check = 0; check < 6; ++check) {
    clk.advance(10s);
    p += 20'000;
    set(5000);
    skill->snapshot();
  }
  CAF_CHECK_EQUAL(level_of(looks()), severity::info);
  // Twice as deep and more than its normal: a backlog again.
  p += 1200;
  set(20'000);
  std::vector<json> h2;
  h2.push_back(skill->snapshot());
  clk.advance(300ms);
  p += 600;
  set(20'000);
  auto fs = skill->detect(skill->snapshot(), h2);
  CAF_CHECK_EQUAL(level_of(fs), severity::warning);
  table.remove(9'300'001, error{});
}

CAF_TEST(callbacks honour signed integer arguments from Lua) {
  // The JSON bridge hands Lua integers over as signed numbers.
  for (uint64_t i = 0; i < 12; ++i)
    table.add(9'400'000 + i, {}, {"cb-" + std::to_string(i), "cb", 0}, "n");
  auto skill = make_actors_skill(table, thresholds);
  for (auto& cb : skill->callbacks())
    if (cb.name == "actors_top") {
      auto r = cb.fn({json(int64_t{3}), json("processed")});
      CAF_REQUIRE(r);
      CAF_CHECK_EQUAL(r->size(), 3u);
    }
  auto memory = make_memory_skill(table, thresholds);
  for (auto& cb : memory->callbacks())
    if (cb.name == "memory_top_state") {
      auto r = cb.fn({json(int64_t{2})});
      CAF_REQUIRE(r);
      CAF_CHECK_EQUAL(r->size(), 2u);
    }
  auto crashes = make_crashes_skill(table, thresholds);
  for (auto& cb : crashes->callbacks())
    if (cb.name == "crashes_recent") {
      auto r = cb.fn({json(int64_t{1})});
      CAF_REQUIRE(r);
      CAF_CHECK_LESS_OR_EQUAL(r->size(), 1u);
    }
  for (uint64_t i = 0; i < 12; ++i)
    table.remove(9'400'000 + i, error{});
}

CAF_TEST(a buffer filled and released every second is no leak) {
  // 800 KB/s into a buffer released every 1.5 s: three looks 400 ms apart
  // inside one fill are only a suspect (recheck); looked at again after
  // the release, the state shrank: no leak. A real leak keeps growing.
  auto buf = table.add(9'500'001, {}, {"journal-x", "journal", 0}, "n");
  auto leak = table.add(9'500'002, {}, {"cache-x", "cache", 0}, "n");
  auto skill = make_memory_skill(table, thresholds);
  std::vector<json> history;
  uint64_t b = 0, l = 0;
  auto step = [&](int64_t ms) {
    clk.advance(std::chrono::milliseconds{ms});
    b += 800 * ms; // bytes: 800 KB/s
    l += 800 * ms;
    if (b > 1'200'000)
      b = 0; // released at the roll
    buf->state_bytes.store(b + 1);
    leak->state_bytes.store(l + 1);
  };
  step(0);
  for (int i = 0; i < 3; ++i) {
    history.push_back(skill->snapshot());
    step(400);
  }
  auto fs = skill->detect(skill->snapshot(), history);
  CAF_CHECK(has(fs, "suspect_state_growth", "journal-x"));
  CAF_CHECK(!has(fs, "state_growth", "journal-x"));
  int64_t recheck = 0;
  for (auto& f : fs)
    if (f.type == "suspect_state_growth")
      recheck = f.evidence["recheck_ms"].get<int64_t>();
  CAF_CHECK_GREATER(recheck, 0);
  history.push_back(skill->snapshot());
  step(recheck);
  fs = skill->detect(skill->snapshot(), history);
  CAF_CHECK(!has(fs, "state_growth", "journal-x"));
  CAF_CHECK(!has(fs, "suspect_state_growth", "journal-x"));
  CAF_CHECK(has(fs, "state_growth", "cache-x"));
  table.remove(9'500'001, error{});
  table.remove(9'500'002, error{});
}

CAF_TEST(two actors holding threads with long runs starve the pool) {
  // Two books block 300 ms per message, back to back: no run reaches the
  // 1 s threshold, yet both are inside a handler at every look.
  auto a = table.add(9'600'001, {}, {"book-A", "order_book", 0}, "n");
  auto b = table.add(9'600'002, {}, {"book-B", "order_book", 0}, "n");
  auto skill = make_actors_skill(table, thresholds);
  uint64_t seq = 1;
  a->consume_seq.store(seq);
  b->consume_seq.store(seq);
  std::vector<json> history;
  std::vector<finding> fs;
  for (int look = 0; look < 8; ++look) {
    auto snap = skill->snapshot();
    fs = skill->detect(snap, history);
    history.push_back(snap);
    clk.advance(300ms);
    seq += 2; // one new run per look
    a->consume_seq.store(seq);
    b->consume_seq.store(seq);
  }
  CAF_CHECK(has(fs, "thread_hog", "book-A"));
  CAF_CHECK(has(fs, "thread_hog", "book-B"));
  for (auto& f : fs)
    CAF_CHECK_NOT_EQUAL(f.type, "detector_failed");
  // One such actor alone is no starvation.
  table.remove(9'600'002, error{});
  fs = skill->detect(skill->snapshot(), history);
  CAF_CHECK(!has(fs, "thread_hog", "book-A"));
  table.remove(9'600'001, error{});
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
