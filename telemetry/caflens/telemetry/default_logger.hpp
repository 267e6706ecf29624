#pragma once

#include <ostream>
#include <string_view>

#include "caf/error.hpp"

namespace caflens::telemetry {

class bus;

enum class log_level : uint8_t { debug, info, warning, error };

std::string_view to_string(log_level x) noexcept;

/// The level the default logger assigns to an event: error for `exception`,
/// `failure`, `crashed` and `*_error` events, warning for notifications,
/// alerts, restarts and shutdowns, info for start/stop/done, debug otherwise.
log_level level_of(const class event_name& name) noexcept;

/// Outside a lens. In a lens, `[caflens] log-level` (CAFLENS_LOG_LEVEL) runs
/// the same lines as a sink actor (caflens/sinks/file_sink.hpp, path "-"), so
/// emitters never write to a stream themselves.
///
/// Attaches a handler (id "caflens.default_logger") to every catalogue event
/// that writes one line per event at or above `level` to `out` (std::clog by
/// default): "[caflens] warning caflens.supervisor.child_restarted {...}".
/// Error: `already_exists` when attached already.
caf::error attach_default_logger(log_level level = log_level::info,
                                 std::ostream* out = nullptr);

caf::error attach_default_logger(bus& b, log_level level,
                                 std::ostream* out = nullptr);

/// Detaches it. Error: `not_found`.
caf::error detach_default_logger();

caf::error detach_default_logger(bus& b);

} // namespace caflens::telemetry
