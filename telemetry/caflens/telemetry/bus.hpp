#pragma once

#include <any>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "caf/error.hpp"

#include "caflens/telemetry/correlation.hpp"
#include "caflens/telemetry/detail/hazard_pointer.hpp"
#include "caflens/telemetry/event_name.hpp"
#include "caflens/telemetry/value.hpp"

namespace caflens::telemetry {

/// A handler: called in the emitter's thread with the event's name,
/// measurements, metadata and the config given to `attach`. Keep it cheap. A
/// handler that throws is detached and `caflens.telemetry.handler.failure` is
/// emitted; the emitter never sees the exception.
using handler_function
  = std::function<void(const event_name& event, const measurements& m,
                       const metadata& md, const std::any& config)>;

/// A handler for hot paths, as metrics attach theirs: a plain function that
/// cannot throw, called in the emitter's thread with the context given to
/// `bus::attach_direct`. It costs one indirect call (no `std::function`, no
/// config), which matters when a handler's own work is a few nanoseconds.
using direct_handler = void (*)(void* context, const event_name& event,
                                const measurements& m,
                                const metadata& md) noexcept;

namespace detail {

struct event_slot;
struct bus_state;
struct handler_entry;

/// What dispatch reads of one handler, in one place.
struct handler_ref {
  direct_handler direct; // else fn with config
  void* context;
  const handler_function* fn;
  const std::any* config;
  handler_entry* entry;
  const std::atomic<bool>* detached;
};

/// The handlers of one event: immutable, replaced on attach and detach
/// (copy-on-write, published with hazard pointers).
struct handler_list {
  const event_name* name;
  std::vector<std::shared_ptr<handler_entry>> entries;
  std::vector<handler_ref> refs; // entries', in the same order
};

} // namespace detail

/// What `list_handlers` reports about one attached handler.
struct handler_info {
  std::string id;
  std::vector<event_name> events;
  std::any config;
};

/// A cheap handle to an event name interned in one bus. Emitting through a
/// handle costs one atomic load when no handler is attached.
class event {
public:
  event() = default;

  const event_name& name() const noexcept;

  bool valid() const noexcept {
    return slot_ != nullptr;
  }

  /// True when a handler is attached (one relaxed load; inline).
  bool active() const noexcept {
    return handlers_ != nullptr
           && handlers_->load(std::memory_order_relaxed) != nullptr;
  }

private:
  friend class bus;

  event(detail::event_slot* slot,
        const std::atomic<detail::handler_list*>* handlers)
    : slot_(slot), handlers_(handlers) {
  }

  detail::event_slot* slot_ = nullptr;
  /// The slot's handler list, read inline so that an event nobody listens
  /// to costs one load and a branch at the call site.
  const std::atomic<detail::handler_list*>* handlers_ = nullptr;
};

/// The telemetry event bus in the shape of Erlang's `:telemetry`: `attach`,
/// `attach_many`, `detach`, `list_handlers`, `execute`, `span`.
///
/// Thread-safe. `execute` takes no lock: handler tables are copy-on-write and
/// published with hazard pointers, so emitting stays lock-free while other
/// threads attach and detach. A handler attached for the whole duration of
/// an `execute` call is called exactly once by it.
class bus {
public:
  bus();
  ~bus();

  bus(const bus&) = delete;
  bus& operator=(const bus&) = delete;

  /// The process-wide default bus (never destroyed). Instrumented code emits
  /// here unconditionally; it does nothing until a handler is attached.
  static bus& global() noexcept;

  // -- handlers ---------------------------------------------------------------

  /// Attaches `fn` under the unique `handler_id` to `event`.
  /// Errors: `already_exists`, `invalid_event_name`, `invalid_argument`.
  caf::error attach(std::string handler_id, const event_name& event,
                    handler_function fn, std::any config = {});

  /// Attaches `fn` under one id to several events (detached together).
  caf::error attach_many(std::string handler_id,
                         const std::vector<event_name>& events,
                         handler_function fn, std::any config = {});

  /// Attaches `fn` under the unique `handler_id` to `event`; `context` is
  /// passed to every call and kept alive as long as a call may run. Errors
  /// as for `attach`.
  caf::error attach_direct(std::string handler_id, const event_name& event,
                           direct_handler fn, std::shared_ptr<void> context);

  /// Detaches a handler from all its events. Error: `not_found`.
  caf::error detach(std::string_view handler_id);

  /// Handlers attached to any event that starts with `prefix` (all for an
  /// empty prefix), ordered by id.
  std::vector<handler_info> list_handlers(const event_name& prefix = {}) const;

  // -- emitting ---------------------------------------------------------------

  /// Interns `name` and returns a handle for fast `execute`. Idempotent.
  event intern(const event_name& name);

  /// Calls every handler attached to `e`. Lock-free; no allocation. With
  /// no handler attached it returns after one inline load.
  void execute(event e, measurements m, metadata md = {}) noexcept {
    if (e.active())
      dispatch(e, m, md);
  }

  /// As above for a name: one hash lookup, no interning.
  void execute(const event_name& name, measurements m,
               metadata md = {}) noexcept;

  void execute(event e, std::initializer_list<measurement> m,
               std::initializer_list<meta_entry> md = {}) noexcept {
    if (e.active())
      dispatch(e, measurements{m}, metadata{md});
  }

  void execute(const event_name& name, std::initializer_list<measurement> m,
               std::initializer_list<meta_entry> md = {}) noexcept {
    execute(name, measurements{m}, metadata{md});
  }

  /// True when at least one handler is attached to `e` (cheap).
  bool has_handlers(event e) const noexcept;

