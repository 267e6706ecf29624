// Normal use of the sandbox: values, callbacks, errors the model can act on,
// declared durations, telemetry and concurrency.
#define CAF_SUITE sandbox.sandbox
#include "caf/test/unit_test.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include "caflens/telemetry/bus.hpp"

#include "test_helpers.hpp"

using namespace caflens::sandbox;
using namespace caflens::sandbox::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

callback make_top() {
  return callback{
    "actors_top",
    {"n"},
    "top actors by mailbox",
    [](const std::vector<json>& args) -> caf::expected<json> {
      int64_t n =
        args.empty() || args[0].is_null() ? 3 : args[0].get<int64_t>();
      auto result = json::array();
      for (int64_t i = 0; i < n; ++i)
        result.push_back({{"name", "worker-" + std::to_string(i)},
                          {"mailbox", 1000 - i * 100}});
      return result;
    },
  };
}

callback make_info() {
  return callback{
    "actors_info",
    {"name", "fields"},
    "details of one actor",
    [](const std::vector<json>& args) -> caf::expected<json> {
      if (args.empty() || !args[0].is_string())
        return make_error(sandbox_errc::invalid_argument, "name expected");
      if (args[0] == "ghost")
        return make_error(sandbox_errc::invalid_argument,
                          "no actor named ghost");
      return json{{"name", args[0]},
                  {"fields", args.size() > 1 ? args[1] : json{}}};
    },
  };
}

} // namespace

CAF_TEST(scripts return JSON values) {
  auto res = run("return 1 + 2");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json(3));
  CAF_CHECK(res->value.is_number_integer());
  res = run("return 1 / 2");
  CAF_REQUIRE(res);
  CAF_CHECK(res->value.is_number_float());
  CAF_CHECK_EQUAL(res->value, json(0.5));
  res = run("return {a = 1, b = {true, false, 'x'}}");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value,
                  json::parse(R"({"a": 1, "b": [true, false, "x"]})"));
  res = run("local x = 1");
  CAF_REQUIRE(res);
  CAF_CHECK(res->value.is_null());
  res = run("return 1, 'two', nil");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json::parse(R"([1, "two", null])"));
  CAF_CHECK(res->peak_memory_bytes > 0);
  CAF_CHECK(res->duration.count() > 0);
  // Instructions are counted in steps of check_interval.
  res = run("local n = 0 for i = 1, 10000 do n = n + i end return n");
  CAF_REQUIRE(res);
  CAF_CHECK(res->instructions >= 10000);
  CAF_CHECK(res->instructions % small_limits().check_interval == 0);
}

CAF_TEST(the standard libraries work) {
  auto res = run(R"(
    local t = {5, 3, 9, 1}
    table.sort(t)
    local words = {}
    for w in ("the quick brown fox"):gmatch("%a+") do words[#words + 1] = w end
    table.sort(words, function(a, b) return a > b end)
    local moved = table.move({1, 2, 3}, 1, 3, 2)
    return {
      sorted = t,
      words = words,
      moved = moved,
      fmt = string.format("%5.1f|%d|%s", 3.14159, 42, "x"),
      upper = ("abc"):upper(),
      sub = ("hello"):sub(2, -2),
      gsub = (("hello world"):gsub("o", "0")),
      find = {("hello"):find("l+")},
      utf8 = utf8.len("h\u{e9}llo"),
      floor = math.floor(3.7),
      maxint = math.maxinteger,
      concat = table.concat({1, 2, 3}, ","),
      type = math.type(1.0),
    })");
  CAF_REQUIRE(res);
  auto& v = res->value;
  CAF_CHECK_EQUAL(v["sorted"], json::parse("[1, 3, 5, 9]"));
  CAF_CHECK_EQUAL(v["words"],
                  json::parse(R"(["the", "quick", "fox", "brown"])"));
  CAF_CHECK_EQUAL(v["moved"], json::parse("[1, 1, 2, 3]"));
  CAF_CHECK_EQUAL(v["fmt"], json("  3.1|42|x"));
  CAF_CHECK_EQUAL(v["upper"], json("ABC"));
  CAF_CHECK_EQUAL(v["sub"], json("ell"));
  CAF_CHECK_EQUAL(v["gsub"], json("hell0 w0rld"));
  CAF_CHECK_EQUAL(v["find"], json::parse("[3, 4]"));
  CAF_CHECK_EQUAL(v["utf8"], json(5));
  CAF_CHECK_EQUAL(v["floor"], json(3));
  CAF_CHECK_EQUAL(v["maxint"], json(INT64_MAX));
  CAF_CHECK_EQUAL(v["concat"], json("1,2,3"));
  CAF_CHECK_EQUAL(v["type"], json("float"));
}

CAF_TEST(table sort is stable and checks its arguments) {
  auto res = run(R"(
    local t = {}
    for i = 1, 200 do t[i] = {k = i % 7, i = i} end
    table.sort(t, function(a, b) return a.k < b.k end)
    for i = 2, #t do
      if t[i - 1].k == t[i].k and t[i - 1].i > t[i].i then return false end
      if t[i - 1].k > t[i].k then return false end
    end
    return true)");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json(true));
  res = run("table.sort(42)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "line 1: bad argument #1 to 'sort'"));
  res = run("table.sort({1, 'x'})");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "attempt to compare"));
}

