#define CAF_SUITE dashboard.lua_literal
// What a browser sends reaches Lua only inside a string literal: for every
// byte string (quotes, backslashes, brackets, newlines, NUL, bytes above
// 127, random ones), the sandbox reads back exactly those bytes and runs
// nothing else.

#include <random>
#include <string>
#include <vector>

#include "caf/test/unit_test.hpp"

#include "caflens/sandbox/sandbox.hpp"
#include "caflens/telemetry/error.hpp"

#include "lua_literal.hpp"

using namespace caflens;
using caflens::dashboard::detail::lua_actor;
using caflens::dashboard::detail::lua_quote;

namespace {

/// The bytes of the literal as Lua sees them, or the error.
std::string read_back(const sandbox::sandbox& box, const std::string& s) {
  auto r = box.execute("local s = " + lua_quote(s)
                       + "\nlocal t = {}\nfor i = 1, #s do t[i] = "
                         "s:byte(i) end\nreturn #s, t");
  if (!r)
    return "error: " + render_error(r.error());
  std::string out;
  auto& v = r->value;
  if (!v.is_array() || v.size() != 2 || v[0] != s.size())
    return "bad shape: " + v.dump();
  if (s.empty())
    return out;
  for (auto& b : v[1])
    out += static_cast<char>(b.get<int>());
  return out;
}

} // namespace

CAF_TEST(every byte string reads back exactly) {
  sandbox::sandbox box{{}, "test"};
  std::vector<std::string> hostile{
    "",
    "worker-1",
    "x\") os.exit(1) --",
    "]] .. error('boom') .. [[",
    "\\",
    "\\0451",
    "a\nb\rc\td",
    std::string{"nul\0byte", 8},
    "\xff\xfe\x80 not utf-8",
    "' \" ` $ { } ( ) ; --[[",
    "caf\xc3\xa9",
  };
  for (auto& s : hostile)
    CAF_CHECK_EQUAL(read_back(box, s), s);
  std::mt19937 rng{20261201};
  for (int i = 0; i < 300; ++i) {
    std::string s(rng() % 64, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng() % 256);
    CAF_CHECK_EQUAL(read_back(box, s), s);
  }
}

CAF_TEST(actor references are ids or literals) {
  CAF_CHECK_EQUAL(lua_actor("42"), "42");
  CAF_CHECK_EQUAL(lua_actor("worker-1"), "\"worker\\0451\"");
  // Too long for an id: a name.
  // (CAF_CHECK, not CAF_CHECK_EQUAL: front() refers into a temporary.)
  CAF_CHECK(lua_actor("12345678901234567890").front() == '"');
  CAF_CHECK(lua_actor("") == "\"\"");
}