  /// Runs `fn` between `<prefix>.start` and `<prefix>.stop` events, or
  /// `<prefix>.exception` (then rethrows), like `:telemetry.span/3`.
  /// `start` carries system_time and monotonic_time; `stop` duration and
  /// monotonic_time; `exception` duration plus metadata kind and reason. All
  /// three carry `md` and a `telemetry_span_context` id. Durations and
  /// monotonic times are in nanoseconds, system_time in ns since the epoch.
  template <class F>
  std::invoke_result_t<F> span(const event_name& prefix, metadata md, F&& fn);

  template <class F>
  std::invoke_result_t<F> span(const event_name& prefix,
                               std::initializer_list<meta_entry> md, F&& fn) {
    return span(prefix, metadata{md}, std::forward<F>(fn));
  }

  /// Events dropped because handlers nested `execute` calls too deeply
  /// (more than 8 levels in one thread).
  uint64_t dropped_events() const noexcept;

  /// Monotonic nanoseconds (steady clock), as used in span events.
  static int64_t monotonic_time() noexcept;

  /// Nanoseconds since the Unix epoch.
  static int64_t system_time() noexcept;

private:
  caf::error attach_entry(std::string handler_id,
                          const std::vector<event_name>& events,
                          std::shared_ptr<detail::handler_entry> entry);

  /// The handlers' loop, inline: an emitter calls a direct handler with
  /// no call in between. The rest is out of line.
  void dispatch(event e, measurements m, metadata md) noexcept {
    detail::hazard_guard<detail::handler_list> guard{*e.handlers_};
    auto* list = guard.get();
    if (list == nullptr) {
      if (guard.overflow())
        note_dropped();
      return;
    }
    if (detail::correlation_slot() != nullptr)
      dispatch_correlated(*list, m, md);
    else
      run(*list, m, md);
  }

  void run(const detail::handler_list& list, const measurements& m,
           const metadata& md) noexcept {
    for (auto& ref : list.refs) {
      if (ref.detached->load(std::memory_order_acquire))
        continue;
      if (ref.direct != nullptr) {
        ref.direct(ref.context, *list.name, m, md);
        continue;
      }
      try {
        (*ref.fn)(*list.name, m, md, *ref.config);
      } catch (...) {
        handler_failed(ref, *list.name);
      }
    }
  }

  /// Runs the handlers of `list` with the thread's correlation id added.
  void dispatch_correlated(const detail::handler_list& list, measurements m,
                           metadata md) noexcept;

  /// Detaches a handler_function that threw (call in the catch) and
  /// reports it, like :telemetry.
  void handler_failed(const detail::handler_ref& ref,
                      const event_name& name) noexcept;

  void note_dropped() noexcept;

  struct span_events {
    event start, stop, exception;
  };

  span_events span_events_for(const event_name& prefix);

  static uint64_t next_span_id() noexcept;

  void emit_span_exception(const span_events& evs, metadata md, uint64_t id,
                           int64_t start, std::string_view kind,
                           std::string_view reason) noexcept;

  std::unique_ptr<detail::bus_state> state_;
};

// -- template implementations -------------------------------------------------

template <class F>
std::invoke_result_t<F> bus::span(const event_name& prefix, metadata md,
                                  F&& fn) {
  auto evs = span_events_for(prefix);
  auto id = next_span_id();
  std::vector<meta_entry> with_ctx(md.begin(), md.end());
  with_ctx.push_back({"telemetry_span_context", id});
  metadata md2{with_ctx};
  auto start = monotonic_time();
  execute(evs.start,
          {{"system_time", static_cast<double>(system_time())},
           {"monotonic_time", static_cast<double>(start)}},
          md2);
  auto finish = [&] {
    auto now = monotonic_time();
    execute(evs.stop,
            {{"duration", static_cast<double>(now - start)},
             {"monotonic_time", static_cast<double>(now)}},
            md2);
  };
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(fn)();
      finish();
    } else {
      auto result = std::forward<F>(fn)();
      finish();
      return result;
    }
  } catch (const std::exception& ex) {
    emit_span_exception(evs, md2, id, start, "error", ex.what());
    throw;
  } catch (...) {
    emit_span_exception(evs, md2, id, start, "throw", "unknown exception");
    throw;
  }
}

// -- free functions on the global bus ----------------------------------------

inline caf::error attach(std::string id, const event_name& event,
                         handler_function fn, std::any config = {}) {
  return bus::global().attach(std::move(id), event, std::move(fn),
                              std::move(config));
}

inline caf::error attach_many(std::string id,
                              const std::vector<event_name>& events,
                              handler_function fn, std::any config = {}) {
  return bus::global().attach_many(std::move(id), events, std::move(fn),
                                   std::move(config));
}

inline caf::error detach(std::string_view id) {
  return bus::global().detach(id);
}

inline std::vector<handler_info> list_handlers(const event_name& prefix = {}) {
  return bus::global().list_handlers(prefix);
}

inline void execute(const event_name& name,
                    std::initializer_list<measurement> m,
                    std::initializer_list<meta_entry> md = {}) noexcept {
  bus::global().execute(name, m, md);
}

inline void execute(event e, std::initializer_list<measurement> m,
                    std::initializer_list<meta_entry> md = {}) noexcept {
  bus::global().execute(e, m, md);
}

template <class F>
std::invoke_result_t<F> span(const event_name& prefix,
                             std::initializer_list<meta_entry> md, F&& fn) {
  return bus::global().span(prefix, metadata{md}, std::forward<F>(fn));
}

} // namespace caflens::telemetry
