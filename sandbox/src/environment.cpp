// Every function here may raise Lua errors and therefore keeps only trivially
// destructible locals (see exec_context.hpp).
#include "environment.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "exec_context.hpp"
#include "json_bridge.hpp"
#include "lua_pattern.hpp"

namespace caflens::sandbox::detail {

namespace {

char callback_error_tag;

// -- library guard ------------------------------------------------------------

// Wraps a library function (upvalue 1, as light userdata): checks the limits
// on entry, then runs it in this frame. Only functions without upvalues of
// their own are wrapped.
int guarded(lua_State* L) {
  enter_library(L);
  auto fn =
    reinterpret_cast<lua_CFunction>(lua_touserdata(L, lua_upvalueindex(1)));
  return fn(L);
}

// Replaces every C function without upvalues in the table at `idx` by a
// guarded closure.
void guard_table(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_CFunction fn = lua_tocfunction(L, -1);
    if (fn != nullptr && lua_getupvalue(L, -1, 1) == nullptr) {
      lua_pushvalue(L, -2); // key
      lua_pushlightuserdata(L, reinterpret_cast<void*>(fn));
      lua_pushcclosure(L, guarded, 1);
      lua_rawset(L, idx); // changing existing fields is fine during next
    } else if (fn != nullptr) {
      lua_pop(L, 1); // the upvalue lua_getupvalue pushed
    }
    lua_pop(L, 1);
  }
}

void remove_field(lua_State* L, int idx, const char* name) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  lua_setfield(L, idx, name);
}

// -- base library replacements -----------------------------------------------

void append_output(exec_context* ctx, const char* data, size_t len) noexcept {
  try {
    auto room = ctx->lim->max_output_bytes > ctx->output.size()
                  ? ctx->lim->max_output_bytes - ctx->output.size()
                  : 0;
    if (len > room) {
      ctx->output_truncated = true;
      len = room;
    }
    ctx->output.append(data, len);
  } catch (...) {
    ctx->output_truncated = true;
  }
}

// print: writes to the result's `output` instead of stdout.
int sandbox_print(lua_State* L) {
  enter_library(L, "print");
  auto* ctx = context_of(L);
  int n = lua_gettop(L);
  for (int i = 1; i <= n; ++i) {
    size_t len = 0;
    const char* str = luaL_tolstring(L, i, &len);
    if (i > 1)
      append_output(ctx, "\t", 1);
    append_output(ctx, str, len);
    lua_pop(L, 1);
  }
  append_output(ctx, "\n", 1);
  return 0;
}

// collectgarbage: only "count" (KiB in use); everything else could stop the
// collector or cost unbounded time.
int sandbox_collectgarbage(lua_State* L) {
  enter_library(L, "collectgarbage");
  const char* option = luaL_optstring(L, 1, "collect");
  if (std::strcmp(option, "count") != 0)
    return luaL_error(L,
                      "collectgarbage('%s') is not available in the sandbox; "
                      "only collectgarbage('count') is",
                      option);
  int kib = lua_gc(L, LUA_GCCOUNT, 0);
  int bytes = lua_gc(L, LUA_GCCOUNTB, 0);
  lua_pushnumber(L, static_cast<lua_Number>(kib) +
                      static_cast<lua_Number>(bytes) / 1024);
  return 1;
}

// setmetatable without __gc: finalizers run with hooks disabled, so no limit
// could stop one.
int sandbox_setmetatable(lua_State* L) {
  enter_library(L, "setmetatable");
  int type = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2,
                   "nil or table");
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "setmetatable: __gc metamethods are not "
                           "available in the sandbox");
    lua_pop(L, 1);
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// -- string library replacements ---------------------------------------------

// string.rep that refuses results the memory limit cannot hold before
// allocating them, and returns "" at once for empty pieces (the stock
// version loops n times even then).
int sandbox_rep(lua_State* L) {
  enter_library(L, "string.rep");
  size_t len = 0;
  size_t sep_len = 0;
  const char* str = luaL_checklstring(L, 1, &len);
  lua_Integer n = luaL_checkinteger(L, 2);
  const char* sep = luaL_optlstring(L, 3, "", &sep_len);
  if (n <= 0 || len + sep_len == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  auto* ctx = context_of(L);
  auto count = static_cast<unsigned long long>(n);
  auto piece = static_cast<unsigned long long>(len + sep_len);
  auto budget = static_cast<unsigned long long>(ctx->lim->max_memory_bytes);
  if (piece > budget / count) {
    trip(ctx, limit_kind::memory, "string.rep");
    return luaL_error(L,
                      "string.rep: a result of %I pieces of %I bytes exceeds "
                      "the memory limit (max_memory_bytes = %I)",
                      static_cast<lua_Integer>(n),
                      static_cast<lua_Integer>(piece),
                      static_cast<lua_Integer>(budget));
  }
  size_t unit = len + sep_len;
  size_t total = static_cast<size_t>(count - 1) * unit + len;
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, total);
  // n - 1 copies of str .. sep, by doubling what is written; then str.
  size_t units = static_cast<size_t>(count - 1);
  if (units > 0) {
    std::memcpy(out, str, len);
    std::memcpy(out + len, sep, sep_len);
    for (size_t done = 1; done < units;) {
      size_t more = std::min(done, units - done);
      std::memcpy(out + done * unit, out, more * unit);
      done += more;
    }
  }
  std::memcpy(out + units * unit, str, len);
  luaL_pushresultsize(&b, total);
  return 1;
}

