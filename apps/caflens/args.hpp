// Walking a subcommand's arguments: flags, "--opt VALUE" and "--opt=VALUE".
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace caflens::cli {

/// A whole number in [lo, hi]; false for anything else.
inline bool parse_integer(const std::string& text, int64_t lo, int64_t hi,
                          int64_t& out) {
  if (text.empty())
    return false;
  char* end = nullptr;
  auto x = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    return false;
  out = x;
  return true;
}

class arg_reader {
public:
  arg_reader(std::string_view cmd, const std::vector<std::string>& args)
    : cmd_(cmd), args_(args) {
  }

  /// Moves to the next argument; false at the end.
  bool next() {
    return ++i_ < args_.size();
  }

  const std::string& arg() const {
    return args_[i_];
  }

  /// True when the argument is `name` ("--opt VALUE" or "--opt=VALUE"):
  /// `value` holds the value. A missing value prints a usage error and sets
  /// `failed()`.
  bool option(std::string_view name, std::string& value) {
    auto& a = args_[i_];
    if (a == name) {
      if (i_ + 1 >= args_.size()) {
        usage_error(cmd_, "option " + a + " needs a value");
        failed_ = true;
        return true;
      }
      value = args_[++i_];
      return true;
    }
    if (a.size() > name.size() + 1 && a.compare(0, name.size(), name) == 0
        && a[name.size()] == '=') {
      value = a.substr(name.size() + 1);
      return true;
    }
    return false;
  }

  bool failed() const noexcept {
    return failed_;
  }

  /// An unknown option or a stray argument: the usage error's exit code.
  int unexpected() const {
    auto& a = args_[i_];
    if (!a.empty() && a.front() == '-')
      return usage_error(cmd_, "unknown option '" + a + "'");
    return usage_error(cmd_, "unexpected argument '" + a + "'");
  }

private:
  std::string_view cmd_;
  const std::vector<std::string>& args_;
  size_t i_ = static_cast<size_t>(-1);
  bool failed_ = false;
};

} // namespace caflens::cli
