#include "caflens/sandbox/sandbox.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <thread>

#include <unistd.h>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/error.hpp"

#include "environment.hpp"
#include "exec_context.hpp"
#include "json_bridge.hpp"

namespace caflens::sandbox {

using detail::clock;
using detail::exec_context;
using detail::limit_kind;

// -- callback -----------------------------------------------------------------

std::string callback::signature() const {
  std::string result = name;
  result += '(';
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += params[i].name;
  }
  result += ')';
  return result;
}

std::string_view to_string(param_type x) noexcept {
  switch (x) {
    case param_type::any:
      return "any";
    case param_type::integer:
      return "integer";
    case param_type::number:
      return "number";
    case param_type::string:
      return "string";
    case param_type::boolean:
      return "boolean";
  }
  return "any";
}

param param::integer(std::string name, int64_t dflt, int64_t min,
                     int64_t max) {
  param p{std::move(name)};
  p.type = param_type::integer;
  p.min = static_cast<double>(min);
  p.max = static_cast<double>(max);
  p.default_value = dflt;
  return p;
}

param param::number(std::string name, double dflt, double min, double max) {
  param p{std::move(name)};
  p.type = param_type::number;
  p.min = min;
  p.max = max;
  p.default_value = dflt;
  return p;
}

param param::string(std::string name, std::string dflt,
                    std::vector<std::string> choices) {
  param p{std::move(name)};
  p.type = param_type::string;
  p.default_value = std::move(dflt);
  p.one_of = std::move(choices);
  return p;
}

param param::needed(std::string name, param_type type) {
  param p{std::move(name)};
  p.type = type;
  p.required = true;
  return p;
}

namespace {

std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", x);
  return buf;
}

} // namespace

std::string param::describe() const {
  std::string out = name + ": " + std::string{to_string(type)};
  if (min || max)
    out += " " + (min ? number_text(*min) : std::string{}) + ".."
           + (max ? number_text(*max) : std::string{});
  if (!one_of.empty()) {
    out += " (";
    for (size_t i = 0; i < one_of.size(); ++i)
      out += (i > 0 ? "|" : "") + one_of[i];
    out += ")";
  }
  if (required)
    out += ", required";
  else if (!default_value.is_null())
    out += " = " + default_value.dump();
  return out;
}

std::optional<nlohmann::json> param::check(const nlohmann::json& x,
                                           std::string& error) const {
  if (x.is_null()) {
    if (required) {
      error = "needs " + describe();
      return std::nullopt;
    }
    return default_value;
  }
  auto kind = [&] {
    return x.is_string()    ? "a string"
           : x.is_boolean() ? "a boolean"
           : x.is_number()  ? "a number"
           : x.is_array()   ? "a table (array)"
                            : "a table";
  };
  nlohmann::json out = x;
  switch (type) {
    case param_type::any:
      return out;
    case param_type::integer:
      if (x.is_number_float()) {
        auto d = x.get<double>();
        if (d != static_cast<double>(static_cast<int64_t>(d))) {
          error = "got " + number_text(d) + " for " + describe();
          return std::nullopt;
        }
        out = static_cast<int64_t>(d);
      } else if (!x.is_number()) {
        error = "got " + std::string{kind()} + " for " + describe();
        return std::nullopt;
      }
      break;
    case param_type::number:
      if (!x.is_number()) {
        error = "got " + std::string{kind()} + " for " + describe();
        return std::nullopt;
      }
      break;
    case param_type::string:
      if (!x.is_string()) {
        error = "got " + std::string{kind()} + " for " + describe();
        return std::nullopt;
      }
      if (!one_of.empty()
          && std::find(one_of.begin(), one_of.end(), x.get<std::string>())
               == one_of.end()) {
        error = "got \"" + x.get<std::string>() + "\" for " + describe();
        return std::nullopt;
      }
      return out;
    case param_type::boolean:
      if (!x.is_boolean()) {
        error = "got " + std::string{kind()} + " for " + describe();
        return std::nullopt;
      }
      return out;
  }
  auto d = out.get<double>();
  if ((min && d < *min) || (max && d > *max)) {
    error = "got " + number_text(d) + " for " + describe();
    return std::nullopt;
  }
  return out;
}