// -- json table ---------------------------------------------------------------

// json.array([t]): marks `t` (or a new table) as a JSON array, so that it
// converts to [] when empty.
int json_array(lua_State* L) {
  enter_library(L, "json.array");
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, array_mark_key());
  if (lua_getmetatable(L, 1) != 0) {
    if (lua_rawequal(L, -1, -2) == 0)
      return luaL_error(L, "json.array: the table has a metatable already");
    lua_settop(L, 1);
    return 1;
  }
  lua_setmetatable(L, 1);
  return 1;
}

// -- Lua-side library functions
// ------------------------------------------------

// table.sort and table.move written in Lua, so that the instruction and
// wall-time limits apply to them (the stock versions are C loops the hook
// cannot interrupt; `table.move(a, 1, math.maxinteger, 2)` never ends).
constexpr char lua_prelude[] = R"lua(
local error, type, tointeger, maxinteger = ...

local function less(a, b) return a < b end

local function sort(t, lt)
  if type(t) ~= "table" then
    error("bad argument #1 to 'sort' (table expected, got " .. type(t) .. ")", 2)
  end
  if lt ~= nil and type(lt) ~= "function" then
    error("bad argument #2 to 'sort' (function expected, got " .. type(lt) .. ")", 2)
  end
  lt = lt or less
  local n = #t
  if n < 2 then return end
  local a, b = {}, {}
  for i = 1, n do a[i] = t[i] end
  -- insertion sort on runs of 8, then bottom-up merges: stable, n log n
  local run = 8
  for lo = 1, n, run do
    local hi = lo + run - 1
    if hi > n then hi = n end
    for i = lo + 1, hi do
      local v, j = a[i], i - 1
      while j >= lo and lt(v, a[j]) do
        a[j + 1] = a[j]
        j = j - 1
      end
      a[j + 1] = v
    end
  end
  local width = run
  while width < n do
    for lo = 1, n, 2 * width do
      local mid = lo + width - 1
      if mid >= n then
        for i = lo, n do b[i] = a[i] end
      else
        local hi = mid + width
        if hi > n then hi = n end
        local i, j, k = lo, mid + 1, lo
        while i <= mid and j <= hi do
          if lt(a[j], a[i]) then
            b[k] = a[j]
            j = j + 1
          else
            b[k] = a[i]
            i = i + 1
          end
          k = k + 1
        end
        for x = i, mid do b[k] = a[x]; k = k + 1 end
        for x = j, hi do b[k] = a[x]; k = k + 1 end
      end
    end
    a, b = b, a
    width = width * 2
  end
  for i = 1, n do t[i] = a[i] end
end

local function integer(x, arg)
  local v = tointeger(x)
  if v == nil then
    error("bad argument #" .. arg .. " to 'move' (number has no integer representation)", 3)
  end
  return v
end

local function move(a1, f, e, t, a2)
  if a2 == nil then a2 = a1 end
  if type(a1) ~= "table" then
    error("bad argument #1 to 'move' (table expected, got " .. type(a1) .. ")", 2)
  end
  if type(a2) ~= "table" then
    error("bad argument #5 to 'move' (table expected, got " .. type(a2) .. ")", 2)
  end
  f, e, t = integer(f, 2), integer(e, 3), integer(t, 4)
  if e >= f then
    if not (f > 0 or e < maxinteger + f) then
      error("bad argument #3 to 'move' (too many elements to move)", 2)
    end
    if t > maxinteger - (e - f) then
      error("bad argument #4 to 'move' (destination wrap around)", 2)
    end
    if t > e or t <= f or a1 ~= a2 then
      for i = 0, e - f do a2[t + i] = a1[f + i] end
    else
      for i = e - f, 0, -1 do a2[t + i] = a1[f + i] end
    end
  end
  return a2
end

return sort, move
)lua";

int append_chunk(lua_State*, const void* data, size_t size, void* ud) {
  try {
    static_cast<std::string*>(ud)->append(static_cast<const char*>(data), size);
    return 0;
  } catch (...) {
    return 1;
  }
}

