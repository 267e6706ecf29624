// The actor that runs a sink: periodic and backlog-driven export, drop
// events, and a shutdown on termination that exports what is queued.
#include <string>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"

#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::sinks {

namespace {

using export_atom = caf::atom_constant<caf::atom("snkexport")>;
using tick_atom = caf::atom_constant<caf::atom("snktick")>;

struct sink_state {
  sink_ptr s;
  telemetry::bus* b = nullptr;
  uint64_t reported_full = 0;
  uint64_t reported_failed = 0;
  static inline const char* name = "caflens.sink";
};

/// Emits `caflens.sink.dropped` for drops since the last report.
void report_drops(sink_state& st) {
  auto stats = st.s->stats();
  auto emit = [&](uint64_t now, uint64_t& before, const char* reason) {
    if (now <= before)
      return;
    auto n = now - before;
    before = now;
    st.b->execute(telemetry::event_name{"caflens", "sink", "dropped"},
                  {{"system_time",
                    static_cast<double>(telemetry::bus::system_time())},
                   {"count", static_cast<double>(n)}},
                  {{"sink", st.s->name()}, {"reason", reason}});
  };
  emit(stats.dropped_queue_full, st.reported_full, "queue_full");
  emit(stats.dropped_export_failed, st.reported_failed, "export_failed");
}

caf::behavior sink_actor(caf::stateful_actor<sink_state>* self, sink_ptr s,
                         telemetry::bus* b, sink_actor_options opts) {
  self->state.s = s;
  self->state.b = b;
  auto handler_id = "caflens.sink." + s->name();
  // Whatever ends the actor (a supervisor's shutdown, a crash, a kill),
  // the handler goes first, then everything queued is exported.
  self->attach_functor([s, b, handler_id, opts](const caf::error&) {
    b->detach(handler_id);
    s->on_backlog(nullptr);
    s->shutdown(opts.shutdown_timeout);
  });
  s->on_backlog([h = caf::actor{self}] { caf::anon_send(h, export_atom::value); });
  auto interval = s->options().flush_interval;
  self->delayed_send(self, interval, tick_atom::value);
  auto drain = [self] {
    // One batch per message keeps the actor responsive to flushes and
    // exits under a steady flood.
    auto& st = self->state;
    auto n = st.s->export_once();
    if (n && *n >= st.s->options().max_batch)
      self->send(self, export_atom::value);
    else if (n && *n > 0)
      st.s->flush(); // caught up: make the exported records durable
    report_drops(st);
  };
  return {
    [=](tick_atom) {
      drain();
      self->delayed_send(self, interval, tick_atom::value);
    },
    [=](export_atom) { drain(); },
    [=](caf::flush_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      auto err = st.s->flush();
      report_drops(st);
      if (err)
        return err;
      return caf::ok_atom::value;
    },
  };
}

} // namespace

caf::error attach_sink(const sink_ptr& s, telemetry::bus& b) {
  if (!s)
    return make_error(sinks_errc::invalid_options, "attach_sink: no sink");
  if (s->name().empty() || s->name().find('.') != std::string::npos)
    return make_error(sinks_errc::invalid_options,
                      "attach_sink: a sink needs a name without dots, got '"
                        + s->name() + "'");
  auto events = events_of(s->options());
  auto sp = s;
  auto err = b.attach_many(
    "caflens.sink." + s->name(), events,
    [sp](const telemetry::event_name& ev, const telemetry::measurements& m,
         const telemetry::metadata& md, const std::any&) {
      sp->consume(make_record(ev, m, md));
    });
  if (err)
    return err;
  s->instrument(&b);
  return {};
}

caf::expected<caf::actor> spawn_sink(caf::actor_system& sys, sink_ptr s,
                                     telemetry::bus& b,
                                     sink_actor_options opts) {
  // Attach first so that a duplicate name fails before anything runs.
  if (!opts.attached)
    if (auto err = attach_sink(s, b))
      return err;
  return sys.spawn(sink_actor, std::move(s), &b, opts);
}

} // namespace caflens::sinks
