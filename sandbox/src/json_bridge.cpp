#include "json_bridge.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace caflens::sandbox::detail {

namespace {

char null_tag;
char array_mark_tag;

// Length of the valid UTF-8 sequence at `s[i]`, or 0 when it is invalid.
size_t utf8_sequence(const unsigned char* s, size_t n, size_t i) noexcept {
  auto c = s[i];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > n)
    return 0;
  if (s[i + 1] < lo || s[i + 1] > hi)
    return 0;
  for (size_t k = 2; k < len; ++k)
    if (s[i + k] < 0x80 || s[i + k] > 0xBF)
      return 0;
  return len;
}

// Lua → JSON for one call of `to_json`.
class converter {
public:
  converter(lua_State* L, const limits& lim, const char* what, size_t bytes)
    : L_(L)
    , lim_(lim)
    , what_(what)
    , bytes_(bytes) {}

  size_t bytes() const noexcept { return bytes_; }

  bool convert(int idx, nlohmann::json& out, size_t depth) {
    switch (lua_type(L_, idx)) {
      case LUA_TNIL:
        out = nullptr;
        return add_bytes(4);
      case LUA_TBOOLEAN:
        out = lua_toboolean(L_, idx) != 0;
        return add_bytes(5);
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx) != 0) {
          out = static_cast<int64_t>(lua_tointeger(L_, idx));
        } else {
          auto x = static_cast<double>(lua_tonumber(L_, idx));
          if (std::isfinite(x))
            out = x;
          else
            out = nullptr;
        }
        return add_bytes(8);
      case LUA_TSTRING: {
        size_t len = 0;
        const char* str = lua_tolstring(L_, idx, &len);
        if (!add_bytes(len + 2))
          return false;
        out = sanitize_utf8({str, len});
        return true;
      }
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L_, idx) == null_sentinel()) {
          out = nullptr;
          return add_bytes(4);
        }
        return fail_type(idx);
      case LUA_TTABLE:
        return convert_table(idx, out, depth);
      default:
        return fail_type(idx);
    }
  }

  std::string error;