namespace {

// -- telemetry ----------------------------------------------------------------

struct sandbox_events {
  telemetry::event start;
  telemetry::event stop;
  telemetry::event exception;
  telemetry::event limit_exceeded;
  telemetry::event callback;
};

const sandbox_events& events() {
  static const auto& instance = *new sandbox_events([] {
    auto& bus = telemetry::bus::global();
    return sandbox_events{
      bus.intern({"caflens", "sandbox", "execute", "start"}),
      bus.intern({"caflens", "sandbox", "execute", "stop"}),
      bus.intern({"caflens", "sandbox", "execute", "exception"}),
      bus.intern({"caflens", "sandbox", "limit_exceeded"}),
      bus.intern({"caflens", "sandbox", "callback"}),
    };
  }());
  return instance;
}

uint64_t next_span_context() noexcept {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

double ns_since(clock::time_point t0) noexcept {
  return static_cast<double>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0)
      .count());
}

// -- validation
// -----------------------------------------------------------------

bool is_keyword(std::string_view x) {
  static constexpr std::string_view keywords[] = {
    "and",      "break",  "do",   "else", "elseif", "end",  "false", "for",
    "function", "goto",   "if",   "in",   "local",  "nil",  "not",   "or",
    "repeat",   "return", "then", "true", "until",  "while"};
  return std::find(std::begin(keywords), std::end(keywords), x) !=
         std::end(keywords);
}

bool is_identifier(std::string_view x) {
  if (x.empty() || std::isdigit(static_cast<unsigned char>(x[0])))
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

caf::error validate_callbacks(const std::vector<callback>& xs) {
  auto bad = [](std::string what) {
    return make_error(sandbox_errc::invalid_argument, std::move(what));
  };
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    if (!is_identifier(x.name) || is_keyword(x.name))
      return bad("callback name '" + x.name +
                 "' is no Lua identifier or is a keyword");
    if (x.params.size() > 2)
      return bad("callback '" + x.name + "' declares " +
                 std::to_string(x.params.size()) +
                 " parameters; at most 2 are supported");
    if (!x.fn)
      return bad("callback '" + x.name + "' has no function");
    for (auto& p : x.params) {
      std::string why;
      if (!p.default_value.is_null() && !p.check(p.default_value, why))
        return bad("callback '" + x.name + "': the default of parameter '"
                   + p.name + "' does not fit its declaration: " + why);
    }
    if (x.declared_duration.count() < 0)
      return bad("callback '" + x.name + "' declares a negative duration");
    for (size_t j = 0; j < i; ++j)
      if (xs[j].name == x.name)
        return bad("callback '" + x.name + "' is given twice");
  }
  return caf::none;
}

// -- base callbacks
// -------------------------------------------------------------

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0)
    return "localhost";
  return buf;
}

std::vector<callback> make_base_callbacks(const std::string& node,
                                          const limits& lim) {
  std::vector<callback> result;
  result.push_back(callback{
    "get_current_time",
    {},
    "current time: {unix_ms, iso8601, monotonic_ms}",
    [](const std::vector<nlohmann::json>&) -> caf::expected<nlohmann::json> {
      auto now = std::chrono::system_clock::now();
      auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       now.time_since_epoch())
                       .count();
      auto secs = static_cast<std::time_t>(unix_ms / 1000);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[64];
      auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
      std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ",
                    static_cast<int>(unix_ms % 1000));
      auto mono = std::chrono::duration_cast<std::chrono::milliseconds>(
                    clock::now().time_since_epoch())
                    .count();
      return nlohmann::json{
        {"unix_ms", unix_ms}, {"iso8601", buf}, {"monotonic_ms", mono}};
    },
  });
  result.push_back(callback{
    "get_node_info",
    {},
    "this node: {node, hostname, pid, cpus, lua, limits}",
    [node,
     lim](const std::vector<nlohmann::json>&) -> caf::expected<nlohmann::json> {
      return nlohmann::json{
        {"node", node},
        {"hostname", host_name()},
        {"pid", static_cast<int64_t>(getpid())},
        {"cpus", std::thread::hardware_concurrency()},
        {"lua", LUA_RELEASE},
        {"limits", to_json(lim)},
      };
    },
  });
  return result;
}

