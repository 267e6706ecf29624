// A backtracking matcher for Lua patterns with a step budget. Every function
// here may raise Lua errors (malformed patterns, limits) from any depth, so
// all of them keep only trivially destructible locals (see exec_context.hpp).
#include "lua_pattern.hpp"

#include <cctype>
#include <climits>
#include <cstddef>
#include <cstring>

#include "exec_context.hpp"

namespace caflens::sandbox::detail {

namespace {

constexpr int max_captures = 32;
constexpr int max_match_depth = 200;
constexpr ptrdiff_t capture_open = -1;
constexpr ptrdiff_t capture_position = -2;
constexpr char escape = '%';
/// Steps between two deadline checks.
constexpr long check_every = 4096;

struct capture {
  const char* start;
  ptrdiff_t len;
};

struct matcher {
  const char* subject;
  const char* subject_end;
  const char* pattern_end;
  lua_State* L;
  exec_context* ctx;
  const char* function;
  int depth_left;
  int level; // captures started (closed or open)
  long until_check;
  capture captures[max_captures];
};

unsigned char uc(char c) {
  return static_cast<unsigned char>(c);
}

// Costs `cost` steps; every `check_every` steps checks the limits.
void charge(matcher& m, long cost) {
  m.until_check -= cost;
  if (m.until_check > 0)
    return;
  m.until_check = check_every;
  check_tripped(m.L, m.ctx);
  enter_library(m.L, m.function);
}

void init_matcher(matcher& m, lua_State* L, const char* function, const char* s,
                  size_t ls, const char* p, size_t lp) {
  m.subject = s;
  m.subject_end = s + ls;
  m.pattern_end = p + lp;
  m.L = L;
  m.ctx = context_of(L);
  m.function = function;
  m.depth_left = max_match_depth;
  m.level = 0;
  m.until_check = check_every;
}

// Position relative to a string of length `len` (negative counts from the
// end), clipped to [1, inf).
size_t start_position(lua_Integer pos, size_t len) {
  if (pos > 0)
    return static_cast<size_t>(pos);
  if (pos == 0 || pos < -static_cast<lua_Integer>(len))
    return 1;
  return len + static_cast<size_t>(pos) + 1;
}

// The end of the single-character class that starts at `p`.
const char* class_end(matcher& m, const char* p) {
  char c = *p++;
  if (c == escape) {
    if (p >= m.pattern_end)
      luaL_error(m.L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (p < m.pattern_end && *p == '^')
      ++p;
    // The first character after '[' (or '[^') is literal, even ']'.
    do {
      if (p >= m.pattern_end)
        luaL_error(m.L, "malformed pattern (missing ']')");
      c = *p++;
      if (c == escape && p < m.pattern_end)
        ++p;
    } while (p >= m.pattern_end || *p != ']');
    return p + 1;
  }
  return p;
}

bool class_matches(int c, int cl) {
  int hit;
  switch (std::tolower(cl)) {
    case 'a':
      hit = std::isalpha(c);
      break;
    case 'c':
      hit = std::iscntrl(c);
      break;
    case 'd':
      hit = std::isdigit(c);
      break;
    case 'g':
      hit = std::isgraph(c);
      break;
    case 'l':
      hit = std::islower(c);
      break;
    case 'p':
      hit = std::ispunct(c);
      break;
    case 's':
      hit = std::isspace(c);
      break;
    case 'u':
      hit = std::isupper(c);
      break;
    case 'w':
      hit = std::isalnum(c);
      break;
    case 'x':
      hit = std::isxdigit(c);
      break;
    case 'z':
      hit = c == 0;
      break;
    default:
      return cl == c;
  }
  bool result = hit != 0;
  return std::islower(cl) ? result : !result;
}

// `p` points at '[', `last` at the closing ']'.
bool set_matches(int c, const char* p, const char* last) {
  bool want = true;
  if (p[1] == '^') {
    want = false;
    ++p;
  }
  while (++p < last) {
    if (*p == escape) {
      ++p;
      if (class_matches(c, uc(*p)))
        return want;
    } else if (p[1] == '-' && p + 2 < last) {
      if (uc(p[0]) <= c && c <= uc(p[2]))
        return want;
      p += 2;
    } else if (uc(*p) == c) {
      return want;
    }
  }
  return !want;
}

// Whether the character at `s` matches the class [p, ep).
bool single_matches(matcher& m, const char* s, const char* p, const char* ep) {
  if (s >= m.subject_end)
    return false;
  int c = uc(*s);
  switch (*p) {
    case '.':
      return true;
    case escape:
      return class_matches(c, uc(p[1]));
    case '[':
      return set_matches(c, p, ep - 1);
    default:
      return uc(*p) == c;
  }
}

const char* match(matcher& m, const char* s, const char* p);

const char* match_balance(matcher& m, const char* s, const char* p) {
  if (p + 1 >= m.pattern_end)
    luaL_error(m.L, "malformed pattern (missing arguments to '%%b')");
  if (s >= m.subject_end || *s != *p)
    return nullptr;
  char open = p[0];
  char close = p[1];
  int depth = 1;
  while (++s < m.subject_end) {
    charge(m, 1);
    if (*s == close) {
      if (--depth == 0)
        return s + 1;
    } else if (*s == open) {
      ++depth;
    }
  }
  return nullptr;
}

const char* expand_greedy(matcher& m, const char* s, const char* p,
                          const char* ep) {
  ptrdiff_t n = 0;
  while (single_matches(m, s + n, p, ep)) {
    ++n;
    charge(m, 1);
  }
  for (; n >= 0; --n) {
    if (const char* res = match(m, s + n, ep + 1))
      return res;
    charge(m, 1);
  }
  return nullptr;
}

const char* expand_lazy(matcher& m, const char* s, const char* p,
                        const char* ep) {
  for (;;) {
    if (const char* res = match(m, s, ep + 1))
      return res;
    if (!single_matches(m, s, p, ep))
      return nullptr;
    ++s;
    charge(m, 1);
  }
}

const char* open_capture(matcher& m, const char* s, const char* p,
                         ptrdiff_t what) {
  if (m.level >= max_captures)
    luaL_error(m.L, "too many captures");
  m.captures[m.level].start = s;
  m.captures[m.level].len = what;
  ++m.level;
  const char* res = match(m, s, p);
  if (res == nullptr)
    --m.level;
  return res;
}

const char* close_capture(matcher& m, const char* s, const char* p) {
  int open = m.level - 1;
  while (open >= 0 && m.captures[open].len != capture_open)
    --open;
  if (open < 0)
    luaL_error(m.L, "invalid pattern capture");
  m.captures[open].len = s - m.captures[open].start;
  const char* res = match(m, s, p);
  if (res == nullptr)
    m.captures[open].len = capture_open;
  return res;
}

int capture_index(matcher& m, int digit) {
  int i = digit - '1';
  if (i < 0 || i >= m.level || m.captures[i].len == capture_open)
    luaL_error(m.L, "invalid capture index %%%d", i + 1);
  return i;
}

const char* back_reference(matcher& m, const char* s, int digit) {
  int i = capture_index(m, digit);
  auto len = static_cast<size_t>(m.captures[i].len);
  charge(m, static_cast<long>(len / 64) + 1);
  if (static_cast<size_t>(m.subject_end - s) >= len &&
      std::memcmp(m.captures[i].start, s, len) == 0)
    return s + len;
  return nullptr;
}

// Matches pattern `p` at subject position `s`; returns the end of the match
// or nullptr. Tail positions loop instead of recursing.
const char* match(matcher& m, const char* s, const char* p) {
  if (m.depth_left-- == 0)
    luaL_error(m.L, "pattern too complex");
  charge(m, 1);
  while (p != m.pattern_end) {
    switch (*p) {
      case '(':
        if (p + 1 < m.pattern_end && p[1] == ')')
          s = open_capture(m, s, p + 2, capture_position);
        else
          s = open_capture(m, s, p + 1, capture_open);
        goto done;
      case ')':
        s = close_capture(m, s, p + 1);
        goto done;
      case '$':
        if (p + 1 == m.pattern_end) {
          s = s == m.subject_end ? s : nullptr;
          goto done;
        }
        break; // a literal '$'
      case escape:
        if (p + 1 < m.pattern_end) {
          char next = p[1];
          if (next == 'b') {
            s = match_balance(m, s, p + 2);
            if (s == nullptr)
              goto done;
            p += 4;
            continue;
          }
          if (next == 'f') {
            p += 2;
            if (p >= m.pattern_end || *p != '[')
              luaL_error(m.L, "missing '[' after '%%f' in pattern");
            const char* ep = class_end(m, p);
            int before = s == m.subject ? 0 : uc(s[-1]);
            int here = s < m.subject_end ? uc(*s) : 0;
            if (!set_matches(before, p, ep - 1) &&
                set_matches(here, p, ep - 1)) {
              p = ep;
              continue;
            }
            s = nullptr;
            goto done;
          }
          if (next >= '0' && next <= '9') {
            s = back_reference(m, s, uc(next));
            if (s == nullptr)
              goto done;
            p += 2;
            continue;
          }
        }
        break; // a class such as %d, with an optional suffix
      default:
        break;
    }
    // A single-character class with an optional suffix.
    {
      const char* ep = class_end(m, p);
      char suffix = ep < m.pattern_end ? *ep : '\0';
      if (!single_matches(m, s, p, ep)) {
        if (suffix == '*' || suffix == '?' || suffix == '-') {
          p = ep + 1;
          continue;
        }
        s = nullptr;
        goto done;
      }
      switch (suffix) {
        case '?':
          if (const char* res = match(m, s + 1, ep + 1)) {
            s = res;
            goto done;
          }
          p = ep + 1;
          continue;
        case '+':
          s = expand_greedy(m, s + 1, p, ep);
          goto done;
        case '*':
          s = expand_greedy(m, s, p, ep);
          goto done;
        case '-':
          s = expand_lazy(m, s, p, ep);
          goto done;
        default:
          ++s;
          p = ep;
          continue;
      }
    }
  }
done:
  ++m.depth_left;
  return s;
}

// Pushes capture `i` (or the whole match [s, e) when there are none).
void push_capture(matcher& m, int i, const char* s, const char* e) {
  if (i >= m.level) {
    if (i != 0)
      luaL_error(m.L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m.L, s, static_cast<size_t>(e - s));
    return;
  }
  auto len = m.captures[i].len;
  if (len == capture_open)
    luaL_error(m.L, "unfinished capture");
  if (len == capture_position)
    lua_pushinteger(m.L, (m.captures[i].start - m.subject) + 1);
  else
    lua_pushlstring(m.L, m.captures[i].start, static_cast<size_t>(len));
}

// Pushes all captures; with `s == nullptr` and no captures pushes nothing.
int push_captures(matcher& m, const char* s, const char* e) {
  int n = (m.level == 0 && s != nullptr) ? 1 : m.level;
  luaL_checkstack(m.L, n, "too many captures");
  for (int i = 0; i < n; ++i)
    push_capture(m, i, s, e);
  return n;
}

bool has_specials(const char* p, size_t lp) {
  static constexpr char specials[] = "^$*+?.([%-";
  for (size_t i = 0; i < lp; ++i)
    if (std::memchr(specials, p[i], sizeof(specials) - 1) != nullptr)
      return true;
  return false;
}

// Plain substring search, charged by the bytes it compares.
const char* plain_find(matcher& m, const char* s, size_t ls, const char* p,
                       size_t lp) {
  if (lp == 0)
    return s;
  if (lp > ls)
    return nullptr;
  const char* last = s + (ls - lp);
  while (s <= last) {
    auto hit = static_cast<const char*>(
      std::memchr(s, *p, static_cast<size_t>(last - s) + 1));
    if (hit == nullptr)
      return nullptr;
    charge(m, static_cast<long>(lp / 64) + 1 + (hit - s) / 256);
    if (std::memcmp(hit + 1, p + 1, lp - 1) == 0)
      return hit;
    s = hit + 1;
  }
  return nullptr;
}

int find_or_match(lua_State* L, bool find) {
  const char* name = find ? "string.find" : "string.match";
  enter_library(L, name);
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {
    lua_pushnil(L);
    return 1;
  }
  matcher m;
  init_matcher(m, L, name, s, ls, p, lp);
  if (find && (lua_toboolean(L, 4) != 0 || !has_specials(p, lp))) {
    const char* hit = plain_find(m, s + init, ls - init, p, lp);
    if (hit != nullptr) {
      lua_pushinteger(L, (hit - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>((hit - s) + lp));
      return 2;
    }
    lua_pushnil(L);
    return 1;
  }
  bool anchored = lp > 0 && *p == '^';
  if (anchored) {
    ++p;
    --lp;
    m.pattern_end = p + lp;
  }
  const char* start = s + init;
  do {
    m.level = 0;
    if (const char* e = match(m, start, p)) {
      if (find) {
        lua_pushinteger(L, (start - s) + 1);
        lua_pushinteger(L, e - s);
        return push_captures(m, nullptr, nullptr) + 2;
      }
      return push_captures(m, start, e);
    }
    charge(m, 1);
  } while (start++ < m.subject_end && !anchored);
  lua_pushnil(L);
  return 1;
}

int str_find(lua_State* L) {
  return find_or_match(L, true);
}

int str_match(lua_State* L) {
  return find_or_match(L, false);
}

struct gmatch_state {
  const char* next;       // where the next search starts
  const char* last_match; // end of the previous match
  const char* pattern;
  matcher m;
};

int gmatch_step(lua_State* L) {
  enter_library(L, "string.gmatch");
  auto* st = static_cast<gmatch_state*>(lua_touserdata(L, lua_upvalueindex(3)));
  st->m.L = L;
  st->m.ctx = context_of(L);
  st->m.until_check = check_every;
  for (const char* src = st->next; src <= st->m.subject_end; ++src) {
    st->m.level = 0;
    const char* e = match(st->m, src, st->pattern);
    if (e != nullptr && e != st->last_match) {
      st->next = e;
      st->last_match = e;
      return push_captures(st->m, src, e);
    }
    charge(st->m, 1);
  }
  st->next = st->m.subject_end + 1;
  return 0;
}

int str_gmatch(lua_State* L) {
  enter_library(L, "string.gmatch");
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls)
    init = ls + 1;
  lua_settop(L, 2); // the closure keeps both strings alive
  auto* st =
    static_cast<gmatch_state*>(lua_newuserdatauv(L, sizeof(gmatch_state), 0));
  init_matcher(st->m, L, "string.gmatch", s, ls, p, lp);
  st->next = s + init;
  st->last_match = nullptr;
  st->pattern = p;
  lua_pushcclosure(L, gmatch_step, 3);
  return 1;
}

// Appends the replacement string (argument 3) with %0-%9 and %% expanded.
void add_replacement_string(matcher& m, luaL_Buffer* b, const char* s,
                            const char* e) {
  size_t len = 0;
  const char* r = lua_tolstring(m.L, 3, &len);
  const char* end = r + len;
  charge(m, static_cast<long>(len / 64) + 1);
  while (r < end) {
    auto pct = static_cast<const char*>(
      std::memchr(r, escape, static_cast<size_t>(end - r)));
    if (pct == nullptr) {
      luaL_addlstring(b, r, static_cast<size_t>(end - r));
      return;
    }
    luaL_addlstring(b, r, static_cast<size_t>(pct - r));
    ++pct;
    if (pct >= end)
      luaL_error(m.L, "invalid use of '%c' in replacement string", escape);
    if (*pct == escape) {
      luaL_addchar(b, escape);
    } else if (*pct == '0') {
      luaL_addlstring(b, s, static_cast<size_t>(e - s));
    } else if (std::isdigit(uc(*pct))) {
      push_capture(m, *pct - '1', s, e);
      luaL_tolstring(m.L, -1, nullptr); // a position capture is a number
      lua_remove(m.L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(m.L, "invalid use of '%c' in replacement string", escape);
    }
    r = pct + 1;
  }
}

// Appends the replacement for the match [s, e); returns whether it changed
// the subject.
bool add_replacement(matcher& m, luaL_Buffer* b, const char* s, const char* e,
                     int kind) {
  lua_State* L = m.L;
  if (kind == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    int n = push_captures(m, s, e);
    lua_call(L, n, 1);
  } else if (kind == LUA_TTABLE) {
    push_capture(m, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_replacement_string(m, b, s, e);
    return true;
  }
  if (lua_toboolean(L, -1) == 0) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, static_cast<size_t>(e - s));
    return false;
  }
  if (lua_isstring(L, -1) == 0)
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
  return true;
}

int str_gsub(lua_State* L) {
  enter_library(L, "string.gsub");
  size_t ls = 0;
  size_t lp = 0;
  const char* src = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  int kind = lua_type(L, 3);
  lua_Integer max_n = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  luaL_argexpected(L,
                   kind == LUA_TNUMBER || kind == LUA_TSTRING ||
                     kind == LUA_TFUNCTION || kind == LUA_TTABLE,
                   3, "string/function/table");
  bool anchored = lp > 0 && *p == '^';
  if (anchored) {
    ++p;
    --lp;
  }
  matcher m;
  init_matcher(m, L, "string.gsub", src, ls, p, lp);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char* last_match = nullptr;
  lua_Integer n = 0;
  bool changed = false;
  while (n < max_n) {
    m.level = 0;
    const char* e = match(m, src, p);
    if (e != nullptr && e != last_match) {
      ++n;
      changed = add_replacement(m, &b, src, e, kind) || changed;
      src = last_match = e;
    } else if (src < m.subject_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    charge(m, 1);
    if (anchored)
      break;
  }
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, static_cast<size_t>(m.subject_end - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

} // namespace

void register_pattern_functions(lua_State* L) {
  static const luaL_Reg functions[] = {
    {"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch},
    {"gsub", str_gsub}, {nullptr, nullptr},
  };
  luaL_setfuncs(L, functions, 0);
}

} // namespace caflens::sandbox::detail
