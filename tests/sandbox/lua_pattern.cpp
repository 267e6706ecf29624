// The bounded pattern matcher against stock Lua 5.4: the same probes run in
// the sandbox and in a plain lua_State must print the same results and
// errors.
#define CAF_SUITE sandbox.lua_pattern
#include "caf/test/unit_test.hpp"

#include <lua.hpp>

#include "test_helpers.hpp"

using namespace caflens::sandbox;
using namespace caflens::sandbox::test;

namespace {

// `x` as a Lua string literal (every byte escaped).
std::string lua_literal(std::string_view x) {
  std::string result = "\"";
  for (auto c : x) {
    result += '\\';
    result += std::to_string(static_cast<unsigned char>(c));
  }
  result += '"';
  return result;
}

constexpr std::string_view probe_code = R"(
local function ser(...)
  local t = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    t[#t + 1] = type(v) .. ':' .. tostring(v)
  end
  return table.concat(t, '|')
end
local function try(f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then return 'error:' .. tostring(r[2]) end
  return ser(table.unpack(r, 2, r.n))
end
local out = {}
out[#out + 1] = try(string.find, S, P)
out[#out + 1] = try(string.find, S, P, 2)
out[#out + 1] = try(string.find, S, P, -3, true)
out[#out + 1] = try(string.match, S, P)
out[#out + 1] = try(string.match, S, P, -3)
out[#out + 1] = try(function()
  local r = {}
  for a, b in string.gmatch(S, P) do r[#r + 1] = tostring(a) .. ',' .. tostring(b) end
  return table.concat(r, ';')
end)
out[#out + 1] = try(function()
  local r = {}
  for a in string.gmatch(S, P, 3) do r[#r + 1] = tostring(a) end
  return table.concat(r, ';')
end)
out[#out + 1] = try(string.gsub, S, P, '<%0>')
out[#out + 1] = try(string.gsub, S, P, '%1')
out[#out + 1] = try(string.gsub, S, P, '%%%2')
out[#out + 1] = try(string.gsub, S, P, function(a) return a and tostring(a):upper() end)
out[#out + 1] = try(string.gsub, S, P, {a = 'A', b = false, h = 7})
out[#out + 1] = try(string.gsub, S, P, 'x', 2)
out[#out + 1] = try(string.gsub, S, P, '%')
return table.concat(out, '\n')
)";

std::string reference(const std::string& code) {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  std::string result;
  if (luaL_loadbufferx(L, code.data(), code.size(), "=lua", "t") != LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK)
    result = std::string{"reference failed: "} + lua_tostring(L, -1);
  else {
    size_t len = 0;
    const char* str = lua_tolstring(L, -1, &len);
    result.assign(str, len);
  }
  lua_close(L);
  return result;
}

} // namespace

CAF_TEST(patterns match like stock Lua) {
  std::vector<std::string> subjects{
    "",
    "hello world",
    "aaa bbb (nested (parens)) xy",
    "abcabc",
    "  \t\n x1_y2 THE end. ",
    "a$b ]]-[ %",
    std::string{"a\0b\0", 4},
    "key = value; other=42",
  };
  std::vector<std::string> patterns{
    "a",
    "a*",
    "a+",
    "a-",
    "a?",
    ".",
    ".-",
    "^a",
    "a$",
    "^$",
    "",
    "%a+",
    "%d+",
    "%s*",
    "%w+%s*",
    "[abc]",
    "[^abc]",
    "[a-c]+",
    "[%a%d]+",
    "[%]]",
    "[]]",
    "[^]]",
    "[a-]",
    "[-a]",
    "(a)(b)",
    "()a()",
    "(a*(.)%w(%s*))",
    "%b()",
    "%bxy",
    "%f[%w]%w+",
    "%f[%W]",
    "(h)(e)(l)(l)(o)",
    "(.)%1",
    "(a)%2",
    "%",
    "[a",
    "(",
    ")",
    "%g+",
    "%x+",
    "%p",
    "%c",
    "%u%l",
    "[%w_]+",
    "a.-b",
    "a.*b",
    "(.-)%s",
    "^(%w+)",
    "%z",
    "$a",
    "a$b",
    "[^%s]+",
    "((a)(b))",
    "%1",
    "(()",
    "%bab",
    "[a-%%]",
    "%f[a]",
    "%f",
    "x*$",
    "(%w+)%s*=%s*(%w+)",
    "%S+",
    "[%z]",
    "%b",
    "[]",
    "[^]",
    "%A%D",
    "^(.-)$",
    "(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)",
    "%d?%d?",
    "[\0-\31]+",
    "%0",
    "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
    "a%",
    "[%",
    "%[",
    "[%a-z]",
    "[a-%a]",
    "%)",
    "^^",
    "$$",
    "%$$"};
  patterns.push_back(std::string{"\0", 1});
  patterns.push_back(std::string{"a\0", 2});
  size_t compared = 0;
  for (auto& s : subjects) {
    for (auto& p : patterns) {
      auto code = "local S, P = " + lua_literal(s) + ", " + lua_literal(p) +
                  "\n" + std::string{probe_code};
      auto expected = reference(code);
      auto res = run(code);
      if (!res) {
        CAF_FAIL("sandbox failed for pattern " << lua_literal(p) << ": "
                                               << message_of(res));
      }
      auto got = res->value.get<std::string>();
      if (got != expected) {
        CAF_MESSAGE("subject " << lua_literal(s) << " pattern "
                               << lua_literal(p));
        CAF_CHECK_EQUAL(got, expected);
      }
      ++compared;
    }
  }
  CAF_CHECK_EQUAL(compared, subjects.size() * patterns.size());
}

CAF_TEST(gmatch iterators outlive their call) {
  auto res = run(R"lua(
    local it = ("k1=v1, k2=v2"):gmatch("(%w+)=(%w+)")
    local a, b = it()
    local c, d = it()
    local e = it()
    return {a, b, c, d, e == nil})lua");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value,
                  nlohmann::json::parse(R"(["k1", "v1", "k2", "v2", true])"));
}