// -- error messages
// -------------------------------------------------------------

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
        {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "lua:3: text" → "lua: line 3: <infix>text"; locations inside the
// sandbox's own Lua code are dropped; anything else → "lua: <infix>text".
std::string locate(std::string_view msg, std::string_view infix = {}) {
  auto with_line = [&](std::string_view prefix) -> std::optional<std::string> {
    if (msg.substr(0, prefix.size()) != prefix)
      return std::nullopt;
    auto rest = msg.substr(prefix.size());
    size_t digits = 0;
    while (digits < rest.size() &&
           std::isdigit(static_cast<unsigned char>(rest[digits])))
      ++digits;
    if (digits == 0 || digits >= rest.size() || rest[digits] != ':')
      return std::nullopt;
    auto text = rest.substr(digits + 1);
    if (!text.empty() && text[0] == ' ')
      text.remove_prefix(1);
    if (prefix == "lua:")
      return "lua: line " + std::string{rest.substr(0, digits)} + ": " +
             std::string{infix} + std::string{text};
    return "lua: " + std::string{infix} + std::string{text};
  };
  if (auto x = with_line("lua:"))
    return *x;
  if (auto x = with_line("sandbox:"))
    return *x;
  return "lua: " + std::string{infix} + std::string{msg};
}

std::string known_callbacks(const exec_context& ctx) {
  std::string result;
  for (auto* cb : ctx.callbacks) {
    if (!result.empty())
      result += ", ";
    // Skills' docs open with the call itself ("actors_top(n, by) — ...").
    if (cb->doc.rfind(cb->name + "(", 0) == 0) {
      result += cb->doc;
      continue;
    }
    result += cb->signature();
    if (!cb->doc.empty()) {
      result += " \u2014 ";
      result += cb->doc;
    }
  }
  return result;
}

// Rewrites "attempt to call a nil value (global 'x')" into a message that
// lists the known callbacks (and the closest name).
std::string explain_unknown_function(std::string msg, const exec_context& ctx) {
  static constexpr std::string_view needle =
    "attempt to call a nil value (global '";
  auto pos = msg.find(needle);
  if (pos == std::string::npos)
    return msg;
  auto name_start = pos + needle.size();
  auto name_end = msg.find("')", name_start);
  if (name_end == std::string::npos)
    return msg;
  auto name = msg.substr(name_start, name_end - name_start);
  std::string result = msg.substr(0, pos);
  result += "attempt to call nil '";
  result += name;
  result += "'";
  result += msg.substr(name_end + 2);
  const callback* closest = nullptr;
  size_t best = 3;
  for (auto* cb : ctx.callbacks) {
    auto d = edit_distance(name, cb->name);
    if (d < best) {
      best = d;
      closest = cb;
    }
  }
  if (closest != nullptr)
    result += "; did you mean '" + closest->name + "'?";
  result += "; known callbacks: ";
  result += known_callbacks(ctx);
  return result;
}

// The text of the error value on top of the stack (no metamethods run).
std::string error_text(lua_State* L) {
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* str = lua_tolstring(L, -1, &len);
      return detail::sanitize_utf8({str, len});
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, -1) != 0)
        return std::to_string(lua_tointeger(L, -1));
      return std::to_string(lua_tonumber(L, -1));
    case LUA_TNIL:
      return "error object is nil";
    default:
      return std::string{"error object is a "} +
             lua_typename(L, lua_type(L, -1)) + " value";
  }
}

