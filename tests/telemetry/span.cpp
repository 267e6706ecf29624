#define CAF_SUITE telemetry.span
#include "caf/test/unit_test.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/telemetry/bus.hpp"

using namespace caflens::telemetry;

namespace {

struct fixture {
  bus b;
  std::vector<std::pair<std::string, nlohmann::json>> seen; // name, all

  fixture() {
    auto fn = [this](const event_name& e, const measurements& m,
                     const metadata& md, const std::any&) {
      seen.emplace_back(e.str(), nlohmann::json{{"m", m.to_json()},
                                                {"md", md.to_json()}});
    };
    b.attach_many("spy",
                  {{"op", "start"}, {"op", "stop"}, {"op", "exception"}}, fn);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(span_tests, fixture)

CAF_TEST(a span emits start then stop with duration and its result) {
  auto before = bus::monotonic_time();
  auto result = b.span({"op"}, {{"trace_id", "t1"}}, [] { return 7; });
  auto after = bus::monotonic_time();
  CAF_CHECK_EQUAL(result, 7);
  CAF_REQUIRE_EQUAL(seen.size(), 2u);
  CAF_CHECK_EQUAL(seen[0].first, "op.start");
  CAF_CHECK_EQUAL(seen[1].first, "op.stop");
  auto& start = seen[0].second;
  auto& stop = seen[1].second;
  CAF_CHECK(start["m"].contains("system_time"));
  auto mono = start["m"]["monotonic_time"].get<double>();
  CAF_CHECK(mono >= before && mono <= after);
  auto duration = stop["m"]["duration"].get<double>();
  CAF_CHECK(duration >= 0 && duration <= after - before);
  CAF_CHECK(stop["m"].contains("monotonic_time"));
  CAF_CHECK_EQUAL(start["md"]["trace_id"].get<std::string>(), "t1");
  CAF_CHECK_EQUAL(stop["md"]["trace_id"].get<std::string>(), "t1");
  // Both carry the same span context id.
  CAF_CHECK(start["md"].contains("telemetry_span_context"));
  CAF_CHECK_EQUAL(start["md"]["telemetry_span_context"],
                  stop["md"]["telemetry_span_context"]);
}

CAF_TEST(each span gets its own context id) {
  b.span({"op"}, {}, [] {});
  b.span({"op"}, {}, [] {});
  CAF_REQUIRE_EQUAL(seen.size(), 4u);
  CAF_CHECK_NOT_EQUAL(seen[0].second["md"]["telemetry_span_context"],
                      seen[2].second["md"]["telemetry_span_context"]);
}

CAF_TEST(an exception emits the exception event and propagates) {
  bool caught = false;
  try {
    b.span({"op"}, {{"k", 1}},
           []() -> int { throw std::runtime_error("disk full"); });
  } catch (const std::runtime_error& ex) {
    caught = std::string{ex.what()} == "disk full";
  }
  CAF_CHECK(caught);
  CAF_REQUIRE_EQUAL(seen.size(), 2u);
  CAF_CHECK_EQUAL(seen[1].first, "op.exception");
  auto& exc = seen[1].second;
  CAF_CHECK(exc["m"]["duration"].get<double>() >= 0);
  CAF_CHECK_EQUAL(exc["md"]["kind"].get<std::string>(), "error");
  CAF_CHECK_EQUAL(exc["md"]["reason"].get<std::string>(), "disk full");
  CAF_CHECK_EQUAL(exc["md"]["k"], 1);
  CAF_CHECK_EQUAL(exc["md"]["telemetry_span_context"],
                  seen[0].second["md"]["telemetry_span_context"]);
}

CAF_TEST(a non standard exception is reported as throw) {
  try {
    b.span({"op"}, {}, [] { throw 3; });
  } catch (int) {
  }
  CAF_REQUIRE_EQUAL(seen.size(), 2u);
  CAF_CHECK_EQUAL(seen[1].second["md"]["kind"].get<std::string>(), "throw");
}

CAF_TEST_FIXTURE_SCOPE_END()
