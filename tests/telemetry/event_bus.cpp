#define CAF_SUITE telemetry.event_bus
#include "caf/test/unit_test.hpp"

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/telemetry_errc.hpp"

using namespace caflens::telemetry;

namespace {

struct call {
  std::string event;
  nlohmann::json measurements;
  nlohmann::json metadata;
  std::string config;
};

struct fixture {
  bus b;
  std::vector<call> calls;

  handler_function recorder() {
    return [this](const event_name& e, const measurements& m,
                  const metadata& md, const std::any& cfg) {
      auto* s = std::any_cast<std::string>(&cfg);
      calls.push_back({e.str(), m.to_json(), md.to_json(), s ? *s : ""});
    };
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(event_bus_tests, fixture)

CAF_TEST(execute calls the attached handler with all arguments) {
  CAF_REQUIRE(!b.attach("h1", {"app", "request", "stop"}, recorder(),
                        std::string{"cfg"}));
  b.execute(event_name{"app", "request", "stop"}, {{"duration", 42.5}},
            {{"route", "/upload"}, {"status", 200}, {"ok", true}});
  CAF_REQUIRE_EQUAL(calls.size(), 1u);
  CAF_CHECK_EQUAL(calls[0].event, "app.request.stop");
  CAF_CHECK_EQUAL(calls[0].measurements["duration"].get<double>(), 42.5);
  CAF_CHECK_EQUAL(calls[0].metadata["route"].get<std::string>(), "/upload");
  CAF_CHECK_EQUAL(calls[0].metadata["status"].get<int>(), 200);
  CAF_CHECK_EQUAL(calls[0].metadata["ok"].get<bool>(), true);
  CAF_CHECK_EQUAL(calls[0].config, "cfg");
}

CAF_TEST(execute on an event without handlers does nothing) {
  CAF_REQUIRE(!b.attach("h1", {"a", "b"}, recorder()));
  b.execute(event_name{"a", "c"}, {{"x", 1.0}});
  b.execute(event_name{"a"}, {{"x", 1.0}});
  CAF_CHECK(calls.empty());
}

CAF_TEST(interned events reach the same handlers as names) {
  auto e = b.intern({"a", "b"});
  CAF_CHECK(!b.has_handlers(e));
  CAF_REQUIRE(!b.attach("h1", {"a", "b"}, recorder()));
  CAF_CHECK(b.has_handlers(e));
  b.execute(e, {{"x", 1.0}});
  b.execute(event_name{"a", "b"}, {{"x", 2.0}});
  CAF_REQUIRE_EQUAL(calls.size(), 2u);
  CAF_CHECK_EQUAL(calls[1].measurements["x"].get<double>(), 2.0);
  CAF_CHECK_EQUAL(e.name().str(), "a.b");
  CAF_CHECK_EQUAL(b.intern({"a", "b"}).name().str(), "a.b");
}

CAF_TEST(several handlers on one event run in attach order) {
  std::vector<std::string> order;
  for (auto id : {"first", "second", "third"})
    CAF_REQUIRE(!b.attach(id, {"e"},
                          [&order, id](auto&, auto&, auto&, auto&) {
                            order.push_back(id);
                          }));
  b.execute(event_name{"e"}, {});
  CAF_CHECK_EQUAL(order, (std::vector<std::string>{"first", "second",
                                                   "third"}));
}

CAF_TEST(attach rejects duplicate ids and invalid names) {
  CAF_REQUIRE(!b.attach("h", {"a"}, recorder()));
  auto err = b.attach("h", {"b"}, recorder());
  CAF_CHECK_EQUAL(err, telemetry_errc::already_exists);
  CAF_CHECK(caflens::render_error(err).find("'h'") != std::string::npos);
  CAF_CHECK_EQUAL(b.attach("x", event_name{}, recorder()),
                  telemetry_errc::invalid_event_name);
  CAF_CHECK_EQUAL(b.attach("y", {"a", ""}, recorder()),
                  telemetry_errc::invalid_event_name);
  CAF_CHECK_EQUAL(b.attach("z", {"a.b"}, recorder()),
                  telemetry_errc::invalid_event_name);
  CAF_CHECK_EQUAL(b.attach("", {"a"}, recorder()),
                  telemetry_errc::invalid_argument);
  CAF_CHECK_EQUAL(b.attach("n", {"a"}, handler_function{}),
                  telemetry_errc::invalid_argument);
}

CAF_TEST(attach_many attaches one id to several events) {
  CAF_REQUIRE(!b.attach_many("m", {{"a", "1"}, {"a", "2"}, {"a", "1"}},
                             recorder()));
  b.execute(event_name{"a", "1"}, {});
  b.execute(event_name{"a", "2"}, {});
  CAF_CHECK_EQUAL(calls.size(), 2u); // the duplicate name counts once
  CAF_REQUIRE(!b.detach("m"));
  b.execute(event_name{"a", "1"}, {});
  b.execute(event_name{"a", "2"}, {});
  CAF_CHECK_EQUAL(calls.size(), 2u);
}

CAF_TEST(detach stops calls and unknown ids fail) {
  CAF_REQUIRE(!b.attach("h", {"a"}, recorder()));
  b.execute(event_name{"a"}, {});
  CAF_REQUIRE(!b.detach("h"));
  b.execute(event_name{"a"}, {});
  CAF_CHECK_EQUAL(calls.size(), 1u);
  CAF_CHECK_EQUAL(b.detach("h"), telemetry_errc::not_found);
  // The id is free again.
  CAF_CHECK(!b.attach("h", {"a"}, recorder()));
}

CAF_TEST(a direct handler gets its context and the event) {
  struct seen {
    std::vector<std::string> events;
    double sum = 0;
    std::string route;
  };
  auto ctx = std::make_shared<seen>();
  direct_handler fn = [](void* self, const event_name& e,
                         const measurements& m, const metadata& md) noexcept {
    auto* s = static_cast<seen*>(self);
    s->events.push_back(e.str());
    s->sum += m.find("d").value_or(0);
    if (auto* v = md.find("route"))
      s->route = std::string{v->as_string()};
  };
  CAF_REQUIRE(!b.attach_direct("d1", {"app", "call"}, fn, ctx));
  // A direct handler and a handler_function on one event, in attach order.
  CAF_REQUIRE(!b.attach("h2", {"app", "call"}, recorder()));
  b.execute(event_name{"app", "call"}, {{"d", 2.5}}, {{"route", "/x"}});
  auto e = b.intern({"app", "call"});
  b.execute(e, {{"d", 1.0}});
  CAF_CHECK_EQUAL(ctx->events, std::vector<std::string>({"app.call",
                                                          "app.call"}));
  CAF_CHECK_EQUAL(ctx->sum, 3.5);
  CAF_CHECK_EQUAL(ctx->route, "/x");
  CAF_CHECK_EQUAL(calls.size(), 2u);
  auto listed = b.list_handlers({"app"});
  CAF_REQUIRE_EQUAL(listed.size(), 2u);
  CAF_CHECK_EQUAL(listed[0].id, "d1");
  // Errors as for attach; the context lives while the handler is attached.
  CAF_CHECK_EQUAL(b.attach_direct("d1", {"app", "call"}, fn, ctx),
                  telemetry_errc::already_exists);
  CAF_CHECK_EQUAL(b.attach_direct("", {"app", "call"}, fn, ctx),
                  telemetry_errc::invalid_argument);
  CAF_CHECK_EQUAL(b.attach_direct("d2", {"app", "call"}, nullptr, ctx),
                  telemetry_errc::invalid_argument);
  CAF_CHECK_EQUAL(b.attach_direct("d2", {"app", ""}, fn, ctx),
                  telemetry_errc::invalid_event_name);
  CAF_CHECK_EQUAL(ctx.use_count(), 2);
  CAF_REQUIRE(!b.detach("d1"));
  CAF_CHECK_EQUAL(ctx.use_count(), 1);
  b.execute(e, {{"d", 1.0}});
  CAF_CHECK_EQUAL(ctx->sum, 3.5);
  CAF_CHECK_EQUAL(calls.size(), 3u);
}

CAF_TEST(list_handlers filters by prefix) {
  CAF_REQUIRE(!b.attach("b-handler", {"caflens", "llm", "stop"}, recorder(),
                        std::string{"c1"}));
  CAF_REQUIRE(!b.attach_many("a-handler",
                             {{"caflens", "operator", "done"},
                              {"app", "x"}},
                             recorder()));
  auto all = b.list_handlers();
  CAF_REQUIRE_EQUAL(all.size(), 2u);
  CAF_CHECK_EQUAL(all[0].id, "a-handler");
  CAF_CHECK_EQUAL(all[0].events.size(), 2u);
  CAF_CHECK_EQUAL(b.list_handlers({"caflens"}).size(), 2u);
  auto llm = b.list_handlers({"caflens", "llm"});
  CAF_REQUIRE_EQUAL(llm.size(), 1u);
  CAF_CHECK_EQUAL(llm[0].id, "b-handler");
  CAF_CHECK_EQUAL(std::any_cast<std::string>(llm[0].config), "c1");
  CAF_CHECK_EQUAL(b.list_handlers({"app"}).size(), 1u);
  CAF_CHECK(b.list_handlers({"nothing"}).empty());
}

CAF_TEST(a throwing handler is detached and reported) {
  int good_calls = 0;
  CAF_REQUIRE(!b.attach("bad", {"e"}, [](auto&, auto&, auto&, auto&) {
    throw std::runtime_error("boom");
  }));
  CAF_REQUIRE(!b.attach("good", {"e"},
                        [&](auto&, auto&, auto&, auto&) { ++good_calls; }));
  CAF_REQUIRE(!b.attach("watch", {"caflens", "telemetry", "handler",
                                  "failure"},
                        recorder()));
  b.execute(event_name{"e"}, {}); // must not throw
  CAF_CHECK_EQUAL(good_calls, 1);
  CAF_REQUIRE_EQUAL(calls.size(), 1u);
  CAF_CHECK_EQUAL(calls[0].metadata["handler_id"].get<std::string>(), "bad");
  CAF_CHECK_EQUAL(calls[0].metadata["event_name"].get<std::string>(), "e");
  CAF_CHECK_EQUAL(calls[0].metadata["kind"].get<std::string>(), "error");
  CAF_CHECK_EQUAL(calls[0].metadata["reason"].get<std::string>(), "boom");
  // Detached: listed no more, not called again, no second report.
  CAF_CHECK_EQUAL(b.list_handlers({"e"}).size(), 1u);
  b.execute(event_name{"e"}, {});
  CAF_CHECK_EQUAL(good_calls, 2);
  CAF_CHECK_EQUAL(calls.size(), 1u);
}

CAF_TEST(a handler throwing a non-exception is reported as throw) {
  CAF_REQUIRE(!b.attach("bad", {"e"}, [](auto&, auto&, auto&, auto&) {
    throw 42;
  }));
  CAF_REQUIRE(!b.attach("watch", {"caflens", "telemetry", "handler",
                                  "failure"},
                        recorder()));
  b.execute(event_name{"e"}, {});
  CAF_REQUIRE_EQUAL(calls.size(), 1u);
  CAF_CHECK_EQUAL(calls[0].metadata["kind"].get<std::string>(), "throw");
}

CAF_TEST(handlers may attach detach and emit from inside a handler) {
  int inner = 0;
  CAF_REQUIRE(!b.attach("inner", {"inner"},
                        [&](auto&, auto&, auto&, auto&) { ++inner; }));
  CAF_REQUIRE(!b.attach("outer", {"outer"}, [&](auto&, auto&, auto&, auto&) {
    b.execute(event_name{"inner"}, {});
    b.detach("outer");
    b.attach("late", {"outer"}, [](auto&, auto&, auto&, auto&) {});
  }));
  b.execute(event_name{"outer"}, {});
  CAF_CHECK_EQUAL(inner, 1);
  auto hs = b.list_handlers({"outer"});
  CAF_REQUIRE_EQUAL(hs.size(), 1u);
  CAF_CHECK_EQUAL(hs[0].id, "late");
}

CAF_TEST(nesting deeper than the hazard slots drops events and counts them) {
  int depth = 0;
  int max_depth = 0;
  CAF_REQUIRE(!b.attach("rec", {"r"}, [&](auto&, auto&, auto&, auto&) {
    ++depth;
    max_depth = std::max(max_depth, depth);
    if (depth < 20)
      b.execute(event_name{"r"}, {});
    --depth;
  }));
  b.execute(event_name{"r"}, {});
  CAF_CHECK(max_depth >= 4);
  CAF_CHECK(max_depth < 20);
  CAF_CHECK(b.dropped_events() >= 1u);
}

CAF_TEST(metadata values keep their kinds) {
  nlohmann::json doc{{"k", 1}};
  CAF_REQUIRE(!b.attach("h", {"e"}, recorder()));
  b.execute(event_name{"e"}, {},
            {{"i", -3},
             {"u", uint64_t{18446744073709551615ULL}},
             {"d", 0.5},
             {"s", std::string{"str"}},
             {"n", nullptr},
             {"j", doc}});
  auto& md = calls.at(0).metadata;
  CAF_CHECK(md["i"].is_number_integer());
  CAF_CHECK_EQUAL(md["i"].get<int>(), -3);
  CAF_CHECK(md["u"].is_number_unsigned());
  CAF_CHECK_EQUAL(md["u"].get<uint64_t>(), 18446744073709551615ULL);
  CAF_CHECK(md["d"].is_number_float());
  CAF_CHECK_EQUAL(md["s"].get<std::string>(), "str");
  CAF_CHECK(md["n"].is_null());
  CAF_CHECK_EQUAL(md["j"]["k"], 1);
}

CAF_TEST(the global bus exists and does nothing without handlers) {
  execute(event_name{"caflens", "operator", "done"}, {{"system_time", 1.0}});
  CAF_CHECK(list_handlers({"caflens", "operator"}).empty());
  int n = 0;
  CAF_REQUIRE(!attach("g", {"caflens", "operator", "done"},
                      [&](auto&, auto&, auto&, auto&) { ++n; }));
  execute(event_name{"caflens", "operator", "done"}, {{"system_time", 1.0}});
  CAF_CHECK_EQUAL(n, 1);
  CAF_CHECK(!detach("g"));
}

CAF_TEST(event names parse and compare) {
  auto n = event_name::parse("caflens.llm.stop");
  CAF_REQUIRE(n);
  CAF_CHECK_EQUAL(n->size(), 3u);
  CAF_CHECK(*n == (event_name{"caflens", "llm", "stop"}));
  CAF_CHECK(n->starts_with({"caflens", "llm"}));
  CAF_CHECK(!n->starts_with({"caflens", "operator"}));
  CAF_CHECK(n->starts_with({}));
  CAF_CHECK(!event_name::parse("a..b"));
  CAF_CHECK(!event_name::parse(""));
  CAF_CHECK(!event_name::parse("a."));
  auto ab = event_name{"a"} / "b"; // CAF_CHECK_EQUAL binds by auto&&
  CAF_CHECK_EQUAL(ab.str(), "a.b");
  CAF_CHECK(!(event_name{"a.b"} == event_name{"a", "b"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