std::string limit_message(const exec_context& ctx) {
  std::string result = "lua: ";
  if (ctx.trip_line > 0)
    result += "line " + std::to_string(ctx.trip_line) + ": ";
  auto& lim = *ctx.lim;
  switch (ctx.tripped) {
    case limit_kind::instructions:
      result += "instruction limit exceeded (max_instructions = " +
                std::to_string(lim.max_instructions) + ")";
      break;
    case limit_kind::memory:
      result += "memory limit exceeded (max_memory_bytes = " +
                std::to_string(lim.max_memory_bytes) + ")";
      break;
    case limit_kind::wall_time:
      result += "wall-time limit exceeded (max_wall_time = " +
                std::to_string(lim.max_wall_time.count()) + " ms";
      if (ctx.declared_extension.count() > 0)
        result += " + " + std::to_string(ctx.declared_extension.count()) +
                  " ms declared by callbacks";
      result += ")";
      break;
    case limit_kind::call_depth:
      result += "stack overflow: call depth limit exceeded (max_call_depth = " +
                std::to_string(lim.max_call_depth) + ")";
      break;
    default:
      break;
  }
  if (ctx.trip_function != nullptr) {
    result += " in ";
    result += ctx.trip_function;
  }
  return result;
}

sandbox_errc limit_errc(limit_kind x) {
  switch (x) {
    case limit_kind::instructions:
      return sandbox_errc::instruction_limit_exceeded;
    case limit_kind::memory:
      return sandbox_errc::memory_limit_exceeded;
    case limit_kind::wall_time:
      return sandbox_errc::wall_time_limit_exceeded;
    case limit_kind::call_depth:
      return sandbox_errc::stack_overflow;
    default:
      return sandbox_errc::internal_error;
  }
}

double limit_value(const limits& lim, limit_kind x) {
  switch (x) {
    case limit_kind::instructions:
      return static_cast<double>(lim.max_instructions);
    case limit_kind::memory:
      return static_cast<double>(lim.max_memory_bytes);
    case limit_kind::wall_time:
      return static_cast<double>(lim.max_wall_time.count());
    case limit_kind::call_depth:
      return static_cast<double>(lim.max_call_depth);
    default:
      return 0;
  }
}

// -- callbacks
// ------------------------------------------------------------------

int caller_line(lua_State* L) {
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) != 0 && lua_getinfo(L, "Sl", &ar) != 0 &&
      ar.currentline > 0 && std::strcmp(ar.source, "=lua") == 0)
    return ar.currentline;
  return -1;
}

