#define CAF_SUITE telemetry.correlation
#include "caf/test/dsl.hpp"

#include <map>
#include <thread>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/correlation.hpp"
#include "caflens/telemetry/metrics.hpp"
#include "caflens/telemetry/trace_id.hpp"

using namespace caf;
using namespace caflens::telemetry;

namespace {

struct fixture : test_coordinator_fixture<> {
  bus b;
  std::vector<std::pair<std::string, std::string>> seen; // event, id

  fixture() {
    auto err = b.attach_many(
      "test", {event_name{"app", "a"}, event_name{"app", "b"}},
      [this](const event_name& e, const measurements&, const metadata& md,
             const std::any&) {
        auto* id = md.find("correlation_id");
        seen.emplace_back(e.str(), id ? id->to_string() : std::string{"-"});
      });
    CAF_REQUIRE(!err);
  }

  void emit(const char* which) {
    b.execute(event_name{"app", which}, {{"x", 1}}, {{"k", "v"}});
  }
};

using seen_t = std::vector<std::pair<std::string, std::string>>;

} // namespace

CAF_TEST_FIXTURE_SCOPE(correlation_tests, fixture)

CAF_TEST(events inside a scope carry its id and nested scopes restore) {
  emit("a");
  {
    correlation_scope outer{"req-1"};
    CAF_CHECK_EQUAL(current_correlation(), "req-1");
    emit("a");
    {
      correlation_scope inner{"req-2"};
      emit("b");
    }
    emit("b");
  }
  emit("a");
  CAF_CHECK_EQUAL(current_correlation(), "");
  CAF_CHECK_EQUAL(seen, (seen_t{{"app.a", "-"},
                                {"app.a", "req-1"},
                                {"app.b", "req-2"},
                                {"app.b", "req-1"},
                                {"app.a", "-"}}));
}

CAF_TEST(an event that names its correlation id keeps it) {
  correlation_scope scope{"req-1"};
  b.execute(event_name{"app", "a"}, {{"x", 1}},
            {{"correlation_id", "explicit"}});
  CAF_CHECK_EQUAL(seen, (seen_t{{"app.a", "explicit"}}));
}

CAF_TEST(with_correlation makes an id that is a trace id) {
  std::string id;
  auto n = with_correlation({}, [&] {
    id = std::string{current_correlation()};
    emit("a");
    return 42;
  });
  CAF_CHECK_EQUAL(n, 42);
  CAF_CHECK(is_trace_id(id));
  CAF_CHECK_EQUAL(seen.at(0).second, id);
}

CAF_TEST(scopes belong to their thread) {
  correlation_scope scope{"main"};
  std::thread other{[this] { emit("b"); }};
  other.join();
  emit("a");
  CAF_CHECK_EQUAL(seen, (seen_t{{"app.b", "-"}, {"app.a", "main"}}));
}

CAF_TEST(a request keeps its id across actors) {
  // The sender puts the id into the message; the receiver opens a scope.
  auto receiver = sys.spawn([this](event_based_actor*) -> behavior {
    return {[this](const std::string& cid, int) {
      correlation_scope scope{cid};
      emit("b");
    }};
  });
  auto sender = sys.spawn([this, receiver](event_based_actor* self)
                            -> behavior {
    return {[this, self, receiver](int x) {
      correlation_scope scope{"order-77"};
      emit("a");
      self->send(receiver, std::string{current_correlation()}, x);
    }};
  });
  self->send(sender, 1);
  sched.run();
  CAF_CHECK_EQUAL(seen, (seen_t{{"app.a", "order-77"}, {"app.b", "order-77"}}));
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(metrics see the correlation id like any handler) {
  // Metrics attach direct handlers; a scope's id reaches them as a tag.
  bus b;
  metric_registry reg{b};
  CAF_REQUIRE(!reg.add(metric_definition::counter(
    "by_request", {"app", "step"}, {"correlation_id"})));
  auto step = b.intern({"app", "step"});
  b.execute(step, {{"x", 1.0}});
  {
    correlation_scope scope{"req-9"};
    b.execute(step, {{"x", 1.0}});
    b.execute(step, {{"x", 1.0}});
    b.execute(step, {{"x", 1.0}}, {{"correlation_id", "own"}});
  }
  auto mv = reg.collect("by_request");
  CAF_REQUIRE(mv);
  std::map<std::string, uint64_t> counts;
  for (auto& s : mv->series)
    counts[s.tags.at(0).second] = s.updates;
  CAF_CHECK_EQUAL(counts, (std::map<std::string, uint64_t>{
                            {"", 1}, {"req-9", 2}, {"own", 1}}));
}
