#pragma once

#include <chrono>
#include <functional>
#include <string>
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

/// A host function exposed to scripts as a global Lua function. A plain value
/// type; `fn` may be called from the thread that runs `execute`, concurrently
/// when several `execute` calls share it.
struct callback {
  /// The global name: a Lua identifier that is no keyword and no name of the
  /// sandbox's libraries (e.g. "actors_top").
  std::string name;

  /// Names of the 0–2 parameters, shown in error messages ("actors_top(n)").
  std::vector<std::string> params;

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