// Runs callback `index` for the trampoline: converts the arguments, calls the
// host function, pushes its result (returns 1) or an error message (returns
// -1, message also stored under callback_error_key). Runs in host mode; a
// Lua error can only come from a machine out of memory.
int invoke_callback(lua_State* L, exec_context* ctx, size_t index) noexcept {
  detail::host_mode_guard guard{ctx};
  const callback* cb =
    index < ctx->callbacks.size() ? ctx->callbacks[index] : nullptr;
  if (cb == nullptr) {
    lua_pushliteral(L, "callback: invalid index");
    return -1;
  }
  ++ctx->callback_calls;
  int line = caller_line(L);
  std::string err;
  bool called = false;
  auto t0 = clock::now();
  try {
    int nargs = lua_gettop(L);
    while (nargs > 0 && lua_isnil(L, nargs))
      --nargs;
    if (static_cast<size_t>(nargs) > cb->params.size()) {
      err = "takes " + std::to_string(cb->params.size()) + " argument" +
            (cb->params.size() == 1 ? "" : "s") + " (" + cb->signature() +
            "), got " + std::to_string(nargs);
    } else {
      std::vector<nlohmann::json> args(static_cast<size_t>(nargs));
      size_t bytes = 0;
      for (int i = 0; i < nargs && err.empty(); ++i) {
        std::string what = "argument " + std::to_string(i + 1);
        std::string conv_err;
        bool too_large = false;
        if (!detail::to_json(L, i + 1, *ctx->lim, what.c_str(),
                             args[static_cast<size_t>(i)], conv_err, bytes,
                             too_large))
          err = "got an invalid " + what + ": " + conv_err;
      }
      // Every argument against its declaration, in one place; defaults
      // fill in what the script left out (up to the last one declared).
      for (size_t i = 0; i < cb->params.size() && err.empty(); ++i) {
        auto& p = cb->params[i];
        std::string why;
        auto given = i < args.size() ? args[i] : nlohmann::json{};
        auto checked = p.check(given, why);
        if (!checked) {
          err = "argument " + std::to_string(i + 1) + " (" + p.name + "): "
                + why + " (" + cb->signature() + ")";
          break;
        }
        if (i < args.size())
          args[i] = std::move(*checked);
        else if (!checked->is_null())
          args.push_back(std::move(*checked));
        else
          break;
      }
      if (err.empty()) {
        auto declared = cb->declared_duration;
        detail::extend_deadline(ctx, declared);
        called = true;
        t0 = clock::now();
        auto res = cb->fn(args);
        auto took = clock::now() - t0;
        // A callback that returns early gives back what it did not use.
        if (declared.count() > 0 && took < declared) {
          auto unused = std::chrono::duration_cast<std::chrono::milliseconds>(
            declared - took);
          ctx->deadline -= unused;
          ctx->declared_extension -= unused;
        }
        if (!res) {
          err = "failed: " + render_error(res.error());
        } else {
          size_t need = 0;
          std::string size_err;
          auto used = ctx->memory_used;
          auto cap = ctx->lim->max_memory_bytes;
          auto room = used < cap ? cap - used : 0;
          if (!detail::lua_size_estimate(*res, *ctx->lim, need, size_err)) {
            err = "returned a value the sandbox cannot take: " + size_err;
          } else if (need > room) {
            err = "returned about " + std::to_string(need) +
                  " bytes, more than the memory limit leaves (" +
                  std::to_string(room) +
                  " bytes free of max_memory_bytes = " + std::to_string(cap) +
                  ")";
          } else {
            lua_settop(L, 0);
            detail::push_json(L, *res);
          }
        }
      }
    }
  } catch (const std::exception& ex) {
    err = std::string{"threw: "} + ex.what();
  } catch (...) {
    err = "threw an unknown exception";
  }
  if (called) {
    telemetry::bus::global().execute(
      events().callback,
      {{"system_time", static_cast<double>(telemetry::bus::system_time())},
       {"duration", ns_since(t0)}},
      {{"trace_id", ctx->trace_id},
       {"callback", std::string_view{cb->name}},
       {"ok", err.empty()}});
  }
  if (err.empty())
    return 1;
  try {
    std::string msg;
    if (line > 0)
      msg = "lua:" + std::to_string(line) + ": ";
    msg += "callback '" + cb->name + "' " + err;
    lua_pushlstring(L, msg.data(), msg.size());
  } catch (...) {
    lua_pushliteral(L, "callback failed");
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, detail::callback_error_key());
  return -1;
}

// -- the Lua state
// ----------------------------------------------------------------

struct state_closer {
  void operator()(lua_State* L) const noexcept { lua_close(L); }
};

using state_ptr = std::unique_ptr<lua_State, state_closer>;

} // namespace

namespace detail {

int call_callback(lua_State* L) {
  // Only trivially destructible locals: this frame raises Lua errors.
  enter_library(L);
  auto* ctx = context_of(L);
  auto index = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(1)));
  int results = invoke_callback(L, ctx, index);
  if (results < 0)
    return lua_error(L);
  if (ctx->memory_used > ctx->lim->max_memory_bytes) {
    trip(ctx, limit_kind::memory, "a callback's result");
    raise_tripped(L, ctx);
  }
  return results;
}

} // namespace detail

// -- sandbox
// --------------------------------------------------------------------

