#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

namespace caflens::sandbox {

/// The host function behind a callback: receives the script's arguments as
/// JSON (nil becomes null; at most `callback::params.size()` of them, fewer
/// when the script passes fewer) and returns one JSON value. An error becomes
/// a Lua error that names the callback; so does an exception.
using callback_function = std::function<caf::expected<nlohmann::json>(
  const std::vector<nlohmann::json>& args)>;

/// What a parameter accepts.
enum class param_type : uint8_t {
  /// Any value (the host function checks it).
  any,
  /// A whole number: a Lua integer, or a float with an integral value
  /// (passed on as an integer).
  integer,
  /// Any number.
  number,
  string,
  boolean,
};

std::string_view to_string(param_type x) noexcept;

/// One parameter of a callback, declared where the callback is defined. The
/// sandbox checks every call against the declaration (how many arguments,
/// each one's type, bounds and choices) and fills in defaults, so a host
/// function receives valid values only; a violation becomes a Lua error
/// that names the callback, the parameter and what it accepts.
struct param {
  std::string name;
  param_type type = param_type::any;
  /// A missing (nil) argument is an error.
  bool required = false;
  /// Bounds of a number (inclusive).
  std::optional<double> min;
  std::optional<double> max;
  /// The strings a string parameter accepts (empty: any).
  std::vector<std::string> one_of;
  /// Passed when the script gives none (null: nothing is passed).
  nlohmann::json default_value;

  param() = default;

  /// A parameter of any type, optional: the name only.
  param(const char* name) : name(name) {}

  param(std::string name) : name(std::move(name)) {}

  /// An optional integer within [min, max] defaulting to `dflt`.
  static param integer(std::string name, int64_t dflt, int64_t min,
                       int64_t max);

  /// An optional number within [min, max] defaulting to `dflt`.
  static param number(std::string name, double dflt, double min, double max);

  /// An optional string defaulting to `dflt` (one of `choices` when given).
  static param string(std::string name, std::string dflt,
                      std::vector<std::string> choices = {});

  /// A required parameter of `type`.
  static param needed(std::string name, param_type type = param_type::any);

  /// "n: integer 1..200 = 10".
  std::string describe() const;

  /// Checks `x` (null: not given) and returns what the host function gets:
  /// `x` converted, or the default. Error text: why not.
  std::optional<nlohmann::json> check(const nlohmann::json& x,
                                      std::string& error) const;
};

/// A host function exposed to scripts as a global Lua function. A plain value
/// type; `fn` may be called from the thread that runs `execute`, concurrently
/// when several `execute` calls share it.
struct callback {
  /// The global name: a Lua identifier that is no keyword and no name of the
  /// sandbox's libraries (e.g. "actors_top").
  std::string name;

  /// The 0–2 parameters (a name alone accepts anything), checked on every
  /// call; shown in error messages ("actors_top(n)").
  std::vector<param> params;

  /// One line for the script's author, shown in the list of known callbacks.
  std::string doc;

  /// The host function.
  callback_function fn;

  /// Time the callback needs by design (e.g. sampling over a window). Each
  /// call extends the script's wall-time budget by this much.
  std::chrono::milliseconds declared_duration{0};

  /// "name(param1, param2)".
  std::string signature() const;
};

} // namespace caflens::sandbox
