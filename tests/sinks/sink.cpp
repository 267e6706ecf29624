#define CAF_SUITE sinks.sink
#include "caf/test/dsl.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
namespace tel = caflens::telemetry;

namespace {

/// Keeps what it exports; fails while `fail` is set; blocks while `hold`.
class memory_sink final : public sink {
public:
  using sink::sink;

  std::vector<batch> batches;
  std::atomic<bool> fail{false};
  int flushes = 0;
  bool closed_dest = false;

  std::mutex mtx;
  std::condition_variable cv;
  bool hold = false;
  bool in_export = false;

  size_t records() const {
    size_t n = 0;
    for (auto& b : batches)
      n += b.size();
    return n;
  }

  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    hold = false;
    cv.notify_all();
  }

protected:
  caf::error export_(const batch& xs) override {
    {
      std::unique_lock<std::mutex> guard{mtx};
      in_export = true;
      cv.notify_all();
      cv.wait(guard, [this] { return !hold; });
      in_export = false;
    }
    if (fail)
      return make_error(sinks_errc::network_error, "destination down");
    batches.push_back(xs);
    return {};
  }

  caf::error flush_() override {
    ++flushes;
    return {};
  }

  void close_() override {
    closed_dest = true;
  }
};

sink_options opts(std::string name, size_t max_queue, size_t max_batch) {
  sink_options o;
  o.name = std::move(name);
  o.max_queue = max_queue;
  o.max_batch = max_batch;
  o.flush_interval = std::chrono::milliseconds{100};
  o.events = {tel::event_name{"app", "request", "stop"}};
  return o;
}

record rec(int i) {
  record r;
  r.event = "app.request.stop";
  r.measurements = {{"duration", static_cast<double>(i)}};
  r.metadata = {{"i", i}};
  return r;
}

struct observed {
  std::string name;
  nlohmann::json m;
  nlohmann::json md;
};

struct fixture : test_coordinator_fixture<> {
  tel::bus bus;
  std::vector<observed> seen;

  fixture() {
    auto names = tel::event_names({"caflens", "sink"});
    auto err = bus.attach_many(
      "test", names,
      [this](const tel::event_name& e, const tel::measurements& m,
             const tel::metadata& md, const std::any&) {
        seen.push_back({e.str(), m.to_json(), md.to_json()});
      });
    CAF_REQUIRE(!err);
  }

  void emit(int n, int from = 0) {
    for (int i = from; i < from + n; ++i)
      bus.execute(tel::event_name{"app", "request", "stop"},
                  {{"duration", static_cast<double>(i)}}, {{"i", i}});
  }

  size_t count(const std::string& name) const {
    return static_cast<size_t>(std::count_if(
      seen.begin(), seen.end(), [&](auto& x) { return x.name == name; }));
  }
};

} // namespace

CAF_TEST(the queue is bounded and what does not fit is counted) {
  memory_sink s{opts("mem", 10, 4)};
  for (int i = 0; i < 15; ++i)
    s.consume(rec(i));
  auto st = s.stats();
  CAF_CHECK_EQUAL(st.consumed, 15u);
  CAF_CHECK_EQUAL(st.queued, 10u);
  CAF_CHECK_EQUAL(st.dropped_queue_full, 5u);
  auto n = s.export_once();
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(*n, 4u);
  CAF_CHECK_EQUAL(s.batches.size(), 1u);
  CAF_CHECK(!s.flush());
  CAF_CHECK_EQUAL(s.records(), 10u);
  CAF_CHECK_EQUAL(s.batches.size(), 3u); // 4 + 4 + 2
  CAF_CHECK_EQUAL(s.flushes, 1);
  // Records keep their order across batches.
  CAF_CHECK_EQUAL(s.batches[0][0].metadata["i"], 0);
  CAF_CHECK_EQUAL(s.batches[2][1].metadata["i"], 9);
}