sandbox::sandbox(caflens::sandbox::limits limits, std::string node_name)
  : limits_(limits)
  , node_name_(std::move(node_name)) {
  detail::prepare_environment();
  if (node_name_.empty())
    node_name_ = host_name();
  base_callbacks_ = make_base_callbacks(node_name_, limits_);
}

namespace {

struct outcome {
  caf::expected<execute_result> result{
    make_error(sandbox_errc::internal_error)};
  limit_kind limit = limit_kind::none;
};

outcome fail(sandbox_errc code, std::string msg) {
  return outcome{make_error(code, std::move(msg))};
}

outcome run(const limits& lim, exec_context& ctx, std::string_view code) {
  state_ptr state{lua_newstate(detail::counting_alloc, &ctx)};
  if (state == nullptr)
    return fail(sandbox_errc::internal_error, "lua: cannot create a state");
  lua_State* L = state.get();
  *static_cast<exec_context**>(lua_getextraspace(L)) = &ctx;
  ctx.L = L;
  // Set up the libraries and callbacks; not charged against the limit.
  {
    detail::host_mode_guard guard{&ctx};
    lua_pushcfunction(L, detail::setup_environment);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      auto msg = error_text(L);
      if (msg.rfind("callback name", 0) == 0)
        return fail(sandbox_errc::invalid_argument, msg);
      return fail(sandbox_errc::internal_error,
                  "lua: setting up the sandbox failed: " + msg);
    }
  }
  if (ctx.memory_used >= lim.max_memory_bytes)
    return fail(
      sandbox_errc::invalid_argument,
      "limits: max_memory_bytes = " + std::to_string(lim.max_memory_bytes) +
        " does not even hold the sandbox's libraries (" +
        std::to_string(ctx.memory_used) + " bytes)");
  // Compile (text only: bytecode could crash the VM) and run.
  int status = luaL_loadbufferx(L, code.data(), code.size(), "=lua", "t");
  if (status == LUA_OK) {
    detail::arm_hook(&ctx);
    status = lua_pcall(L, 0, LUA_MULTRET, 0);
    lua_sethook(L, nullptr, 0, 0);
  } else if (status != LUA_ERRMEM && ctx.tripped == limit_kind::none) {
    // Syntax errors, and parser nesting beyond Lua's C stack limit.
    detail::host_mode_guard guard{&ctx};
    return fail(sandbox_errc::syntax_error,
                locate(error_text(L), "syntax error: "));
  }
  detail::host_mode_guard guard{&ctx};
  if (ctx.tripped != limit_kind::none)
    return outcome{make_error(limit_errc(ctx.tripped), limit_message(ctx)),
                   ctx.tripped};
  if (status == LUA_ERRMEM) {
    ctx.tripped = limit_kind::memory;
    return outcome{
      make_error(sandbox_errc::memory_limit_exceeded, limit_message(ctx)),
      ctx.tripped};
  }
  if (status != LUA_OK) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, detail::callback_error_key());
    bool from_callback = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 1);
    auto msg = explain_unknown_function(locate(error_text(L)), ctx);
    if (from_callback)
      return fail(sandbox_errc::callback_failed, std::move(msg));
    if (msg.find("stack overflow") != std::string::npos)
      return fail(sandbox_errc::stack_overflow, std::move(msg));
    return fail(sandbox_errc::runtime_error, std::move(msg));
  }
  // Convert the returned values.
  execute_result result;
  int n = lua_gettop(L);
  size_t bytes = 0;
  bool too_large = false;
  std::string err;
  if (n == 1) {
    if (!detail::to_json(L, 1, lim, "result", result.value, err, bytes,
                         too_large))
      return fail(too_large ? sandbox_errc::result_too_large
                            : sandbox_errc::invalid_result,
                  "lua: " + err);
  } else if (n > 1) {
    result.value = nlohmann::json::array();
    for (int i = 1; i <= n; ++i) {
      std::string what = "result " + std::to_string(i);
      nlohmann::json x;
      if (!detail::to_json(L, i, lim, what.c_str(), x, err, bytes, too_large))
        return fail(too_large ? sandbox_errc::result_too_large
                              : sandbox_errc::invalid_result,
                    "lua: " + err);
      result.value.push_back(std::move(x));
    }
  }
  result.output = std::move(ctx.output);
  result.output_truncated = ctx.output_truncated;
  return outcome{std::move(result)};
}

} // namespace

