// How the dashboard puts what a browser sent into a Lua program (private):
// only ever inside a string literal that no byte can leave.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

namespace caflens::dashboard::detail {

/// A Lua string literal holding `s` exactly: every byte but ASCII letters
/// and digits as a three-digit decimal escape ("\0451" would read as \045
/// then "1"), so no input can close the literal or start a comment.
inline std::string lua_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\%03d", static_cast<int>(c));
      out += buf;
    }
  }
  return out + "\"";
}

/// An actor reference for Lua: an integer id, or a name as a literal.
inline std::string lua_actor(const std::string& s) {
  if (!s.empty() && s.size() < 19
      && std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return c >= '0' && c <= '9'; }))
    return s;
  return lua_quote(s);
}

} // namespace caflens::dashboard::detail