CAF_TEST(a failed export drops its batch and says why) {
  memory_sink s{opts("mem", 100, 3)};
  for (int i = 0; i < 5; ++i)
    s.consume(rec(i));
  s.fail = true;
  auto n = s.export_once();
  CAF_REQUIRE(!n);
  CAF_CHECK(render_error(n.error()).find("destination down")
            != std::string::npos);
  s.fail = false;
  CAF_CHECK(!s.flush());
  auto st = s.stats();
  CAF_CHECK_EQUAL(st.dropped_export_failed, 3u);
  CAF_CHECK_EQUAL(st.failed_batches, 1u);
  CAF_CHECK_EQUAL(st.exported, 2u);
}

CAF_TEST(shutdown exports what is queued then refuses more) {
  memory_sink s{opts("mem", 100, 3)};
  for (int i = 0; i < 7; ++i)
    s.consume(rec(i));
  CAF_CHECK(!s.shutdown(std::chrono::seconds{1}));
  CAF_CHECK_EQUAL(s.records(), 7u);
  CAF_CHECK(s.closed_dest);
  CAF_CHECK(s.closed());
  s.consume(rec(8));
  CAF_CHECK_EQUAL(s.stats().dropped_queue_full, 1u);
  CAF_CHECK_EQUAL(s.stats().queued, 0u);
  // Idempotent.
  CAF_CHECK(!s.shutdown(std::chrono::seconds{1}));
}

