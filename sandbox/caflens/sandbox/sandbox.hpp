#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "caf/expected.hpp"

#include "caflens/sandbox/callback.hpp"
#include "caflens/sandbox/execute_result.hpp"
#include "caflens/sandbox/limits.hpp"
#include "caflens/sandbox/sandbox_errc.hpp"

namespace caflens::sandbox {

/// Runs short, untrusted Lua 5.4 programs against host callbacks.
///
/// Every `execute` call gets a fresh `lua_State` that holds only the base
/// library (without `load`, `loadfile`, `dofile`, `require`; `collectgarbage`
/// answers only "count"; `print` is captured; `setmetatable` refuses `__gc`),
/// `string` (without `dump` and `pack`/`unpack`; `find`, `match`, `gmatch`,
/// `gsub` and `rep` replaced by bounded versions), `table` (`sort` and `move`
/// counted as Lua code), `math`, `utf8`, the `json` table (`json.null`,
/// `json.array`), the global `null` (= `json.null`), the base callbacks
/// `get_current_time()` and `get_node_info()`, and the given callbacks. No
/// `io`, `os`, `package`, `debug` or `coroutine` exists in the state, and only
/// text chunks load. The state is closed before `execute` returns.
///
/// Limits (see `limits`) stop a script with their own error even when the
/// script catches the error with `pcall`: once a limit trips, every further
/// instruction, library call and allocation fails, and the result reports the
/// limit. No exception escapes `execute`.
///
/// The class is thread-safe: `execute` is const and concurrent calls share
/// nothing but the (thread-safe) telemetry bus and the callbacks given to them.
///
/// ~~~
/// caflens::sandbox::sandbox box{{.max_wall_time = 500ms}};
/// auto res = box.execute("return actors_top(3)", {actors_top_callback});
/// if (!res)
///   std::cerr << caflens::render_error(res.error()) << '\n';
/// ~~~
class sandbox {
public:
  /// Creates a sandbox with `limits` (checked by each `execute`; see
  /// `validate`). `node_name` is what `get_node_info()` reports as `node`
  /// (the host name when empty).
  explicit sandbox(caflens::sandbox::limits limits = {},
                   std::string node_name = {});

  /// Runs `code` with `callbacks` as global functions (they may replace the
  /// base callbacks of the same name). `trace_id` tags the telemetry events
  /// (`caflens.sandbox.*`). Errors: see `sandbox_errc`; the context string is
  /// written for the script's author and names the line, the limit or the
  /// callback.
  caf::expected<execute_result>
  execute(std::string_view code, const std::vector<callback>& callbacks = {},
          std::string_view trace_id = {}) const;

  const caflens::sandbox::limits& limits() const noexcept { return limits_; }

  const std::string& node_name() const noexcept { return node_name_; }

  /// The callbacks every script gets: `get_current_time()` (unix_ms,
  /// iso8601, monotonic_ms) and `get_node_info()` (node, hostname, pid, cpus,
  /// lua, limits).
  const std::vector<callback>& base_callbacks() const noexcept {
    return base_callbacks_;
  }

private:
  caflens::sandbox::limits limits_;
  std::string node_name_;
  std::vector<callback> base_callbacks_;
};

} // namespace caflens::sandbox
