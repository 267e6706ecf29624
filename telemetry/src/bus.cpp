#include "caflens/telemetry/bus.hpp"

#include <array>

#include "caflens/telemetry/correlation.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>

#include "caflens/telemetry/detail/hazard_pointer.hpp"
#include "caflens/telemetry/telemetry_errc.hpp"

namespace caflens::telemetry {

namespace detail {

struct handler_entry {
  std::string id;
  std::vector<event_name> events;
  handler_function fn;
  direct_handler direct = nullptr; // instead of fn, with context
  std::shared_ptr<void> context;
  std::any config;
  std::atomic<bool> detached{false};
};

using handler_ptr = std::shared_ptr<handler_entry>;

struct event_slot {
  explicit event_slot(event_name n) : name(std::move(n)) {
  }
  event_name name;
  std::atomic<handler_list*> handlers{nullptr};
};

/// Immutable name → slot map (copy-on-write).
struct slot_table {
  std::unordered_map<std::string, event_slot*> by_name;
};

struct bus_state {
  mutable std::mutex mtx;
  std::deque<std::unique_ptr<event_slot>> slots;
  std::atomic<slot_table*> table{nullptr};
  std::map<std::string, handler_ptr, std::less<>> handlers;
  std::atomic<uint64_t> dropped{0};

  ~bus_state() {
    for (auto& s : slots)
      delete s->handlers.exchange(nullptr);
    delete table.exchange(nullptr);
  }

  event_slot* find(const std::string& dotted) noexcept {
    hazard_guard<slot_table> g{table};
    if (g.overflow())
      dropped.fetch_add(1, std::memory_order_relaxed);
    if (g.get() == nullptr)
      return nullptr;
    auto i = g->by_name.find(dotted);
    return i == g->by_name.end() ? nullptr : i->second;
  }

  // Requires mtx.
  event_slot* intern_locked(const event_name& name) {
    auto* current = table.load(std::memory_order_acquire);
    if (current != nullptr) {
      auto i = current->by_name.find(name.str());
      if (i != current->by_name.end())
        return i->second;
    }
    slots.push_back(std::make_unique<event_slot>(name));
    auto* slot = slots.back().get();
    auto* next = current ? new slot_table(*current) : new slot_table;
    next->by_name.emplace(name.str(), slot);
    publish(table, next);
    return slot;
  }

  // Requires mtx. Adds or removes `h` in the handler list of `slot`.
  static void update_list(event_slot* slot, const handler_ptr& h, bool add) {
    auto* current = slot->handlers.load(std::memory_order_acquire);
    auto next = std::make_unique<handler_list>();
    if (current != nullptr)
      for (auto& x : current->entries)
        if (x != h)
          next->entries.push_back(x);
    if (add)
      next->entries.push_back(h);
    next->name = &slot->name;
    for (auto& x : next->entries)
      next->refs.push_back({x->direct, x->context.get(), &x->fn, &x->config,
                            x.get(), &x->detached});
    publish(slot->handlers,
            next->entries.empty() ? nullptr : next.release());
  }
};

} // namespace detail

const event_name& event::name() const noexcept {
  static const event_name empty;
  return slot_ ? slot_->name : empty;
}

bus::bus() : state_(std::make_unique<detail::bus_state>()) {
}

bus::~bus() = default;

bus& bus::global() noexcept {
  static auto* instance = new bus; // never destroyed: emitters may run
  return *instance;                // during static destruction
}

caf::error bus::attach(std::string handler_id, const event_name& event,
                       handler_function fn, std::any config) {
  return attach_many(std::move(handler_id), std::vector<event_name>{event},
                     std::move(fn), std::move(config));
}

caf::error bus::attach_many(std::string handler_id,
                            const std::vector<event_name>& events,
                            handler_function fn, std::any config) {
  auto entry = std::make_shared<detail::handler_entry>();
  entry->fn = std::move(fn);
  entry->config = std::move(config);
  return attach_entry(std::move(handler_id), events, std::move(entry));
}

caf::error bus::attach_direct(std::string handler_id, const event_name& event,
                              direct_handler fn,
                              std::shared_ptr<void> context) {
  auto entry = std::make_shared<detail::handler_entry>();
  entry->direct = fn;
  entry->context = std::move(context);
  return attach_entry(std::move(handler_id), std::vector<event_name>{event},
                      std::move(entry));
}

caf::error bus::attach_entry(std::string handler_id,
                             const std::vector<event_name>& events,
                             std::shared_ptr<detail::handler_entry> entry) {
  if (handler_id.empty())
    return make_error(telemetry_errc::invalid_argument,
                      "handler id must not be empty");
  if (!entry->fn && entry->direct == nullptr)
    return make_error(telemetry_errc::invalid_argument,
                      "handler '" + handler_id + "' has no function");
  if (events.empty())
    return make_error(telemetry_errc::invalid_argument,
                      "handler '" + handler_id + "' names no event");
  for (auto& e : events)
    if (!e.valid())
      return make_error(telemetry_errc::invalid_event_name,
                        "handler '" + handler_id + "': event name '" + e.str()
                          + "' has an empty segment or a '.' in a segment");
  entry->id = handler_id;
  for (auto& e : events)
    if (std::find(entry->events.begin(), entry->events.end(), e)
        == entry->events.end())
      entry->events.push_back(e);
  std::lock_guard<std::mutex> guard{state_->mtx};
  if (state_->handlers.count(handler_id) > 0)
    return make_error(telemetry_errc::already_exists,
                      "a handler with id '" + handler_id
                        + "' is attached already");
  for (auto& e : entry->events)
    detail::bus_state::update_list(state_->intern_locked(e), entry, true);
  state_->handlers.emplace(std::move(handler_id), std::move(entry));
  return caf::none;
}

caf::error bus::detach(std::string_view handler_id) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  auto i = state_->handlers.find(handler_id);
  if (i == state_->handlers.end())
    return make_error(telemetry_errc::not_found,
                      "no handler with id '" + std::string{handler_id} + "'");
  auto entry = i->second;
  entry->detached.store(true, std::memory_order_release);
  for (auto& e : entry->events)
    detail::bus_state::update_list(state_->intern_locked(e), entry, false);
  state_->handlers.erase(i);
  return caf::none;
}

