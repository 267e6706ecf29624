#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "caf/fwd.hpp"
#include "caf/invoke_message_result.hpp"

#include "caflens/skills/actor_stats.hpp"

namespace caflens::skills::detail {

/// One trace of one actor (see `tracer`); defined in tracer.cpp.
class trace_session;

/// Guards `actor_stats::trace_owner` of every actor: taken when a trace is
/// attached or detached, and by a traced actor once per message to pick up
/// its trace — never on the path of an untraced actor.
std::mutex& trace_mutex() noexcept;

/// What the consume path of a traced actor carries from before the handler
/// run to after it. Empty `session`: this message is not captured.
struct trace_ticket {
  std::shared_ptr<trace_session> session;
  int64_t delivered_ns = 0; // tracer clock, before rendering
  int64_t start_ns = 0;     // tracer clock, handler start
  uint64_t sender = 0;
  std::string rendering;
};

/// Checks the trace's limits, renders the message and matches it. Called by
/// a tracked actor's `consume` when `stats.trace` is set. Never throws.
trace_ticket begin_trace(actor_stats& stats,
                         const caf::mailbox_element& x) noexcept;

/// Records a captured message after its handler ran (`threw`: the handler
/// left with an exception). Never throws.
void end_trace(trace_ticket& ticket, caf::invoke_message_result result,
               bool threw) noexcept;

/// Ends the trace of an actor that left the process table.
void end_trace_of_exited(actor_stats& stats) noexcept;

} // namespace caflens::skills::detail
