#pragma once

#include <cstdint>
#include <string>

#include "caf/make_message.hpp"

#include "caflens/telemetry/error.hpp"

namespace caflens::supervision {

/// Errors of the supervision component. Rendered as "supervisor: <code>".
enum class supervision_errc : uint8_t {
  /// Supervisor flags are invalid (e.g. a period of 0 ms).
  invalid_flags = 1,
  /// A child spec is invalid (empty id, no start function, or a
  /// simple_one_for_one supervisor without exactly one template).
  invalid_child_spec,
  /// OTP's `bad_combination`: `significant` with a permanent child or with
  /// `auto_shutdown::never`.
  bad_combination,
  /// Two child specs share one id.
  duplicate_child_id,
  /// No child with this id (or actor).
  not_found,
  /// A spec with this id exists but its child is not running.
  already_present,
  /// A child with this id is running.
  already_started,
  /// The operation needs a stopped child, but it is running.
  running,
  /// The operation needs a stopped child, but it is being restarted.
  restarting,
  /// The operation is invalid for a simple_one_for_one supervisor.
  simple_one_for_one,
  /// The operation needs a simple_one_for_one supervisor.
  not_simple_one_for_one,
  /// Exit reason of a supervisor whose initial start failed; context: child
  /// id and the start error (OTP `{shutdown, {failed_to_start_child, Id, R}}`,
  /// a shutdown with reason, hence a *normal* exit).
  failed_to_start_child,
  /// OTP's `{shutdown, Term}`: a normal exit that carries a reason (context).
  shutdown,
  /// A start function threw; context: the exception's text.
  start_function_threw,
  /// A start function returned neither an actor, an error nor ignore.
  invalid_start_result,
  /// The supervisor is shutting down; the request was not served.
  shutting_down,
  /// `start_child` could not start the child (OTP's `{error, {Reason,
  /// ChildSpec}}`); context: the start error (`caf::error`), the child's
  /// id and its type ("worker", "supervisor"). See `start_error_of`.
  start_error,
};

std::string to_string(supervision_errc code);

CAFLENS_ERROR_CATEGORY(supervision_errc, "supervisor");

namespace detail {

/// True once the `supervisor` category is registered with
/// `caflens::register_error_category` (done by a static initializer; calling
/// this keeps that initializer linked).
bool error_category_registered() noexcept;

} // namespace detail

} // namespace caflens::supervision