std::vector<handler_info> bus::list_handlers(const event_name& prefix) const {
  std::vector<handler_info> result;
  std::lock_guard<std::mutex> guard{state_->mtx};
  for (auto& [id, entry] : state_->handlers) {
    bool match = std::any_of(entry->events.begin(), entry->events.end(),
                             [&](auto& e) { return e.starts_with(prefix); });
    if (match)
      result.push_back({id, entry->events, entry->config});
  }
  return result;
}

event bus::intern(const event_name& name) {
  if (auto* slot = state_->find(name.str()))
    return event{slot, &slot->handlers};
  std::lock_guard<std::mutex> guard{state_->mtx};
  auto* slot = state_->intern_locked(name);
  return event{slot, &slot->handlers};
}

bool bus::has_handlers(event e) const noexcept {
  return e.slot_ != nullptr
         && e.slot_->handlers.load(std::memory_order_acquire) != nullptr;
}

void bus::handler_failed(const detail::handler_ref& ref,
                         const event_name& name) noexcept {
  auto& h = *ref.entry;
  std::string_view kind;
  std::string reason;
  try {
    throw;
  } catch (const std::exception& ex) {
    kind = "error";
    try {
      reason = ex.what();
    } catch (...) {
    }
  } catch (...) {
    kind = "throw";
    reason = "unknown exception";
  }
  // The handler failed: detach it (once) and report, like :telemetry.
  if (h.detached.exchange(true))
    return;
  try {
    detach(h.id);
    static const auto& failure
      = *new event_name{"caflens", "telemetry", "handler", "failure"};
    execute(failure, {{"system_time", static_cast<double>(system_time())}},
            {{"handler_id", h.id},
             {"event_name", name.str()},
             {"kind", kind},
             {"reason", reason}});
  } catch (...) {
    // Out of memory while reporting: the handler stays marked detached.
  }
}

void bus::dispatch_correlated(const detail::handler_list& list,
                              measurements m, metadata md) noexcept {
  // Inside a correlation scope every event carries its id, unless it names
  // one itself.
  std::array<meta_entry, 32> tagged;
  if (md.size() < 32 && md.find("correlation_id") == nullptr) {
    std::copy(md.begin(), md.end(), tagged.begin());
    tagged[md.size()]
      = meta_entry{"correlation_id", value{*detail::correlation_slot()}};
    md = metadata{tagged.data(), md.size() + 1};
  }
  run(list, m, md);
}

void bus::note_dropped() noexcept {
  state_->dropped.fetch_add(1, std::memory_order_relaxed);
}

void bus::execute(const event_name& name, measurements m,
                  metadata md) noexcept {
  if (auto* slot = state_->find(name.str()))
    execute(event{slot, &slot->handlers}, m, md);
}

uint64_t bus::dropped_events() const noexcept {
  return state_->dropped.load(std::memory_order_relaxed);
}

int64_t bus::monotonic_time() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

int64_t bus::system_time() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

bus::span_events bus::span_events_for(const event_name& prefix) {
  return {intern(prefix / "start"), intern(prefix / "stop"),
          intern(prefix / "exception")};
}

uint64_t bus::next_span_id() noexcept {
  static std::atomic<uint64_t> next{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) | rd();
  }()};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void bus::emit_span_exception(const span_events& evs, metadata md,
                              uint64_t id, int64_t start,
                              std::string_view kind,
                              std::string_view reason) noexcept {
  try {
    std::vector<meta_entry> entries(md.begin(), md.end());
    entries.push_back({"kind", kind});
    entries.push_back({"reason", reason});
    auto now = monotonic_time();
    execute(evs.exception,
            {{"duration", static_cast<double>(now - start)},
             {"monotonic_time", static_cast<double>(now)}},
            metadata{entries});
  } catch (...) {
    // Out of memory: the exception itself still propagates to the caller.
  }
}

} // namespace caflens::telemetry