// The prelude compiled once per process (parsing it costs more than the
// rest of a sandbox's set-up); empty if that fails.
const std::string& prelude_bytecode() {
  static const auto& instance = *new std::string([] {
    std::string result;
    lua_State* L = luaL_newstate();
    if (L == nullptr)
      return result;
    if (luaL_loadbufferx(L, lua_prelude, sizeof(lua_prelude) - 1, "=sandbox",
                         "t") != LUA_OK ||
        lua_dump(L, append_chunk, &result, 0) != 0)
      result.clear();
    lua_close(L);
    return result;
  }());
  return instance;
}

// Loads the prelude: our own bytecode when available (trusted, made above),
// else the source.
int load_prelude(lua_State* L) {
  const auto& bytecode = prelude_bytecode();
  if (!bytecode.empty())
    return luaL_loadbufferx(L, bytecode.data(), bytecode.size(), "=sandbox",
                            "b");
  return luaL_loadbufferx(L, lua_prelude, sizeof(lua_prelude) - 1, "=sandbox",
                          "t");
}

void open_library(lua_State* L, const char* name, lua_CFunction open) {
  luaL_requiref(L, name, open, 1);
  lua_pop(L, 1);
}

} // namespace

void prepare_environment() {
  prelude_bytecode();
}

const void* callback_error_key() noexcept {
  return &callback_error_tag;
}

int setup_environment(lua_State* L) {
  auto* ctx = context_of(L);
  open_library(L, LUA_GNAME, luaopen_base);
  open_library(L, LUA_STRLIBNAME, luaopen_string);
  open_library(L, LUA_TABLIBNAME, luaopen_table);
  open_library(L, LUA_MATHLIBNAME, luaopen_math);
  open_library(L, LUA_UTF8LIBNAME, luaopen_utf8);
  // The registry's _LOADED table lists the libraries; scripts cannot reach
  // the registry, but drop the entries anyway.
  lua_pushglobaltable(L);
  int globals = lua_gettop(L);
  for (const char* name : {"dofile", "loadfile", "load", "require", "warn"})
    remove_field(L, globals, name);
  lua_getglobal(L, LUA_STRLIBNAME);
  int strings = lua_gettop(L);
  for (const char* name : {"dump", "pack", "unpack", "packsize"})
    remove_field(L, strings, name);
  // Every remaining library function checks the limits on entry.
  guard_table(L, globals);
  guard_table(L, strings);
  for (const char* name : {LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME}) {
    lua_getglobal(L, name);
    guard_table(L, -1);
    lua_pop(L, 1);
  }
  // Replacements, which check the limits themselves.
  lua_pushcfunction(L, sandbox_print);
  lua_setfield(L, globals, "print");
  lua_pushcfunction(L, sandbox_collectgarbage);
  lua_setfield(L, globals, "collectgarbage");
  lua_pushcfunction(L, sandbox_setmetatable);
  lua_setfield(L, globals, "setmetatable");
  lua_pushvalue(L, strings);
  register_pattern_functions(L);
  lua_pop(L, 1);
  lua_pushcfunction(L, sandbox_rep);
  lua_setfield(L, strings, "rep");
  // table.sort and table.move in Lua.
  if (load_prelude(L) != LUA_OK)
    return lua_error(L);
  lua_getfield(L, globals, "error");
  lua_getfield(L, globals, "type");
  lua_getglobal(L, LUA_MATHLIBNAME);
  lua_getfield(L, -1, "tointeger");
  lua_remove(L, -2);
  lua_pushinteger(L, LUA_MAXINTEGER);
  lua_call(L, 4, 2);
  lua_getglobal(L, LUA_TABLIBNAME);
  lua_insert(L, -3);
  lua_setfield(L, -3, "move");
  lua_setfield(L, -2, "sort");
  lua_pop(L, 1);
  // JSON null and the array mark.
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "json.array");
  lua_setfield(L, -2, "__metatable");
  lua_pushliteral(L, "json.array");
  lua_setfield(L, -2, "__name");
  lua_rawsetp(L, LUA_REGISTRYINDEX, array_mark_key());
  lua_createtable(L, 0, 2);
  lua_pushlightuserdata(L, null_sentinel());
  lua_setfield(L, -2, "null");
  lua_pushcfunction(L, json_array);
  lua_setfield(L, -2, "array");
  lua_setfield(L, globals, "json");
  lua_pushlightuserdata(L, null_sentinel());
  lua_setfield(L, globals, "null");
  // Callbacks: the base ones first, so later (user) ones replace them.
  size_t n = ctx->callbacks.size();
  for (size_t i = 0; i < n; ++i) {
    const char* name = ctx->callbacks[i]->name.c_str();
    lua_getfield(L, globals, name);
    bool taken =
      lua_tocfunction(L, -1) != call_callback && lua_type(L, -1) != LUA_TNIL;
    lua_pop(L, 1);
    if (taken)
      return luaL_error(L,
                        "callback name '%s' is taken by the sandbox's "
                        "libraries",
                        name);
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_pushcclosure(L, call_callback, 1);
    lua_setfield(L, globals, name);
  }
  lua_settop(L, 0);
  return 0;
}

} // namespace caflens::sandbox::detail
