// Hostile scripts: each must stop with the right error, within its limit,
// and leave the host able to run the next script.
#define CAF_SUITE sandbox.hostile
#include "caf/test/unit_test.hpp"

#include <chrono>

#include "test_helpers.hpp"

using namespace caflens::sandbox;
using namespace caflens::sandbox::test;
using namespace std::chrono_literals;

namespace {

// Generous bound for "the wall limit stopped it" (limit 200 ms).
constexpr auto generous = 5s;

limits wall_limits() {
  auto lim = small_limits();
  lim.max_wall_time = 200ms;
  lim.max_instructions = 1'000'000'000'000;
  return lim;
}

struct timed {
  caf::expected<execute_result> result{caf::none};
  std::chrono::steady_clock::duration took;
};

timed run_timed(std::string_view code, const limits& lim) {
  auto t0 = std::chrono::steady_clock::now();
  auto res = run(code, lim);
  return {std::move(res), std::chrono::steady_clock::now() - t0};
}

void check_host_unharmed() {
  auto res = run("return 6 * 7");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, nlohmann::json(42));
}

} // namespace

// -- instructions and time ---------------------------------------------------

CAF_TEST(infinite loop hits the instruction limit) {
  auto lim = small_limits();
  lim.max_instructions = 1000;
  auto res = run("local x = 0\nwhile true do x = x + 1 end", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  CAF_CHECK(contains(message_of(res), "max_instructions = 1000"));
  CAF_CHECK(contains(message_of(res), "line 2"));
  check_host_unharmed();
}

CAF_TEST(infinite loop hits the wall time limit) {
  auto res = run_timed("while true do end", wall_limits());
  CAF_CHECK_EQUAL(code_of(res.result),
                  code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(contains(message_of(res.result), "max_wall_time = 200 ms"));
  CAF_CHECK(res.took < generous);
}

CAF_TEST(pcall cannot swallow the instruction limit) {
  auto lim = small_limits();
  lim.max_instructions = 10'000;
  auto res = run(R"(
    local caught = 0
    while true do
      pcall(function() while true do end end)
      caught = caught + 1
    end)",
                 lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  // Even a script that returns after catching reports the limit.
  res = run(R"(
    local ok, err = pcall(function() while true do end end)
    return "survived: " .. tostring(err))",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
}

CAF_TEST(error handlers and close methods cannot outlive a limit) {
  auto lim = small_limits();
  lim.max_instructions = 10'000;
  auto res = run(R"(
    xpcall(function() while true do end end,
           function() while true do end end)
    while true do end)",
                 lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  res = run(R"(
    local ok = pcall(function()
      local guard <close> = setmetatable({}, {__close = function()
        while true do end
      end})
      while true do end
    end)
    return ok)",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
}

CAF_TEST(deep recursion is a stack overflow) {
  auto res = run("local function f(n) return 1 + f(n + 1) end\nreturn f(1)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::stack_overflow));
  CAF_CHECK(contains(message_of(res), "max_call_depth"));
  // Recursion through pcall runs into Lua's C stack limit, which the script
  // sees as an error; it may go on, but stays bounded.
  res = run("local function f() pcall(f) end f() return 'done'");
  CAF_CHECK(res || code_of(res) == code(sandbox_errc::stack_overflow));
  // Recursion through metamethods.
  res = run(R"(
    local t = setmetatable({}, {})
    getmetatable(t).__index = function(s, k) return s[k] end
    return t.x)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::stack_overflow));
  check_host_unharmed();
}

// -- memory
// ---------------------------------------------------------------------

CAF_TEST(string rep bombs hit the memory limit) {
  auto res = run("return #string.rep('x', 1 << 30)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  CAF_CHECK(contains(message_of(res), "max_memory_bytes = 8388608"));
  // Caught and ignored: the result still reports the limit.
  res = run("local ok = pcall(string.rep, 'x', 1 << 30) return ok");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  // Method syntax reaches the same bounded function.
  res = run("return #('ab'):rep(1 << 40, ',')");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  // Empty pieces cost nothing (the stock version loops 2^63 times).
  res = run("return #string.rep('', math.maxinteger), "
            "#string.rep('', math.maxinteger, '')");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, nlohmann::json::parse("[0, 0]"));
  check_host_unharmed();
}

CAF_TEST(growing strings and tables hit the memory limit) {
  auto lim = small_limits();
  lim.max_instructions = 1'000'000'000;
  auto res = run("local s = 'x' while true do s = s .. s end", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  res = run("local t = {} for i = 1, 1e12 do t[i] = i end", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  res = run(
    "local t = {} for i = 1, 1e12 do t[#t + 1] = tostring(i) .. 'x' end", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  res = run(R"(
    local t = {}
    while true do
      pcall(function() t[#t + 1] = string.rep('x', 100000) end)
    end)",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  res = run(R"(
    local parts = {}
    for i = 1, 64 do parts[i] = string.rep('x', 100000) end
    return #table.concat(parts, string.rep('y', 100000)))",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::memory_limit_exceeded));
  check_host_unharmed();
}

CAF_TEST(garbage alone does not trip the memory limit) {
  auto lim = small_limits();
  lim.max_instructions = 100'000'000;
  auto res = run(R"(
    local n = 0
    for i = 1, 2000 do
      local s = string.rep('x', 50000) .. i
      n = n + #s
    end
    return n)",
                 lim);
  CAF_REQUIRE(res);
  CAF_CHECK(res->value.get<int64_t>() > 100'000'000);
  CAF_CHECK(res->peak_memory_bytes <= lim.max_memory_bytes);
}

// -- C functions the hook cannot interrupt
// ----------------------------------------

CAF_TEST(catastrophic patterns stop at the wall time limit) {
  auto lim = wall_limits();
  lim.max_instructions = 1000; // the hook alone never fires inside C
  for (auto code_text : {
         "return string.find(string.rep('a', 800), '.-.-.-b')",
         "return string.match(string.rep('a', 800), '.-.-.-b')",
         "return string.gsub(string.rep('a', 800), '.-.-.-b', 'x')",
         "for x in string.gmatch(string.rep('a', 800), '.-.-.-b') do end",
         // Quadratic per start position: 50 000 of them take seconds.
         "return ('a'):rep(50000):find('(.-)*(.-)*(.-)*(.-)*b')",
         "return string.find(string.rep('a', 3000), string.rep('a*', 20) .. "
         "'b')",
       }) {
    CAF_MESSAGE("script: " << code_text);
    auto res = run_timed(code_text, lim);
    CAF_CHECK_EQUAL(code_of(res.result),
                    code(sandbox_errc::wall_time_limit_exceeded));
    CAF_CHECK(contains(message_of(res.result), "max_wall_time = 200 ms"));
    CAF_CHECK(contains(message_of(res.result), "in string."));
    CAF_CHECK(res.took < generous);
  }
  // Swallowing it with pcall does not help.
  auto res = run_timed("while true do pcall(string.find, "
                       "string.rep('a', 800), '.-.-.-b') end",
                       lim);
  CAF_CHECK_EQUAL(code_of(res.result),
                  code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(res.took < generous);
  check_host_unharmed();
}

CAF_TEST(long plain searches stop at the wall time limit) {
  auto lim = wall_limits();
  lim.max_memory_bytes = 64 * 1024 * 1024;
  auto res = run_timed(R"(
    local hay = string.rep('a', 4000000)
    local needle = string.rep('a', 2000000) .. 'b'
    while true do string.find(hay, needle, 1, true) end)",
                       lim);
  CAF_CHECK_EQUAL(code_of(res.result),
                  code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(res.took < generous);
}

CAF_TEST(table move and sort count as Lua instructions) {
  auto lim = small_limits();
  auto res = run("table.move({}, 1, 1 << 40, 1, {})", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  res = run(R"(
    local t = {}
    for i = 1, 100000 do t[i] = (i * 7919) % 100003 end
    table.sort(t))",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  res = run("table.sort({3, 2, 1}, function(a, b) while true do end end)", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  res = run("return string.gsub('aaa', 'a', function() while true do end end)",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
}

CAF_TEST(repeated expensive library calls stop at the wall time limit) {
  auto lim = wall_limits();
  lim.max_memory_bytes = 64 * 1024 * 1024;
  // Each call is long and allocates nothing; the library guard checks the
  // clock on every call.
  auto res = run_timed(R"(
    local t = {}
    for i = 1, 200000 do t[i] = i end
    while true do table.insert(t, 1, 0); table.remove(t, 1) end)",
                       lim);
  CAF_CHECK_EQUAL(code_of(res.result),
                  code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(res.took < generous);
  res = run_timed(R"(
    local s = string.rep('x', 10000000)
    while true do local _ = s:upper() end)",
                  lim);
  CAF_CHECK_EQUAL(code_of(res.result),
                  code(sandbox_errc::wall_time_limit_exceeded));
  CAF_CHECK(res.took < generous);
}

// -- metatables, finalizers and escapes
// ------------------------------------------

CAF_TEST(gc metamethods are refused) {
  auto res = run("setmetatable({}, {__gc = function() while true do end end})");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "__gc"));
  res = run("setmetatable({}, {__gc = true})");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  // Added after setmetatable, __gc is never called (Lua 5.4 semantics).
  res = run(R"(
    local mt = {}
    local t = setmetatable({}, mt)
    mt.__gc = function() while true do end end
    t = nil
    return 1)");
  CAF_REQUIRE(res);
  // Strings have no finalizers, even with a __gc in their metatable.
  res = run("getmetatable('').__gc = function() while true do end end "
            "local s = ('x'):rep(10) .. 'y' s = nil return 1");
  CAF_REQUIRE(res);
  check_host_unharmed();
}

CAF_TEST(metatable tricks stay inside the limits) {
  auto lim = small_limits();
  lim.max_instructions = 100'000;
  auto res = run("getmetatable('').__index = function() while true do end end "
                 "return ('x'):anything()",
                 lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  res = run("print(setmetatable({}, {__tostring = function() "
            "while true do end end}))",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::instruction_limit_exceeded));
  // An error object whose __tostring loops: the host never calls it.
  res = run("error(setmetatable({}, {__tostring = function() "
            "while true do end end}))",
            lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "error object is a table value"));
  // table.concat through a C function as __index: guarded.
  res = run("return #table.concat(setmetatable({}, {__index = tostring}), "
            "'', 1, 1 << 40)",
            lim);
  CAF_CHECK(code_of(res) == code(sandbox_errc::memory_limit_exceeded) ||
            code_of(res) == code(sandbox_errc::runtime_error));
  // The array mark is protected.
  res = run("setmetatable(json.array(), {})", lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "protected metatable"));
  check_host_unharmed();
}

CAF_TEST(forbidden libraries are unreachable by name) {
  auto res = run(R"(
    local found = {}
    local function check(name, v)
      if v ~= nil then found[#found + 1] = name end
    end
    check('io', io) check('os', os) check('package', package)
    check('debug', debug) check('coroutine', coroutine)
    check('load', load) check('loadfile', loadfile) check('dofile', dofile)
    check('require', require) check('loadstring', loadstring)
    check('warn', warn) check('string.dump', string.dump)
    check('string.pack', string.pack) check('string.unpack', string.unpack)
    check('mt.dump', getmetatable('').__index.dump)
    check('_G.io', _G._G.io) check('_ENV.os', _ENV.os)
    check('rawget', rawget(_G, 'debug')) check('module', module)
    check('newproxy', newproxy) check('setfenv', setfenv)
    return json.array(found))");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->value, nlohmann::json::array());
  for (auto option :
       {"collect", "stop", "step", "incremental", "generational", "setpause"}) {
    auto x = run(std::string{"return collectgarbage('"} + option + "')");
    CAF_CHECK_EQUAL(code_of(x), code(sandbox_errc::runtime_error));
  }
  auto x = run("return collectgarbage('count') > 0");
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->value, nlohmann::json(true));
}

CAF_TEST(no forbidden function is reachable through any table) {
  // Walks everything reachable from _G, the string metatable and the
  // metatables on the way, and lists every function's path.
  auto res = run(R"(
    local seen, paths = {}, {}
    local function walk(v, path, depth)
      if depth > 6 then return end
      local t = type(v)
      if t == 'function' then paths[#paths + 1] = path return end
      if t ~= 'table' or seen[v] then return end
      seen[v] = true
      for k, x in pairs(v) do walk(x, path .. '.' .. tostring(k), depth + 1) end
      local mt = getmetatable(v)
      if mt ~= nil then walk(mt, path .. '.<mt>', depth + 1) end
    end
    walk(_G, '_G', 0)
    walk(getmetatable(''), '<string mt>', 0)
    walk(getmetatable(json.array()), '<array mt>', 0)
    table.sort(paths)
    return paths)");
  CAF_REQUIRE(res);
  auto forbidden = {"load",       "loadfile",   "dofile",      "require",
                    "dump",       "open",       "popen",       "execute",
                    "exit",       "getenv",     "remove",      "rename",
                    "tmpname",    "setlocale",  "sethook",     "getregistry",
                    "getupvalue", "setupvalue", "upvaluejoin", "getlocal",
                    "setlocal",   "getinfo",    "create",      "resume",
                    "wrap",       "yield",      "pack",        "unpack",
                    "warn",       "lines",      "input",       "output"};
  CAF_CHECK(res->value.size() > 50);
  for (auto& path : res->value) {
    auto p = path.get<std::string>();
    auto leaf = p.substr(p.rfind('.') + 1);
    for (auto name : forbidden) {
      // table.pack, table.unpack and table.remove are harmless and stay.
      if (leaf == name && p != "_G.table.pack" && p != "_G.table.unpack" &&
          p != "_G.table.remove")
        CAF_FAIL("forbidden function reachable: " << p);
    }
  }
}

CAF_TEST(binary chunks are refused) {
  auto res = run(std::string{"\x1bLua\x54\x00"} + "garbage");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::syntax_error));
  CAF_CHECK(contains(message_of(res), "binary"));
}

CAF_TEST(coroutines do not exist) {
  auto res = run("return coroutine.wrap(function() end)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::runtime_error));
  CAF_CHECK(contains(message_of(res), "coroutine"));
}

// -- results
// ------------------------------------------------------------------------

CAF_TEST(huge return values are refused) {
  auto res = run("local t = {} for i = 1, 120000 do t[i] = 'abcdefgh' end "
                 "return t");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::result_too_large));
  CAF_CHECK(contains(message_of(res), "max_result_bytes"));
  res = run("return string.rep('x', 2000000)");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::result_too_large));
  // A DAG that doubles at every level: 2^30 leaves, found out early.
  res = run("local t = {} for i = 1, 30 do t = {t, t} end return t");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::result_too_large));
  res = run("return table.unpack((function() local t = {} "
            "for i = 1, 200000 do t[i] = 'abcdefgh' end return t end)())");
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::result_too_large));
  check_host_unharmed();
}

CAF_TEST(print output is bounded) {
  auto res = run("for i = 1, 1000 do print(string.rep('x', 1000)) end "
                 "return 1");
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->output.size(), small_limits().max_output_bytes);
  CAF_CHECK(res->output_truncated);
}

CAF_TEST(syntax bombs fail cleanly) {
  auto res = run(std::string(100000, '(') + "1" + std::string(100000, ')'));
  CAF_CHECK(code_of(res) == code(sandbox_errc::syntax_error) ||
            code_of(res) == code(sandbox_errc::invalid_argument));
  auto lim = small_limits();
  lim.max_code_bytes = 100;
  res = run(std::string(200, ' '), lim);
  CAF_CHECK_EQUAL(code_of(res), code(sandbox_errc::invalid_argument));
  CAF_CHECK(contains(message_of(res), "max_code_bytes"));
  check_host_unharmed();
}