caf::expected<execute_result>
sandbox::execute(std::string_view code, const std::vector<callback>& callbacks,
                 std::string_view trace_id) const {
  auto& evs = events();
  auto& bus = telemetry::bus::global();
  auto span = next_span_context();
  auto t0 = clock::now();
  auto mono0 = telemetry::bus::monotonic_time();
  bus.execute(
    evs.start,
    {{"system_time", static_cast<double>(telemetry::bus::system_time())},
     {"monotonic_time", static_cast<double>(mono0)}},
    {{"trace_id", trace_id}, {"code", code}, {"telemetry_span_context", span}});
  exec_context ctx;
  outcome out;
  try {
    if (auto err = validate(limits_)) {
      out = outcome{std::move(err)};
    } else if (auto err = validate_callbacks(callbacks)) {
      out = outcome{std::move(err)};
    } else if (code.size() > limits_.max_code_bytes) {
      out = fail(sandbox_errc::invalid_argument,
                 "lua: the script has " + std::to_string(code.size()) +
                   " bytes, more than max_code_bytes = " +
                   std::to_string(limits_.max_code_bytes));
    } else {
      ctx.lim = &limits_;
      ctx.trace_id = trace_id;
      for (auto& cb : base_callbacks_)
        if (std::none_of(callbacks.begin(), callbacks.end(),
                         [&](const callback& x) { return x.name == cb.name; }))
          ctx.callbacks.push_back(&cb);
      for (auto& cb : callbacks)
        ctx.callbacks.push_back(&cb);
      ctx.start = t0;
      ctx.deadline = t0 + limits_.max_wall_time;
      out = run(limits_, ctx, code);
    }
  } catch (const std::exception& ex) {
    out = fail(sandbox_errc::internal_error,
               std::string{"lua: internal error: "} + ex.what());
  } catch (...) {
    out = fail(sandbox_errc::internal_error, "lua: internal error");
  }
  auto duration = clock::now() - t0;
  auto mono1 = telemetry::bus::monotonic_time();
  if (out.result) {
    out.result->instructions = ctx.instructions;
    out.result->peak_memory_bytes = ctx.memory_peak;
    out.result->duration =
      std::chrono::duration_cast<std::chrono::nanoseconds>(duration);
    out.result->callback_calls = ctx.callback_calls;
    bus.execute(evs.stop,
                {{"duration", static_cast<double>(mono1 - mono0)},
                 {"monotonic_time", static_cast<double>(mono1)},
                 {"instructions", static_cast<double>(ctx.instructions)},
                 {"memory_bytes", static_cast<double>(ctx.memory_peak)}},
                {{"trace_id", trace_id}, {"telemetry_span_context", span}});
    return std::move(out.result);
  }
  if (out.limit != limit_kind::none)
    bus.execute(
      evs.limit_exceeded,
      {{"system_time", static_cast<double>(telemetry::bus::system_time())},
       {"limit_value", limit_value(limits_, out.limit)}},
      {{"trace_id", trace_id}, {"limit", detail::limit_field(out.limit)}});
  auto& err = out.result.error();
  auto kind = err.category() == sandbox_errc_category
                ? to_string(static_cast<sandbox_errc>(err.code()))
                : std::string{"error"};
  auto reason = error_context(err);
  bus.execute(evs.exception,
              {{"duration", static_cast<double>(mono1 - mono0)},
               {"monotonic_time", static_cast<double>(mono1)}},
              {{"trace_id", trace_id},
               {"kind", std::string_view{kind}},
               {"reason", std::string_view{reason}},
               {"telemetry_span_context", span}});
  return std::move(out.result);
}

} // namespace caflens::sandbox
