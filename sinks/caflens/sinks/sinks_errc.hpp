#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::sinks {

/// Errors of the sinks component.
enum class sinks_errc : uint8_t {
  /// An option is missing or out of range (empty path, port 0 for StatsD...).
  invalid_options = 1,
  /// A file could not be opened, written, synced or rotated.
  io_error,
  /// A network destination refused or failed (bind, connect, send, HTTP).
  network_error,
  /// The sink is shut down and accepts nothing more.
  closed,
  /// A shutdown or flush did not finish within its timeout.
  timeout,
};

std::string to_string(sinks_errc code);

CAFLENS_ERROR_CATEGORY(sinks_errc, "sinks");

} // namespace caflens::sinks
