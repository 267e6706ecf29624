// The requests a supervisor answers and their replies. Every type is a plain
// struct with an `inspect` overload and is announced by
// `add_message_types`, so the same requests work against a remote supervisor
// (except `start_child`, whose start function cannot cross nodes).
//
// | request               | reply                          | errors
// (supervision_errc)  |
// |-----------------------|--------------------------------|----------------------------|
// | `start_child`         | `caf::actor` (null if ignored) |
// invalid_child_spec, bad_combination, already_started, already_present,
// simple_one_for_one, or the start error | | `start_dynamic_child` |
// `caf::actor` (null if ignored) | not_simple_one_for_one, or the start error |
// | `terminate_child`     | `caf::ok_atom`                 | not_found,
// simple_one_for_one (by id) | | `restart_child`       | `caf::actor` (null if
// ignored) | not_found, running, restarting, simple_one_for_one, or the start
// error | | `delete_child`        | `caf::ok_atom`                 | not_found,
// running, restarting, simple_one_for_one | | `which_children`      |
// `std::vector<child_info>`      | —                          | |
// `count_children`      | `child_counts`                 | — | |
// `get_childspec`       | `child_spec` (no start fn)     | not_found | |
// `get_tree`            | `std::string` (JSON)           | — | | `subscribe` |
// `caf::ok_atom`                 | —                          | | `unsubscribe`
// | `caf::ok_atom`                 | —                          |
//
// A supervisor in the middle of a restart or shutdown answers requests once
// that operation is over (OTP's supervisor is busy the same way), and answers
// `shutting_down` to requests still queued when it stops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/message.hpp"
#include "caf/meta/type_name.hpp"

#include "caflens/supervision/child_spec.hpp"

namespace caflens::supervision {

/// Adds a child to a static supervisor and starts it (OTP `start_child/2`
/// with a child spec).
struct start_child {
  child_spec spec;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_child& x) {
  return f(caf::meta::type_name("caflens::supervision::start_child"), x.spec);
}

/// Starts a child of a simple_one_for_one supervisor from its template with
/// extra arguments (OTP `start_child/2` with a list).
struct start_dynamic_child {
  caf::message args;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_dynamic_child& x) {
  return f(caf::meta::type_name("caflens::supervision::start_dynamic_child"),
           x.args);
}

/// Stops a child by id (static) or by actor (simple_one_for_one). A static
/// child's spec stays (unless temporary) and can be restarted or deleted.
struct terminate_child {
  std::string id;
  caf::actor child;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, terminate_child& x) {
  return f(caf::meta::type_name("caflens::supervision::terminate_child"), x.id,
           x.child);
}

/// Starts a stopped static child again. Not counted as a restart.
struct restart_child {
  std::string id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restart_child& x) {
  return f(caf::meta::type_name("caflens::supervision::restart_child"), x.id);
}

/// Removes the spec of a stopped static child.
struct delete_child {
  std::string id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delete_child& x) {
  return f(caf::meta::type_name("caflens::supervision::delete_child"), x.id);
}

/// Lists the children in start order.
struct which_children {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, which_children&) {
  return f(caf::meta::type_name("caflens::supervision::which_children"));
}

/// Counts specs, running children, supervisors and workers.
struct count_children {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, count_children&) {
  return f(caf::meta::type_name("caflens::supervision::count_children"));
}

/// Returns a child's spec by id (static) or by actor (dynamic).
struct get_childspec {
  std::string id;
  caf::actor child;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_childspec& x) {
  return f(caf::meta::type_name("caflens::supervision::get_childspec"), x.id,
           x.child);
}

/// Returns the whole tree below this supervisor (nested supervisors included)
/// as JSON text; see `tree.hpp`.
struct get_tree {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_tree&) {
  return f(caf::meta::type_name("caflens::supervision::get_tree"));
}

/// Sends every report of this supervisor to `subscriber` (local or remote)
/// until it unsubscribes or terminates.
struct subscribe {
  caf::actor subscriber;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe& x) {
  return f(caf::meta::type_name("caflens::supervision::subscribe"),
           x.subscriber);
}

struct unsubscribe {
  caf::actor subscriber;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unsubscribe& x) {
  return f(caf::meta::type_name("caflens::supervision::unsubscribe"),
           x.subscriber);
}

/// A child's state as seen by its supervisor (OTP: pid, `restarting`, or
/// `undefined`).
enum class child_status : uint8_t { running, restarting, stopped };

std::string to_string(child_status x);

/// One row of `which_children`.
struct child_info {
  std::string id;
  /// Null unless running.
  caf::actor actor;
  child_status status = child_status::stopped;
  child_type type = child_type::worker;
  restart_type restart = restart_type::permanent;
  /// Restarts of this child since the supervisor started.
  uint32_t restarts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("caflens::supervision::child_info"), x.id,
           x.actor, x.status, x.type, x.restart, x.restarts);
}

/// The reply to `count_children` (OTP's proplist).
struct child_counts {
  uint32_t specs = 0;
  uint32_t active = 0;
  uint32_t supervisors = 0;
  uint32_t workers = 0;

  friend bool operator==(const child_counts&, const child_counts&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("caflens::supervision::child_counts"), x.specs,
           x.active, x.supervisors, x.workers);
}

} // namespace caflens::supervision
