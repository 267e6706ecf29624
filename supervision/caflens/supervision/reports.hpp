// Reports: one typed message per supervisor event, sent to every subscriber
// (see `subscribe`) and mirrored as a telemetry event
// `caflens.supervisor.<event>` on `caflens::telemetry::bus::global()`.
// Every report names its supervisor and, where it concerns a child, the
// child's id, its actor id, the reason and the number of restarts inside the
// current intensity window.
#pragma once

#include <cstdint>
#include <string>

#include "caf/actor_addr.hpp"
#include "caf/error.hpp"
#include "caf/meta/type_name.hpp"

#include "caflens/supervision/child_spec.hpp"

namespace caflens::supervision {

/// A supervisor finished starting its children.
struct supervisor_started {
  std::string supervisor;
  supervision::strategy strategy = strategy::one_for_one;
  uint32_t children = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_started& x) {
  return f(caf::meta::type_name("caflens::supervision::supervisor_started"),
           x.supervisor, x.strategy, x.children);
}

/// A child started, initially, through the API or as part of a restart.
struct child_started {
  std::string supervisor;
  std::string child_id;
  caf::actor_id actor = 0;
  child_type type = child_type::worker;
  restart_type restart = restart_type::permanent;
  /// True when the start is part of a restart.
  bool restarted = false;
  uint32_t restarts_in_period = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_started& x) {
  return f(caf::meta::type_name("caflens::supervision::child_started"),
           x.supervisor, x.child_id, x.actor, x.type, x.restart, x.restarted,
           x.restarts_in_period);
}

/// A start function returned `ignore`.
struct child_ignored {
  std::string supervisor;
  std::string child_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_ignored& x) {
  return f(caf::meta::type_name("caflens::supervision::child_ignored"),
           x.supervisor, x.child_id);
}

/// A start function failed (or a supervisor child failed to initialize).
struct child_start_error {
  std::string supervisor;
  std::string child_id;
  caf::error reason;
  uint32_t restarts_in_period = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_start_error& x) {
  return f(caf::meta::type_name("caflens::supervision::child_start_error"),
           x.supervisor, x.child_id, x.reason, x.restarts_in_period);
}

/// A child exited on its own (crash, normal exit, exit from elsewhere).
struct child_exited {
  std::string supervisor;
  std::string child_id;
  caf::actor_id actor = 0;
  caf::error reason;
  restart_type restart = restart_type::permanent;
  /// Whether the supervisor will try to restart it (intensity permitting).
  bool will_restart = false;
  uint32_t restarts_in_period = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_exited& x) {
  return f(caf::meta::type_name("caflens::supervision::child_exited"),
           x.supervisor, x.child_id, x.actor, x.reason, x.restart,
           x.will_restart, x.restarts_in_period);
}

/// A child was started again after an exit (its own or, under one_for_all
/// and rest_for_one, a sibling's).
struct child_restarted {
  std::string supervisor;
  std::string child_id;
  /// The new actor.
  caf::actor_id actor = 0;
  /// The exit reason that caused the restart.
  caf::error reason;
  uint32_t restarts_in_period = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_restarted& x) {
  return f(caf::meta::type_name("caflens::supervision::child_restarted"),
           x.supervisor, x.child_id, x.actor, x.reason, x.restarts_in_period);
}

/// The supervisor stopped a child (API, sibling restart or shutdown).
struct child_terminated {
  std::string supervisor;
  std::string child_id;
  caf::actor_id actor = 0;
  /// The reason the child died with (user_shutdown, kill, or its own).
  caf::error reason;
  shutdown_policy shutdown;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_terminated& x) {
  return f(caf::meta::type_name("caflens::supervision::child_terminated"),
           x.supervisor, x.child_id, x.actor, x.reason, x.shutdown);
}

/// More than `intensity` restarts within `period`: the supervisor stops all
/// children and exits with `user_shutdown` (OTP `shutdown`).
struct intensity_exceeded {
  std::string supervisor;
  /// The child whose exit would have been one restart too many.
  std::string child_id;
  caf::error reason;
  uint32_t restarts = 0;
  uint32_t intensity = 0;
  int64_t period_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, intensity_exceeded& x) {
  return f(caf::meta::type_name("caflens::supervision::intensity_exceeded"),
           x.supervisor, x.child_id, x.reason, x.restarts, x.intensity,
           x.period_ms);
}

/// A significant child's exit triggered auto_shutdown.
struct auto_shutdown_triggered {
  std::string supervisor;
  std::string child_id;
  supervision::auto_shutdown mode = auto_shutdown::never;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        auto_shutdown_triggered& x) {
  return f(
    caf::meta::type_name("caflens::supervision::auto_shutdown_triggered"),
    x.supervisor, x.child_id, x.mode);
}

/// The supervisor stopped all its children and exits with `reason`.
struct supervisor_stopped {
  std::string supervisor;
  caf::error reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_stopped& x) {
  return f(caf::meta::type_name("caflens::supervision::supervisor_stopped"),
           x.supervisor, x.reason);
}

} // namespace caflens::supervision
