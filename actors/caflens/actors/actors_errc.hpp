#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens {

/// Errors of the investigation engine (`caflens::actors`).
enum class actors_errc : uint8_t {
  /// A configuration key holds a bad value (the context names both).
  invalid_config = 1,
  /// An investigation request is malformed (empty reason, bad options).
  invalid_request,
  /// The queue of waiting investigations is full.
  queue_full,
  /// An investigation is running and the request asked not to queue.
  busy,
  /// The investigation was cancelled before it finished.
  cancelled,
  /// The investigation hit its deadline.
  deadline,
  /// The coordinator's brain failed (LLM error); the context says why.
  brain_failed,
  /// No such skill, operator, notification or investigation.
  not_found,
  /// The lens is stopped or its coordinator is down.
  unavailable,
  /// The caller gave up waiting (blocking `investigate`).
  timeout,
  /// An action was refused: actions are read-only, it is not registered or
  /// not allow-listed, its arguments are bad, or it was already decided.
  action_denied,
  /// An approved action ran and failed (the context says why).
  action_failed,
  /// A node refused the handshake (protocol version, cluster token, unknown
  /// session); the context names the refusing side and why.
  handshake_refused,
  /// A node is not connected, was lost, or did not answer in time.
  node_unreachable,
};

std::string to_string(actors_errc code);

/// True once `render_error` knows the category (always; called by
/// `add_message_types` so that a static link keeps the registration).
bool actors_errc_registered() noexcept;

CAFLENS_ERROR_CATEGORY(actors_errc, "caflens");

} // namespace caflens
