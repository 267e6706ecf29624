// How OTP's exit reasons map onto CAF's.
//
// | OTP                 | caflens / CAF |
// |---------------------|------------------------------------------------------|
// | `normal`            | `caf::exit_reason::normal` (an empty `caf::error`) |
// | `shutdown`          | `caf::exit_reason::user_shutdown` | | `{shutdown,
// Term}`  | `supervision_errc::shutdown` with Term as context,   | | | and
// `supervision_errc::failed_to_start_child`        | | `kill` / `killed`   |
// `caf::exit_reason::kill`                             | | anything else | any
// other error (abnormal)                           |
//
// Normal exits (the first three rows) do not restart transient children.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "caf/error.hpp"

namespace caflens::supervision {

/// OTP's `{shutdown, Term}`: a normal exit that carries a reason.
caf::error shutdown_reason(std::string term);

/// True for `user_shutdown`, `supervision_errc::shutdown` and
/// `supervision_errc::failed_to_start_child` (OTP's `shutdown` and
/// `{shutdown, _}`).
bool is_shutdown_reason(const caf::error& reason);

/// True for a normal exit in OTP's sense: no error (`exit_reason::normal`) or
/// a shutdown reason. Transient children are restarted only otherwise.
bool is_normal_exit(const caf::error& reason);

/// What `start_child` answers when the child does not start
/// (`supervision_errc::start_error`): the start function's error and the
/// spec's id and type, as OTP's `{error, {Reason, ChildSpec}}`.
struct start_failure {
  caf::error reason;
  std::string id;
  std::string type;
};

/// The parts of a `start_error`, or nullopt for any other error.
std::optional<start_failure> start_error_of(const caf::error& err);

/// Renders reasons that have no OTP form (see `reason_text`).
using reason_formatter = std::function<std::string(const caf::error&)>;

/// Text in the style of OTP: "normal", "shutdown", "shutdown:<term>",
/// "killed", "shutdown:failed_to_start_child:<id>:<reason>", and for any
/// other error `other(reason)` or, without `other`, caflens' rendering.
std::string reason_text(const caf::error& reason,
                        const reason_formatter& other = nullptr);

} // namespace caflens::supervision
