// Messages between the lens's actors. Each is a typed, serializable struct
// (announced by `caflens::add_message_types`), so an operator can run on
// another node without change.
#pragma once

#include <cstdint>
#include <string>

#include "caf/actor.hpp"
#include "caf/meta/type_name.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "caflens/actors/types.hpp"

namespace caflens::actors {

// -- requests to the coordinator ----------------------------------------------

/// Starts (or queues) an investigation; the reply is the result.
struct investigate_request {
  std::string reason;
  investigate_options options;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, investigate_request& x) {
  return f(caf::meta::type_name("caflens::actors::investigate_request"),
           x.reason, x.options);
}

/// Cancels the running or a queued investigation (empty trace id: the running
/// one). Replies true when something was cancelled.
struct cancel_request {
  std::string trace_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_request& x) {
  return f(caf::meta::type_name("caflens::actors::cancel_request"),
           x.trace_id);
}

/// Asks for the coordinator's status as JSON text: running trace id, queue,
/// operators.
struct status_request {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_request&) {
  return f(caf::meta::type_name("caflens::actors::status_request"));
}

/// An alert fired: investigate unless rate-limited (reply: true when an
/// investigation was started or queued).
struct alert_request {
  std::string name;
  std::string details;
  /// The alert's structured fields (JSON text; `sinks::alert_event`'s for a
  /// rule): the investigation's context.
  std::string context;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alert_request& x) {
  return f(caf::meta::type_name("caflens::actors::alert_request"), x.name,
           x.details, x.context);
}

// -- operator <-> coordinator -------------------------------------------------

/// What an operator is started with (the simple_one_for_one child's
/// argument; a restarted operator gets the same spec).
struct operator_spec {
  std::string trace_id;
  /// Unique per operator per investigation.
  uint64_t run_id = 0;
  std::string skill;
  std::string reason;
  /// The coordinator's context for this operator (JSON object text).
  std::string context;
  int32_t max_iterations = 25;
  /// Unix milliseconds after which the operator stops.
  int64_t deadline_at = 0;
  caf::actor coordinator;
  /// The investigation's model failed: run with the offline brain.
  bool offline = false;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_spec& x) {
  return f(caf::meta::type_name("caflens::actors::operator_spec"), x.trace_id,
           x.run_id, x.skill, x.reason, x.context, x.max_iterations,
           x.deadline_at, x.coordinator, x.offline, x.traceparent);
}

/// An operator (or its restarted incarnation) is up.
struct operator_started {
  uint64_t run_id = 0;
  caf::actor self;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_started& x) {
  return f(caf::meta::type_name("caflens::actors::operator_started"),
           x.run_id, x.self, x.traceparent);
}

/// An operator sent a notification.
struct operator_notification {
  uint64_t run_id = 0;
  notification note;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        operator_notification& x) {
  return f(caf::meta::type_name("caflens::actors::operator_notification"),
           x.run_id, x.note, x.traceparent);
}

/// An operator changed state or began an iteration.
struct operator_progress {
  uint64_t run_id = 0;
  operator_state state = operator_state::healthy;
  int32_t iteration = 0;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_progress& x) {
  return f(caf::meta::type_name("caflens::actors::operator_progress"),
           x.run_id, x.state, x.iteration, x.traceparent);
}

/// An operator finished (done, limits, error, cancel).
struct operator_complete {
  uint64_t run_id = 0;
  operator_result result;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_complete& x) {
  return f(caf::meta::type_name("caflens::actors::operator_complete"),
           x.run_id, x.result, x.traceparent);
}

/// The coordinator's message to a running operator (`message_operator`).
struct operator_message {
  std::string text;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_message& x) {
  return f(caf::meta::type_name("caflens::actors::operator_message"), x.text, x.traceparent);
}

/// Stops an operator: it reports what it has and exits normally.
struct operator_cancel {
  std::string reason;
  /// W3C trace context (the investigation's trace, this hop's span).
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_cancel& x) {
  return f(caf::meta::type_name("caflens::actors::operator_cancel"),
           x.reason, x.traceparent);
}

/// Drives a loop one step; stale ticks (older generation) are ignored.
struct loop_tick {
  uint64_t generation = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, loop_tick& x) {
  return f(caf::meta::type_name("caflens::actors::loop_tick"), x.generation);
}

/// Fires at a loop's deadline.
struct deadline_tick {
  uint64_t generation = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deadline_tick& x) {
  return f(caf::meta::type_name("caflens::actors::deadline_tick"),
           x.generation);
}

/// A periodic or scheduled check is due.
struct scheduled_check {
  std::string reason;
  std::string trigger;
  /// Periodic checks re-arm themselves.
  bool periodic = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scheduled_check& x) {
  return f(caf::meta::type_name("caflens::actors::scheduled_check"), x.reason,
           x.trigger, x.periodic);
}

/// Checks that a crashed operator came back (else it is given up).
struct restart_check {
  uint64_t run_id = 0;
  int32_t crashes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restart_check& x) {
  return f(caf::meta::type_name("caflens::actors::restart_check"), x.run_id,
           x.crashes);
}

/// What the cluster connector tells the coordinator: a node came or went.
struct node_event {
  std::string node;
  bool up = false;
  std::string reason;
  int64_t at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_event& x) {
  return f(caf::meta::type_name("caflens::actors::node_event"), x.node, x.up,
           x.reason, x.at);
}

// -- interfaces ---------------------------------------------------------------

using operator_actor
  = caf::typed_actor<caf::reacts_to<operator_message>,
                     caf::reacts_to<operator_cancel>,
                     caf::reacts_to<loop_tick>, caf::reacts_to<deadline_tick>>;

using coordinator_actor = caf::typed_actor<
  caf::replies_to<investigate_request>::with<investigation_result>,
  caf::replies_to<cancel_request>::with<bool>,
  caf::replies_to<status_request>::with<std::string>,
  caf::replies_to<alert_request>::with<bool>>;

/// The coordinator as its operators and its own timers reach it: the
/// public interface plus what only the engine sends.
using coordinator_engine_actor = coordinator_actor::extend<
  caf::reacts_to<operator_started>, caf::reacts_to<operator_notification>,
  caf::reacts_to<operator_progress>, caf::reacts_to<operator_complete>,
  caf::reacts_to<loop_tick>, caf::reacts_to<deadline_tick>,
  caf::reacts_to<scheduled_check>, caf::reacts_to<restart_check>,
  caf::reacts_to<node_event>>;

} // namespace caflens::actors
