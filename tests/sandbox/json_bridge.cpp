// The JSON ↔ Lua bridge, exercised through callbacks (JSON → Lua) and return
// values (Lua → JSON).
#define CAF_SUITE sandbox.json_bridge
#include "caf/test/unit_test.hpp"

#include "test_helpers.hpp"

using namespace caflens::sandbox;
using namespace caflens::sandbox::test;
using nlohmann::json;

namespace {

// A callback `input()` that returns `x`, and `echo(v)` that returns its
// argument.
std::vector<callback> io_callbacks(json x) {
  return {
    callback{
      "input",
      {},
      "the test input",
      [x](const std::vector<json>&) -> caf::expected<json> { return x; }},
    callback{"echo",
             {"value"},
             "returns its argument",
             [](const std::vector<json>& args) -> caf::expected<json> {
               return args.empty() ? json{} : args[0];
             }},
  };
}

caf::expected<execute_result> round_trip(const json& x,
                                         const limits& lim = small_limits()) {
  return run("return echo(input())", lim, io_callbacks(x));
}

} // namespace

CAF_TEST(values survive a round trip) {
  auto doc = json::parse(R"({
    "null": null, "t": true, "f": false, "int": -42, "big": 9007199254740993,
    "float": 2.5, "whole_float": 3.0, "str": "h\u00e9llo \u2603",
    "empty_obj": {}, "empty_arr": [], "arr": [1, null, "x", [], {}],
    "nested": {"a": {"b": {"c": [1, [2, [3]]]}}},
    "min": -9223372036854775808, "max": 9223372036854775807
  })");
  auto res = round_trip(doc);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, doc);
  CAF_CHECK(res->value["int"].is_number_integer());
  CAF_CHECK(res->value["whole_float"].is_number_float());
  CAF_CHECK(res->value["float"].is_number_float());
  CAF_CHECK(res->value["empty_arr"].is_array());
  CAF_CHECK(res->value["empty_obj"].is_object());
}

CAF_TEST(lua sees JSON types) {
  auto res = run(R"(
    local v = input()
    return {
      int = math.type(v.int), float = math.type(v.float),
      null_is_sentinel = v.arr[2] == json.null and v.arr[2] == null,
      len = #v.arr, empty_len = #v.empty_arr,
      str = type(v.str)})",
                 small_limits(),
                 io_callbacks(json::parse(
                   R"({"int": 1, "float": 1.0, "arr": [1, null, 3],
                       "empty_arr": [], "str": "s"})")));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json::parse(R"({"int": "integer",
    "float": "float", "null_is_sentinel": true, "len": 3, "empty_len": 0,
    "str": "string"})"));
}

CAF_TEST(tables become arrays or objects) {
  auto res = run(R"(
    return {
      seq = {1, 2, 3},
      sparse = {[1] = 'a', [3] = 'c'},
      mixed = {1, 2, x = 3},
      empty = {},
      marked = json.array(),
      marked_filled = json.array({1, 2}),
      numeric_keys = {[-1] = 'neg', [0] = 'zero', [1.5] = 'half'},
      nan = 0/0, inf = math.huge,
    })");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json::parse(R"({
    "seq": [1, 2, 3],
    "sparse": {"1": "a", "3": "c"},
    "mixed": {"1": 1, "2": 2, "x": 3},
    "empty": {},
    "marked": [],
    "marked_filled": [1, 2],
    "numeric_keys": {"-1": "neg", "0": "zero", "1.5": "half"},
    "nan": null, "inf": null
  })"));
}

CAF_TEST(invalid values are rejected with a path) {
  auto res = run("local t = {a = {b = {}}} t.a.b.c = t return t");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_result));
  CAF_CHECK(contains(message_of(res), "cycle"));
  CAF_CHECK(contains(message_of(res), "result.a.b.c"));
  res = run("return {f = print}");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_result));
  CAF_CHECK(contains(message_of(res), "a function value at result.f"));
  res = run("return {[true] = 1}");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_result));
  CAF_CHECK(contains(message_of(res), "key of type boolean"));
  res = run("local t = {} local c = t for i = 1, 40 do c.x = {} c = c.x end "
            "return t");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_result));
  CAF_CHECK(contains(message_of(res), "max_json_depth (32)"));
  // A table seen twice without a cycle is fine.
  res = run("local shared = {1} return {a = shared, b = shared}");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json::parse(R"({"a": [1], "b": [1]})"));
}

CAF_TEST(invalid utf8 is replaced) {
  auto res = run(R"(return "ok\xff\xfe" .. "\u{2603}" .. "\xe2\x82")");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value.get<std::string>(),
                  "ok\xEF\xBF\xBD\xEF\xBF\xBD\xE2\x98\x83\xEF\xBF\xBD"
                  "\xEF\xBF\xBD");
  CAF_CHECK_NOT_EQUAL(res->value.dump(), "");
}

CAF_TEST(unsigned numbers beyond int64 become floats) {
  auto res = round_trip(json(uint64_t{18446744073709551615u}));
  CAF_REQUIRE(res);
  CAF_CHECK(res->value.is_number_float());
  res = run("return math.type(input())", small_limits(),
            io_callbacks(json(uint64_t{5})));
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, json("integer"));
}

CAF_TEST(callback results are bounded by depth and memory) {
  json deep = json::array();
  json* cur = &deep;
  for (int i = 0; i < 50; ++i) {
    cur->push_back(json::array());
    cur = &cur->back();
  }
  auto res = round_trip(deep);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "callback 'input' returned a value"));
  CAF_CHECK(contains(message_of(res), "max_json_depth"));
  json big = json::array();
  for (int i = 0; i < 100000; ++i)
    big.push_back(std::string(100, 'x'));
  res = round_trip(big);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "memory limit"));
  // Arguments are bounded like results.
  res = run("local t = {} for i = 1, 100000 do t[i] = 'abcdefghijklmnop' end "
            "return echo(t)",
            small_limits(), io_callbacks(json{}));
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::callback_failed));
  CAF_CHECK(contains(message_of(res), "max_result_bytes"));
}