CAF_TEST(print is captured) {
  auto res = run("print('a', 1, nil, true) print() return 0");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->output, "a\t1\tnil\ttrue\n\n");
  CAF_CHECK(!res->output_truncated);
}

CAF_TEST(callbacks receive and return JSON) {
  auto res = run(R"(
    local top = actors_top(2)
    local info = actors_info(top[1].name, {"mailbox", "state"})
    return {count = #top, first = top[1].mailbox, info = info})",
                 small_limits(), {make_top(), make_info()});
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value["count"], json(2));
  CAF_CHECK_EQUAL(res->value["first"], json(1000));
  CAF_CHECK_EQUAL(res->value["info"], json::parse(R"({"name": "worker-0",
                                  "fields": ["mailbox", "state"]})"));
  CAF_CHECK_EQUAL(res->callback_calls, 2u);
  // nil arguments arrive as null; trailing nils are dropped.
  res = run("return actors_top(nil)", small_limits(), {make_top()});
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value.size(), 3u);
}

CAF_TEST(callback errors name the callback and the line) {
  auto res = run("local x = 1\nreturn actors_info('ghost')", small_limits(),
                 {make_info()});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  auto msg = message_of(res);
  CAF_MESSAGE(msg);
  CAF_CHECK(contains(msg, "lua: line 2: callback 'actors_info' failed"));
  CAF_CHECK(contains(msg, "no actor named ghost"));
  // Too many arguments.
  res = run("return actors_top(1, 2)", small_limits(), {make_top()});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "takes 1 argument (actors_top(n))"));
  // Arguments that have no JSON form.
  res = run("return actors_top(print)", small_limits(), {make_top()});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "function value"));
  // A throwing callback.
  callback thrower{
    "boom", {}, "throws", [](const std::vector<json>&) -> caf::expected<json> {
      throw std::runtime_error("kaboom");
    }};
  res = run("return boom()", small_limits(), {thrower});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "callback 'boom' threw: kaboom"));
  // The script may handle a callback's error.
  res = run(R"(
    local ok, err = pcall(actors_info, 'ghost')
    return {ok = ok, err = err})",
            small_limits(), {make_info()});
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value["ok"], json(false));
  CAF_CHECK(contains(res->value["err"].get<std::string>(), "no actor"));
}

CAF_TEST(unknown functions list the known callbacks) {
  auto res = run("local x = 1\nlocal y = 2\nreturn actors_topp(3)",
                 small_limits(), {make_top(), make_info()});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  auto msg = message_of(res);
  CAF_MESSAGE(msg);
  CAF_CHECK(contains(msg, "lua: line 3: attempt to call nil 'actors_topp'"));
  CAF_CHECK(contains(msg, "did you mean 'actors_top'?"));
  CAF_CHECK(contains(msg, "known callbacks: "));
  CAF_CHECK(contains(msg, "actors_top(n) \u2014 top actors by mailbox"));
  CAF_CHECK(contains(msg, "actors_info(name, fields) \u2014 details"));
  CAF_CHECK(contains(msg, "get_current_time()"));
  CAF_CHECK(contains(msg, "get_node_info()"));
}

CAF_TEST(errors carry line numbers) {
  auto res = run("local t = nil\n\nreturn t.x");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "lua: line 3: attempt to index a nil"));
  res = run("error('custom failure')");
  CAF_CHECK_EQUAL(message_of(res), "lua: line 1: custom failure");
  res = run("error('no position', 0)");
  CAF_CHECK_EQUAL(message_of(res), "lua: no position");
  res = run("error({code = 7})");
  CAF_CHECK_EQUAL(message_of(res), "lua: error object is a table value");
  res = run("return = 1");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::syntax_error));
  CAF_CHECK(contains(message_of(res), "lua: line 1: syntax error: "));
  auto rendered = caflens::render_error(res.error());
  CAF_CHECK(contains(rendered, "sandbox: syntax_error: lua: line 1"));
}