CAF_TEST(a stuck destination never blocks an emitter) {
  // The export blocks until released; meanwhile another thread emits far
  // more than the queue holds. Every emit returns; the excess is counted.
  auto s = std::make_shared<memory_sink>(opts("stuck", 64, 8));
  s->hold = true;
  for (int i = 0; i < 8; ++i)
    s->consume(rec(i));
  std::thread exporter{[s] { s->export_once(); }};
  {
    std::unique_lock<std::mutex> guard{s->mtx};
    s->cv.wait(guard, [&] { return s->in_export; });
  }
  std::thread emitter{[s] {
    for (int i = 0; i < 100'000; ++i)
      s->consume(rec(i));
  }};
  emitter.join();
  CAF_CHECK(s->in_export); // the export is still stuck
  auto st = s->stats();
  CAF_CHECK_EQUAL(st.queued, 64u);
  CAF_CHECK_EQUAL(st.dropped_queue_full, 100'000u - 64u);
  s->release();
  exporter.join();
  CAF_CHECK(!s->flush());
  CAF_CHECK_EQUAL(s->records(), 8u + 64u);
}

CAF_TEST(the default selection is every catalogue event but the export spans) {
  sink_options o;
  o.name = "all";
  auto evs = events_of(o);
  CAF_CHECK_EQUAL(evs.size(), tel::event_names().size() - 3);
  auto has = [&](tel::event_name n) {
    return std::find(evs.begin(), evs.end(), n) != evs.end();
  };
  CAF_CHECK(has({"caflens", "sink", "dropped"}));
  CAF_CHECK(has({"caflens", "investigation", "stop"}));
  CAF_CHECK(!has({"caflens", "sink", "export", "stop"}));
}

CAF_TEST_FIXTURE_SCOPE(sink_actor_tests, fixture)

CAF_TEST(the actor exports on its interval and on a backlog) {
  auto s = std::make_shared<memory_sink>(opts("mem", 100, 10));
  auto a = spawn_sink(sys, s, bus);
  CAF_REQUIRE(a);
  sched.run();
  emit(3);
  sched.run();
  CAF_CHECK_EQUAL(s->records(), 0u); // nothing before the interval
  CAF_CHECK(sched.trigger_timeout());
  sched.run();
  CAF_CHECK_EQUAL(s->records(), 3u);
  CAF_CHECK_EQUAL(s->flushes, 1);
  // A full batch wakes the actor before the interval ends; it exports
  // batch after batch until it has caught up.
  emit(25, 3);
  sched.run();
  CAF_CHECK_EQUAL(s->records(), 28u);
  CAF_REQUIRE_EQUAL(s->batches.size(), 4u);
  CAF_CHECK_EQUAL(s->batches[1].size(), 10u);
  CAF_CHECK_EQUAL(s->batches[3].size(), 5u);
  CAF_CHECK_EQUAL(s->flushes, 2);
  // Spans around every batch, with the batch size.
  CAF_CHECK_EQUAL(count("caflens.sink.export.start"), s->batches.size());
  CAF_CHECK_EQUAL(count("caflens.sink.export.stop"), s->batches.size());
  auto& stop = seen.back();
  CAF_CHECK_EQUAL(stop.md["sink"], "mem");
  CAF_CHECK_EQUAL(stop.md["result"], "ok");
  CAF_CHECK_EQUAL(stop.m["batch_size"], 5.0);
  anon_send_exit(*a, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(drops and failures become events) {
  auto s = std::make_shared<memory_sink>(opts("lossy", 5, 100));
  auto a = spawn_sink(sys, s, bus);
  CAF_REQUIRE(a);
  sched.run();
  emit(8);
  CAF_CHECK(sched.trigger_timeout());
  sched.run();
  CAF_REQUIRE_EQUAL(count("caflens.sink.dropped"), 1u);
  auto it = std::find_if(seen.begin(), seen.end(), [](auto& x) {
    return x.name == "caflens.sink.dropped";
  });
  CAF_CHECK_EQUAL(it->m["count"], 3.0);
  CAF_CHECK_EQUAL(it->md["reason"], "queue_full");
  s->fail = true;
  emit(2);
  CAF_CHECK(sched.trigger_timeout());
  sched.run();
  CAF_CHECK_EQUAL(count("caflens.sink.export.exception"), 1u);
  CAF_CHECK_EQUAL(count("caflens.sink.dropped"), 2u);
  CAF_CHECK_EQUAL(seen.back().md["reason"], "export_failed");
  CAF_CHECK_EQUAL(seen.back().m["count"], 2.0);
  anon_send_exit(*a, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a flush request answers once everything is exported) {
  auto s = std::make_shared<memory_sink>(opts("mem", 100, 4));
  auto a = spawn_sink(sys, s, bus);
  CAF_REQUIRE(a);
  sched.run();
  emit(3);
  bool done = false;
  sys.spawn([&](event_based_actor* client) {
    client->request(*a, infinite, flush_atom::value)
      .then([&](ok_atom) { done = true; });
  });
  sched.run();
  sched.run();
  CAF_CHECK(done);
  CAF_CHECK_EQUAL(s->records(), 3u);
  anon_send_exit(*a, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(termination exports the queue and detaches) {
  auto s = std::make_shared<memory_sink>(opts("mem", 100, 50));
  auto a = spawn_sink(sys, s, bus);
  CAF_REQUIRE(a);
  sched.run();
  CAF_CHECK_EQUAL(bus.list_handlers({"app"}).size(), 1u);
  emit(7);
  anon_send_exit(*a, exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(s->records(), 7u);
  CAF_CHECK(s->closed_dest);
  CAF_CHECK(bus.list_handlers({"app"}).empty());
  // A second sink of the same name is refused while the first runs.
  auto s2 = std::make_shared<memory_sink>(opts("twin", 100, 50));
  auto a2 = spawn_sink(sys, s2, bus);
  CAF_REQUIRE(a2);
  auto s3 = std::make_shared<memory_sink>(opts("twin", 100, 50));
  auto a3 = spawn_sink(sys, s3, bus);
  CAF_CHECK(!a3);
  auto bad = std::make_shared<memory_sink>(opts("dotted.name", 100, 50));
  CAF_CHECK(!spawn_sink(sys, bad, bus));
  anon_send_exit(*a2, exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()