private:
  bool add_bytes(size_t n) {
    bytes_ += n;
    if (bytes_ <= lim_.max_result_bytes)
      return true;
    error = std::string{"the value of "} + what_ +
            " is larger than the JSON size limit (max_result_bytes = " +
            std::to_string(lim_.max_result_bytes) + ")";
    too_large = true;
    return false;
  }

  std::string path() const {
    std::string result = what_;
    for (auto& segment : path_)
      result += segment;
    return result;
  }

  bool fail_type(int idx) {
    error = std::string{"a "} + lua_typename(L_, lua_type(L_, idx)) +
            " value at " + path() + " cannot become JSON";
    return false;
  }

  bool is_marked_array(int idx) {
    if (lua_getmetatable(L_, idx) == 0)
      return false;
    lua_rawgetp(L_, LUA_REGISTRYINDEX, array_mark_key());
    bool marked = lua_rawequal(L_, -1, -2) != 0;
    lua_pop(L_, 2);
    return marked;
  }

  bool key_to_string(int idx, std::string& key) {
    switch (lua_type(L_, idx)) {
      case LUA_TSTRING: {
        size_t len = 0;
        const char* str = lua_tolstring(L_, idx, &len);
        key = sanitize_utf8({str, len});
        return true;
      }
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx) != 0) {
          key = std::to_string(lua_tointeger(L_, idx));
        } else {
          char buf[64];
          std::snprintf(buf, sizeof(buf), "%.14g",
                        static_cast<double>(lua_tonumber(L_, idx)));
          key = buf;
        }
        return true;
      default:
        error = std::string{"a table key of type "} +
                lua_typename(L_, lua_type(L_, idx)) + " at " + path() +
                " cannot become a JSON object key";
        return false;
    }
  }

  bool convert_table(int idx, nlohmann::json& out, size_t depth) {
    if (depth >= lim_.max_json_depth) {
      error = "the value at " + path() + " nests deeper than max_json_depth (" +
              std::to_string(lim_.max_json_depth) + ")";
      return false;
    }
    auto self = lua_topointer(L_, idx);
    if (std::find(tables_.begin(), tables_.end(), self) != tables_.end()) {
      error = "cycle: the table at " + path() + " contains itself";
      return false;
    }
    if (lua_checkstack(L_, 4) == 0) {
      error = "the value at " + path() + " nests too deeply";
      return false;
    }
    if (!add_bytes(2))
      return false;
    // Pass 1: an array has exactly the keys 1..n.
    size_t count = 0;
    lua_Integer max_key = 0;
    bool sequence = true;
    lua_pushnil(L_);
    while (lua_next(L_, idx) != 0) {
      ++count;
      if (lua_type(L_, -2) == LUA_TNUMBER && lua_isinteger(L_, -2) != 0) {
        auto k = lua_tointeger(L_, -2);
        if (k >= 1)
          max_key = std::max(max_key, k);
        else
          sequence = false;
      } else {
        sequence = false;
      }
      lua_pop(L_, 1);
      if (!add_bytes(1)) {
        lua_pop(L_, 1);
        return false;
      }
    }
    bool is_array = count == 0
                      ? is_marked_array(idx)
                      : sequence && static_cast<size_t>(max_key) == count;
    tables_.push_back(self);
    if (is_array) {
      out = nlohmann::json::array();
      auto& arr = out.get_ref<nlohmann::json::array_t&>();
      arr.reserve(count);
      for (size_t i = 1; i <= count; ++i) {
        path_.push_back("[" + std::to_string(i) + "]");
        lua_rawgeti(L_, idx, static_cast<lua_Integer>(i));
        arr.emplace_back();
        bool ok = convert(lua_gettop(L_), arr.back(), depth + 1);
        lua_pop(L_, 1);
        if (!ok)
          return false;
        path_.pop_back();
      }
    } else {
      out = nlohmann::json::object();
      std::string key;
      lua_pushnil(L_);
      while (lua_next(L_, idx) != 0) {
        if (!key_to_string(lua_gettop(L_) - 1, key) ||
            !add_bytes(key.size() + 3)) {
          lua_pop(L_, 2);
          return false;
        }
        path_.push_back("." + key);
        bool ok = convert(lua_gettop(L_), out[key], depth + 1);
        lua_pop(L_, 1);
        if (!ok) {
          lua_pop(L_, 1);
          return false;
        }
        path_.pop_back();
      }
    }
    tables_.pop_back();
    return true;
  }

  lua_State* L_;
  const limits& lim_;
  const char* what_;
  size_t bytes_;
  std::vector<const void*> tables_;
  std::vector<std::string> path_;

public:
  bool too_large = false;
};

bool estimate(const nlohmann::json& x, const limits& lim, size_t depth,
              size_t& bytes, std::string& error) {
  using vt = nlohmann::json::value_t;
  switch (x.type()) {
    case vt::string:
      bytes += 32 + x.get_ref<const std::string&>().size();
      return true;
    case vt::array:
    case vt::object:
      if (depth >= lim.max_json_depth) {
        error = "the value nests deeper than max_json_depth (" +
                std::to_string(lim.max_json_depth) + ")";
        return false;
      }
      bytes += 64;
      for (auto it = x.begin(); it != x.end(); ++it) {
        if (x.is_object())
          bytes += 40 + it.key().size();
        else
          bytes += 16;
        if (!estimate(*it, lim, depth + 1, bytes, error))
          return false;
      }
      return true;
    case vt::binary:
      error = "binary JSON values have no Lua form";
      return false;
    case vt::discarded:
      error = "a discarded JSON value has no Lua form";
      return false;
    default:
      bytes += 16;
      return true;
  }
}

} // namespace

void* null_sentinel() noexcept {
  return &null_tag;
}

const void* array_mark_key() noexcept {
  return &array_mark_tag;
}