CAF_TEST(base callbacks report time and node) {
  auto res = run(R"(
    local t = get_current_time()
    local n = get_node_info()
    return {t = t, n = n})");
  CAF_REQUIRE(res);
  auto& v = res->value;
  CAF_CHECK(v["t"]["unix_ms"].get<int64_t>() > 1'600'000'000'000);
  CAF_CHECK_EQUAL(v["t"]["iso8601"].get<std::string>().size(), 24u);
  CAF_CHECK_EQUAL(v["n"]["node"], json("test-node"));
  CAF_CHECK_EQUAL(v["n"]["limits"]["max_instructions"], json(1'000'000));
  // A user callback may replace a base one.
  callback fixed{
    "get_current_time",
    {},
    "fixed",
    [](const std::vector<json>&) -> caf::expected<json> { return json(7); }};
  res = run("return get_current_time()", small_limits(), {fixed});
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json(7));
}

CAF_TEST(invalid callbacks and limits are refused) {
  auto noop = [](const std::vector<json>&) -> caf::expected<json> {
    return json{};
  };
  for (auto name : {"print", "string", "2x", "end", "", "a-b", "json"}) {
    auto res = run("return 1", small_limits(), {callback{name, {}, "", noop}});
    CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  }
  auto res =
    run("return 1", small_limits(), {callback{"f", {"a", "b", "c"}, "", noop}});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  res = run("return 1", small_limits(),
            {callback{"f", {}, "", noop}, callback{"f", {}, "", noop}});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  res = run("return 1", small_limits(), {callback{"f", {}, "", nullptr}});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  auto lim = small_limits();
  lim.max_memory_bytes = 1000;
  res = run("return 1", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  CAF_CHECK(contains(message_of(res), "max_memory_bytes"));
}

CAF_TEST(declared durations extend the wall time budget) {
  // Sleeps 150 ms by design, three times, under a 100 ms budget.
  callback sample{"sample_window",
                  {"ms"},
                  "samples over a window",
                  [](const std::vector<json>& args) -> caf::expected<json> {
                    std::this_thread::sleep_for(
                      std::chrono::milliseconds{args.at(0).get<int64_t>()});
                    return json(1);
                  },
                  150ms};
  auto lim = small_limits();
  lim.max_wall_time = 100ms;
  auto res = run("local n = 0 for i = 1, 3 do n = n + sample_window(150) end "
                 "return n",
                 lim, {sample});
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json(3));
  CAF_CHECK(res->duration > 400ms);
  // Without the declaration the same callback exceeds the budget.
  sample.declared_duration = 0ms;
  res = run("local n = 0 for i = 1, 3 do n = n + sample_window(150) end "
            "while true do end",
            lim, {sample});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::wall_time_limit_exceeded));
  // Time a callback declares but does not use goes back.
  sample.declared_duration = 10s;
  lim.max_instructions = 1'000'000'000'000;
  auto t0 = std::chrono::steady_clock::now();
  res = run("sample_window(1) while true do end", lim, {sample});
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

CAF_TEST(execute emits telemetry events) {
  struct recorded {
    std::mutex mtx;
    std::vector<std::string> names;
    std::vector<std::string> limits;
  };
  auto rec = std::make_shared<recorded>();
  auto& bus = caflens::telemetry::bus::global();
  auto err = bus.attach_many("sandbox-test",
                             {{"caflens", "sandbox", "execute", "start"},
                              {"caflens", "sandbox", "execute", "stop"},
                              {"caflens", "sandbox", "execute", "exception"},
                              {"caflens", "sandbox", "limit_exceeded"},
                              {"caflens", "sandbox", "callback"}},
                             [rec](const caflens::telemetry::event_name& name,
                                   const caflens::telemetry::measurements&,
                                   const caflens::telemetry::metadata& md,
                                   const std::any&) {
                               std::lock_guard<std::mutex> guard{rec->mtx};
                               rec->names.push_back(name.str());
                               if (auto* x = md.find("limit"))
                                 rec->limits.emplace_back(x->as_string());
                             });
  CAF_REQUIRE(!err);
  auto res = run("return actors_top(1)", small_limits(), {make_top()});
  CAF_REQUIRE(res);
  auto lim = small_limits();
  lim.max_instructions = 1000;
  res = run("while true do end", lim);
  CAF_REQUIRE(!res);
  bus.detach("sandbox-test");
  std::vector<std::string> expected{
    "caflens.sandbox.execute.start",  "caflens.sandbox.callback",
    "caflens.sandbox.execute.stop",   "caflens.sandbox.execute.start",
    "caflens.sandbox.limit_exceeded", "caflens.sandbox.execute.exception"};
  CAF_CHECK_EQUAL(rec->names, expected);
  CAF_CHECK_EQUAL(rec->limits, std::vector<std::string>{"max_instructions"});
}

CAF_TEST(concurrent executes are independent) {
  sandbox box{small_limits(), "n"};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto res = box.execute("local x = ... or " +
                                 std::to_string(t * 1000 + i) + " return x * 2",
                               {make_top()});
        if (res && res->value == json((t * 1000 + i) * 2))
          ++ok;
      }
    });
  for (auto& th : threads)
    th.join();
  CAF_CHECK_EQUAL(ok.load(), 200);
}
