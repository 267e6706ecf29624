// Validation of `limits`, the error category and its rendering.
#define CAF_SUITE sandbox.limits
#include "caf/test/unit_test.hpp"

#include <nlohmann/json.hpp>

#include "test_helpers.hpp"

using namespace caflens::sandbox;
using namespace caflens::sandbox::test;

CAF_TEST(default limits are valid) {
  CAF_CHECK(!validate(limits{}));
  CAF_CHECK(!validate(small_limits()));
  auto j = to_json(limits{});
  CAF_CHECK_EQUAL(j["max_wall_time_ms"], nlohmann::json(1000));
}

CAF_TEST(each invalid field is named) {
  auto check_bad = [](auto mutate, std::string_view field) {
    limits lim;
    mutate(lim);
    auto err = validate(lim);
    CAF_REQUIRE(err);
    CAF_CHECK_EQUAL(err.category(), sandbox_errc_category);
    CAF_CHECK_EQUAL(err.code(), code(sandbox_errc::invalid_argument));
    CAF_CHECK(contains(caflens::error_context(err), field));
  };
  check_bad([](limits& x) { x.max_instructions = 0; }, "max_instructions");
  check_bad([](limits& x) { x.max_memory_bytes = 1024; }, "max_memory_bytes");
  check_bad([](limits& x) { x.max_wall_time = std::chrono::milliseconds{0}; },
            "max_wall_time");
  check_bad([](limits& x) { x.max_call_depth = 1; }, "max_call_depth");
  check_bad([](limits& x) { x.max_code_bytes = 0; }, "max_code_bytes");
  check_bad([](limits& x) { x.max_result_bytes = 1; }, "max_result_bytes");
  check_bad([](limits& x) { x.max_json_depth = 0; }, "max_json_depth");
  check_bad([](limits& x) { x.check_interval = 0; }, "check_interval");
}

CAF_TEST(error codes render by name) {
  CAF_CHECK_EQUAL(to_string(sandbox_errc::memory_limit_exceeded),
                  "memory_limit_exceeded");
  CAF_CHECK_EQUAL(to_string(sandbox_errc::wall_time_limit_exceeded),
                  "wall_time_limit_exceeded");
  auto err = make_error(sandbox_errc::instruction_limit_exceeded, "lua: x");
  CAF_CHECK_EQUAL(caflens::render_error(err),
                  "sandbox: instruction_limit_exceeded: lua: x");
}

CAF_TEST(limits apply per call) {
  auto lim = small_limits();
  lim.max_instructions = 5000;
  lim.check_interval = 100;
  auto res = run("local n = 0 for i = 1, 100 do n = n + i end return n", lim);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, nlohmann::json(5050));
  res = run("local n = 0 for i = 1, 10000 do n = n + i end return n", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  // A fresh state each time: globals do not leak between calls.
  sandbox box{small_limits()};
  auto first = box.execute("leak = 42 return leak");
  CAF_REQUIRE(first);
  auto second = box.execute("return leak");
  CAF_REQUIRE(second);
  CAF_CHECK(second->value.is_null());
}