bool to_json(lua_State* L, int idx, const limits& lim, const char* what,
             nlohmann::json& out, std::string& error, size_t& bytes,
             bool& too_large) noexcept {
  auto top = lua_gettop(L);
  idx = lua_absindex(L, idx);
  bool ok = false;
  too_large = false;
  try {
    converter conv{L, lim, what, bytes};
    ok = conv.convert(idx, out, 0);
    bytes = conv.bytes();
    too_large = conv.too_large;
    if (!ok)
      error = std::move(conv.error);
  } catch (const std::exception& ex) {
    error = std::string{"converting "} + what + " to JSON failed: " + ex.what();
    ok = false;
  } catch (...) {
    error = std::string{"converting "} + what + " to JSON failed";
    ok = false;
  }
  lua_settop(L, top);
  return ok;
}

bool lua_size_estimate(const nlohmann::json& x, const limits& lim,
                       size_t& bytes, std::string& error) noexcept {
  try {
    bytes = 0;
    return estimate(x, lim, 0, bytes, error);
  } catch (...) {
    error = "the value cannot be measured";
    return false;
  }
}

void push_json(lua_State* L, const nlohmann::json& x) {
  // Only trivially destructible locals here: a Lua memory error may longjmp
  // out of this function.
  using vt = nlohmann::json::value_t;
  switch (x.type()) {
    case vt::null:
      lua_pushlightuserdata(L, null_sentinel());
      return;
    case vt::boolean:
      lua_pushboolean(L, x.get<bool>() ? 1 : 0);
      return;
    case vt::number_integer:
      lua_pushinteger(L, static_cast<lua_Integer>(x.get<int64_t>()));
      return;
    case vt::number_unsigned: {
      auto u = x.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX))
        lua_pushinteger(L, static_cast<lua_Integer>(u));
      else
        lua_pushnumber(L, static_cast<lua_Number>(u));
      return;
    }
    case vt::number_float:
      lua_pushnumber(L, static_cast<lua_Number>(x.get<double>()));
      return;
    case vt::string: {
      const auto& str = x.get_ref<const std::string&>();
      lua_pushlstring(L, str.data(), str.size());
      return;
    }
    case vt::array: {
      luaL_checkstack(L, 4, "JSON value nests too deeply");
      auto n = std::min<size_t>(x.size(), INT_MAX);
      lua_createtable(L, static_cast<int>(n), 0);
      lua_rawgetp(L, LUA_REGISTRYINDEX, array_mark_key());
      lua_setmetatable(L, -2);
      lua_Integer i = 1;
      for (auto it = x.begin(); it != x.end(); ++it) {
        push_json(L, *it);
        lua_rawseti(L, -2, i++);
      }
      return;
    }
    case vt::object: {
      luaL_checkstack(L, 4, "JSON value nests too deeply");
      auto n = std::min<size_t>(x.size(), INT_MAX);
      lua_createtable(L, 0, static_cast<int>(n));
      for (auto it = x.begin(); it != x.end(); ++it) {
        const auto& key = it.key();
        lua_pushlstring(L, key.data(), key.size());
        push_json(L, it.value());
        lua_rawset(L, -3);
      }
      return;
    }
    default:
      lua_pushnil(L);
      return;
  }
}

std::string sanitize_utf8(std::string_view x) {
  auto s = reinterpret_cast<const unsigned char*>(x.data());
  auto n = x.size();
  size_t i = 0;
  while (i < n) {
    auto len = utf8_sequence(s, n, i);
    if (len == 0)
      break;
    i += len;
  }
  if (i == n)
    return std::string{x};
  std::string result{x.substr(0, i)};
  while (i < n) {
    auto len = utf8_sequence(s, n, i);
    if (len == 0) {
      result += "\xEF\xBF\xBD";
      ++i;
    } else {
      result.append(x.data() + i, len);
      i += len;
    }
  }
  return result;
}

} // namespace caflens::sandbox::detail
