#include "caflens/telemetry/metrics.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/detail/hazard_pointer.hpp"
#include "caflens/telemetry/telemetry_errc.hpp"

namespace caflens::telemetry {

std::string_view to_string(metric_kind x) noexcept {
  switch (x) {
    case metric_kind::counter:
      return "counter";
    case metric_kind::sum:
      return "sum";
    case metric_kind::last_value:
      return "last_value";
    case metric_kind::distribution:
      return "distribution";
  }
  return "unknown";
}

namespace {

metric_definition make_def(std::string name, metric_kind kind,
                           event_name event, std::string measurement,
                           std::vector<std::string> tags) {
  metric_definition def;
  def.name = std::move(name);
  def.kind = kind;
  def.event = std::move(event);
  def.measurement = std::move(measurement);
  def.tags = std::move(tags);
  return def;
}

constexpr size_t max_tags = 8;
constexpr std::string_view overflow_tag = "__overflow__";

// Text of tag `i` of `n` without allocation (numbers into `buf`); JSON
// values are dumped into `spill[i]`, allocated only then.
std::string_view tag_text(const value* v, char (&buf)[32],
                          std::unique_ptr<std::string[]>& spill, size_t i,
                          size_t n) {
  if (v == nullptr)
    return {};
  switch (v->type()) {
    case value::kind::null:
      return {};
    case value::kind::boolean:
      return v->as_bool() ? "true" : "false";
    case value::kind::string:
      return v->as_string();
    case value::kind::integer: {
      auto r = std::to_chars(buf, buf + sizeof(buf), *v->as_int());
      return {buf, static_cast<size_t>(r.ptr - buf)};
    }
    case value::kind::unsigned_integer:
    case value::kind::floating: {
      if (v->type() == value::kind::floating) {
        auto r = std::to_chars(buf, buf + sizeof(buf), *v->as_double());
        return {buf, static_cast<size_t>(r.ptr - buf)};
      }
      auto u = static_cast<uint64_t>(*v->as_int());
      auto r = std::to_chars(buf, buf + sizeof(buf), u);
      return {buf, static_cast<size_t>(r.ptr - buf)};
    }
    case value::kind::json:
      if (!spill)
        spill = std::make_unique<std::string[]>(n);
      spill[i] = v->as_json()->dump();
      return spill[i];
  }
  return {};
}

// A word at a time (tag values are short: one or two multiplications each,
// not one per byte as FNV-1a); in-memory only, never persisted.
inline uint64_t mix(uint64_t h, uint64_t w) noexcept {
  h ^= w;
  h *= 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

uint64_t hash_texts(const std::string_view* xs, size_t n) noexcept {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (size_t i = 0; i < n; ++i) {
    auto* p = xs[i].data();
    auto len = xs[i].size();
    h = mix(h, len); // separates "ab","c" from "a","bc"
    for (; len >= 8; p += 8, len -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = mix(h, w);
    }
    // The tail in at most two loads (as wyhash reads it): a byte-wise copy
    // into a word stalls on store forwarding.
    if (len >= 4) {
      uint32_t a;
      uint32_t b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + len - 4, 4);
      h = mix(h, (uint64_t{a} << 32) | b);
    } else if (len > 0) {
      auto byte = [&](size_t k) {
        return static_cast<uint64_t>(static_cast<unsigned char>(p[k]));
      };
      h = mix(h, (byte(0) << 16) | (byte(len / 2) << 8) | byte(len - 1));
    }
  }
  return h;
}

/// Equality with one fixed key, its words loaded once: a key of up to 16
/// bytes compares as two (overlapping) loads, without same_text's cascade
/// on the length. Refers to the key's characters (which must outlive it).
class key_matcher {
public:
  key_matcher() = default;

  explicit key_matcher(std::string_view key) noexcept : key_(key) {
    auto n = key.size();
    auto* p = key.data();
    if (n >= 8) {
      std::memcpy(&head_, p, 8);
      std::memcpy(&tail_, p + n - 8, 8);
    } else if (n >= 4) {
      uint32_t a;
      uint32_t b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      head_ = a;
      tail_ = b;
    }
  }

  [[gnu::always_inline]] bool operator()(std::string_view x) const noexcept {
    auto n = key_.size();
    if (x.size() != n)
      return false;
    auto* p = x.data();
    if (n >= 8 && n <= 16) {
      uint64_t a;
      uint64_t b;
      std::memcpy(&a, p, 8);
      std::memcpy(&b, p + n - 8, 8);
      return ((a ^ head_) | (b ^ tail_)) == 0;
    }
    if (n >= 4 && n < 8) {
      uint32_t a;
      uint32_t b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      return ((a ^ head_) | (b ^ tail_)) == 0;
    }
    return detail::same_text(x, key_);
  }

  /// The first measurement named by this key, as measurements::find.
  [[gnu::always_inline]] std::optional<double>
  find(const measurements& m) const noexcept {
    for (auto& x : m)
      if ((*this)(x.key))
        return x.value;
    return std::nullopt;
  }

  /// The first metadata value named by this key, as metadata::find.
  [[gnu::always_inline]] const value* find(const metadata& md) const noexcept {
    for (auto& x : md)
      if ((*this)(x.key))
        return &x.value;
    return nullptr;
  }

private:
  std::string_view key_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
};

struct series {
  uint64_t hash = 0;
  std::vector<std::string> tag_values;
  /// Matchers of tag_values, read without going through the vector.
  key_matcher match[max_tags];
  bool overflow = false;
  std::atomic<uint64_t> updates{0};
  std::atomic<double> value{0};
  std::unique_ptr<windowed_sketch> dist;
};

/// Immutable open-addressing table of series (copy-on-write).
struct series_table {
  std::vector<series*> slots; // size is a power of two, at most half full
};

} // namespace

metric_definition metric_definition::counter(std::string name,
                                             event_name event,
                                             std::vector<std::string> tags) {
  return make_def(std::move(name), metric_kind::counter, std::move(event), {},
                  std::move(tags));
}

metric_definition metric_definition::sum(std::string name, event_name event,
                                         std::string measurement,
                                         std::vector<std::string> tags) {
  return make_def(std::move(name), metric_kind::sum, std::move(event),
                  std::move(measurement), std::move(tags));
}

metric_definition
metric_definition::last_value(std::string name, event_name event,
                              std::string measurement,
                              std::vector<std::string> tags) {
  return make_def(std::move(name), metric_kind::last_value, std::move(event),
                  std::move(measurement), std::move(tags));
}

metric_definition
metric_definition::distribution(std::string name, event_name event,
                                std::string measurement,
                                std::vector<std::string> tags) {
  return make_def(std::move(name), metric_kind::distribution, std::move(event),
                  std::move(measurement), std::move(tags));
}

namespace {

/// One attached metric. Shared with its bus handler, so it outlives any
/// `execute` still running the handler after `remove`.
class metric_state {
public:
  metric_state(metric_definition def, const clock& clk, bus& b)
    : def_(std::move(def)), clock_(&clk), bus_(&b) {
    measurement_ = key_matcher{def_.measurement};
    tag_count_ = std::min(def_.tags.size(), max_tags);
    for (size_t i = 0; i < tag_count_; ++i)
      tags_[i] = key_matcher{def_.tags[i]};
    if (def_.tags.empty()) {
      single_ = make_series(0, {}, false);
      single_window_ = single_->dist.get();
    }
  }

  ~metric_state() {
    delete table_.exchange(nullptr);
  }

  const metric_definition& def() const noexcept {
    return def_;
  }

  /// The bus handler of this metric: for a distribution, the shortest path
  /// to its sketch (untagged: no lookup at all); else `record`.
  direct_handler handler() const noexcept {
    if (single_window_ != nullptr)
      return [](void* self, const event_name&, const measurements& m,
                const metadata&) noexcept {
        auto* st = static_cast<metric_state*>(self);
        if (auto v = st->measurement_.find(m))
          st->single_window_->add(*v);
      };
    if (def_.kind == metric_kind::distribution)
      return [](void* self, const event_name&, const measurements& m,
                const metadata& md) noexcept {
        auto* st = static_cast<metric_state*>(self);
        if (auto v = st->measurement_.find(m))
          if (auto* s = st->find_series(md))
            s->dist->add(*v);
      };
    return [](void* self, const event_name&, const measurements& m,
              const metadata& md) noexcept {
      static_cast<metric_state*>(self)->record(m, md);
    };
  }

  void record(const measurements& m, const metadata& md) noexcept {
    double x = 0;
    if (def_.kind != metric_kind::counter) {
      auto v = measurement_.find(m);
      if (!v)
        return; // the event does not carry this measurement
      x = *v;
    }
    auto* s = single_ != nullptr ? single_ : find_series(md);
    if (s == nullptr)
      return;
    switch (def_.kind) {
      case metric_kind::counter:
        s->updates.fetch_add(1, std::memory_order_relaxed);
        break;
      case metric_kind::sum:
        s->value.fetch_add(x, std::memory_order_relaxed);
        s->updates.fetch_add(1, std::memory_order_relaxed);
        break;
      case metric_kind::last_value:
        s->value.store(x, std::memory_order_relaxed);
        s->updates.fetch_add(1, std::memory_order_relaxed);
        break;
      case metric_kind::distribution:
        s->dist->add(x);
        break;
    }
  }

  /// The series for these tag values, in the order of the tags (made if
  /// needed; past max_series the overflow series); nullptr when out of
  /// memory. The series lives as long as this state.
  series* bind(const std::vector<std::string>& values) noexcept {
    if (single_ != nullptr)
      return single_;
    std::string_view texts[max_tags];
    auto n = values.size();
    for (size_t i = 0; i < n; ++i)
      texts[i] = values[i];
    return lookup_or_insert(texts, n);
  }

  metric_value collect(std::chrono::nanoseconds window) const {
    metric_value result;
    result.definition = def_;
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& s : owned_) {
      series_value sv;
      for (size_t i = 0; i < def_.tags.size(); ++i)
        sv.tags.emplace_back(def_.tags[i], s->tag_values[i]);
      sv.overflow = s->overflow;
      if (def_.kind == metric_kind::distribution) {
        auto sk = window.count() > 0 ? s->dist->window(window)
                                     : s->dist->total();
        sv.updates = sk.count();
        sv.value = sk.stats().sum();
        sv.distribution = std::move(sk);
      } else {
        sv.updates = s->updates.load(std::memory_order_relaxed);
        sv.value = def_.kind == metric_kind::counter
                     ? static_cast<double>(sv.updates)
                     : s->value.load(std::memory_order_relaxed);
      }
      result.series.push_back(std::move(sv));
    }
    return result;
  }

private:
  series* make_series(uint64_t hash, std::vector<std::string> tags,
                      bool overflow) {
    auto s = std::make_unique<series>();
    s->hash = hash;
    s->tag_values = std::move(tags);
    for (size_t i = 0; i < s->tag_values.size(); ++i)
      s->match[i] = key_matcher{s->tag_values[i]};
    s->overflow = overflow;
    if (def_.kind == metric_kind::distribution)
      s->dist = std::make_unique<windowed_sketch>(def_.sketch, def_.window,
                                                  *clock_);
    owned_.push_back(std::move(s));
    return owned_.back().get();
  }

  /// The series for the tags in `md` (made if needed; past max_series the
  /// overflow series); nullptr when out of memory.
  [[gnu::always_inline]] series* find_series(const metadata& md) noexcept {
    auto n = tag_count_;
    if (n == 1) { // the common case, without the loop
      std::string_view text;
      if (auto* v = tags_[0].find(md)) {
        if (v->type() != value::kind::string)
          return find_series_formatted(md);
        text = v->as_string();
      }
      return find_recent(&text, 1);
    }
    // Left uninitialised (only the first n are used): zeroing them cost
    // more than the lookup on the hot path.
    union views {
      views() noexcept {
      }
      std::string_view at[max_tags];
    } texts;
    // Strings (and absent tags) are their own text; other values take the
    // general path, which formats them.
    for (size_t i = 0; i < n; ++i) {
      auto* v = tags_[i].find(md);
      if (v == nullptr)
        texts.at[i] = {};
      else if (v->type() == value::kind::string)
        texts.at[i] = v->as_string();
      else
        return find_series_formatted(md);
    }
    return find_recent(texts.at, n);
  }

  [[gnu::noinline]] series* find_series_formatted(const metadata& md) noexcept {
    auto n = tag_count_;
    std::string_view texts[max_tags];
    char bufs[max_tags][32];
    std::unique_ptr<std::string[]> spill;
    for (size_t i = 0; i < n; ++i)
      texts[i] = tag_text(tags_[i].find(md), bufs[i], spill, i, n);
    return find_recent(texts, n);
  }

  /// Events of one thread tend to repeat their tags: its last series is
  /// tried before hashing.
  [[gnu::always_inline]] series* find_recent(const std::string_view* texts,
                                             size_t n) noexcept {
    auto writer = detail::writer_slot();
    if (writer >= detail::writer_slots)
      return lookup_or_insert(texts, n);
    auto& last = recent_[writer].last;
    if (auto* s = last.load(std::memory_order_relaxed);
        s != nullptr && equal(*s, texts, n))
      return s;
    auto* found = lookup_or_insert(texts, n);
    if (found != nullptr && !found->overflow)
      last.store(found, std::memory_order_relaxed);
    return found;
  }

  [[gnu::noinline]] series* lookup_or_insert(const std::string_view* texts,
                                             size_t n) noexcept {
    auto h = hash_texts(texts, n);
    {
      detail::hazard_guard<series_table> g{table_};
      if (auto* found = lookup(g.get(), h, texts, n))
        return found;
    }
    try {
      return insert(h, texts, n);
    } catch (...) {
      return nullptr; // out of memory: drop the sample
    }
  }

  static series* lookup(const series_table* t, uint64_t h,
                        const std::string_view* texts, size_t n) noexcept {
    if (t == nullptr)
      return nullptr;
    auto mask = t->slots.size() - 1;
    for (auto i = h & mask;; i = (i + 1) & mask) {
      auto* s = t->slots[i];
      if (s == nullptr)
        return nullptr;
      if (s->hash == h && equal(*s, texts, n))
        return s;
    }
  }

  [[gnu::always_inline]] static bool
  equal(const series& s, const std::string_view* texts, size_t n) noexcept {
    for (size_t i = 0; i < n; ++i)
      if (!s.match[i](texts[i]))
        return false;
    return true;
  }

  series* insert(uint64_t h, const std::string_view* texts, size_t n) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto* current = table_.load(std::memory_order_acquire);
    if (auto* found = lookup(current, h, texts, n))
      return found;
    if (count_ >= def_.max_series) {
      if (overflow_ == nullptr) {
        overflow_ = make_series(
          0, std::vector<std::string>(n, std::string{overflow_tag}), true);
        bus_->execute(event_name{"caflens", "telemetry", "metric", "overflow"},
                      {{"system_time",
                        static_cast<double>(bus::system_time())}},
                      {{"metric", def_.name},
                       {"max_series", def_.max_series}});
      }
      return overflow_;
    }
    std::vector<std::string> tags;
    for (size_t i = 0; i < n; ++i)
      tags.emplace_back(texts[i]);
    auto* s = make_series(h, std::move(tags), false);
    ++count_;
    // Rebuild the table at most half full.
    size_t cap = 16;
    while (cap < 2 * (count_ + 1))
      cap *= 2;
    auto next = std::make_unique<series_table>();
    next->slots.assign(cap, nullptr);
    for (auto& owned : owned_) {
      if (owned->overflow)
        continue;
      auto mask = cap - 1;
      auto i = owned->hash & mask;
      while (next->slots[i] != nullptr)
        i = (i + 1) & mask;
      next->slots[i] = owned.get();
    }
    detail::publish(table_, next.release());
    return s;
  }

  metric_definition def_;
  const clock* clock_;
  bus* bus_;
  mutable std::mutex mtx_;
  std::deque<std::unique_ptr<series>> owned_;
  std::atomic<series_table*> table_{nullptr};
  key_matcher measurement_;     // def_.measurement
  key_matcher tags_[max_tags]; // def_.tags
  size_t tag_count_ = 0;
  /// Per writer thread (see detail::writer_slot), the series it recorded
  /// into last; only that thread stores into its entry.
  struct alignas(64) recent_series {
    std::atomic<series*> last{nullptr};
  };
  recent_series recent_[detail::writer_slots];
  series* single_ = nullptr;
  windowed_sketch* single_window_ = nullptr; // single_'s, if a distribution
  series* overflow_ = nullptr;
  size_t count_ = 0;
};

std::string handler_id_for(std::string_view name) {
  return "caflens.metrics." + std::string{name};
}

} // namespace

struct metric_registry::impl {
  bus* b;
  const clock* clk;
  mutable std::mutex mtx;
  std::map<std::string, std::shared_ptr<metric_state>, std::less<>> metrics;

  caf::expected<std::shared_ptr<metric_state>>
  find(std::string_view name) const {
    std::lock_guard<std::mutex> guard{mtx};
    auto i = metrics.find(name);
    if (i == metrics.end())
      return make_error(telemetry_errc::not_found,
                        "no metric named '" + std::string{name} + "'");
    return i->second;
  }
};

metric_registry::metric_registry(bus& b, const clock& clk)
  : impl_(std::make_unique<impl>()) {
  impl_->b = &b;
  impl_->clk = &clk;
}

metric_registry::metric_registry() : metric_registry(bus::global()) {
}

metric_registry::~metric_registry() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  for (auto& [name, state] : impl_->metrics)
    impl_->b->detach(handler_id_for(name));
}

caf::error metric_registry::add(metric_definition def) {
  if (def.name.empty())
    return make_error(telemetry_errc::invalid_metric, "metric has no name");
  if (def.kind != metric_kind::counter && def.measurement.empty())
    return make_error(telemetry_errc::invalid_metric,
                      "metric '" + def.name + "' of kind "
                        + std::string{to_string(def.kind)}
                        + " needs a measurement");
  if (def.tags.size() > max_tags)
    return make_error(telemetry_errc::invalid_metric,
                      "metric '" + def.name + "' has "
                        + std::to_string(def.tags.size())
                        + " tags; at most 8 are allowed");
  if (def.max_series == 0)
    return make_error(telemetry_errc::invalid_metric,
                      "metric '" + def.name + "' has max_series 0");
  if (!def.event.valid())
    return make_error(telemetry_errc::invalid_event_name,
                      "metric '" + def.name + "': event name '"
                        + def.event.str() + "' is not valid");
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (impl_->metrics.count(def.name) > 0)
    return make_error(telemetry_errc::already_exists,
                      "a metric named '" + def.name + "' exists already");
  auto state = std::make_shared<metric_state>(def, *impl_->clk, *impl_->b);
  auto err = impl_->b->attach_direct(handler_id_for(def.name), def.event,
                                     state->handler(), state);
  if (err)
    return err;
  impl_->metrics.emplace(def.name, std::move(state));
  return caf::none;
}

caf::error metric_registry::remove(std::string_view name) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->metrics.find(name);
  if (i == impl_->metrics.end())
    return make_error(telemetry_errc::not_found,
                      "no metric named '" + std::string{name} + "'");
  impl_->b->detach(handler_id_for(name));
  impl_->metrics.erase(i);
  return caf::none;
}

std::vector<std::string> metric_registry::names() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  std::vector<std::string> result;
  for (auto& [name, state] : impl_->metrics)
    result.push_back(name);
  return result;
}

caf::expected<distribution_recorder>
metric_registry::recorder(std::string_view name,
                          const std::vector<std::string>& tag_values) const {
  auto found = impl_->find(name);
  if (!found)
    return std::move(found.error());
  auto state = std::move(*found);
  auto& def = state->def();
  if (def.kind != metric_kind::distribution)
    return make_error(telemetry_errc::invalid_argument,
                      "metric '" + def.name + "' is a "
                        + std::string{to_string(def.kind)}
                        + ": only a distribution has a recorder");
  if (tag_values.size() != def.tags.size()) {
    std::string tags;
    for (auto& t : def.tags)
      tags += (tags.empty() ? "" : ", ") + t;
    return make_error(telemetry_errc::invalid_argument,
                      "metric '" + def.name + "' has "
                        + std::to_string(def.tags.size()) + " tag(s)"
                        + (tags.empty() ? "" : " (" + tags + ")") + "; "
                        + std::to_string(tag_values.size())
                        + " value(s) given");
  }
  auto* s = state->bind(tag_values);
  if (s == nullptr)
    return make_error(telemetry_errc::invalid_argument,
                      "metric '" + def.name
                        + "': out of memory for a new series");
  return distribution_recorder{std::shared_ptr<const void>{state},
                               s->dist.get()};
}

caf::expected<metric_value>
metric_registry::collect(std::string_view name,
                         std::chrono::nanoseconds window) const {
  auto state = impl_->find(name);
  if (!state)
    return std::move(state.error());
  return (*state)->collect(window);
}

std::vector<metric_value>
metric_registry::collect_all(std::chrono::nanoseconds window) const {
  std::vector<std::shared_ptr<metric_state>> states;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (auto& [name, state] : impl_->metrics)
      states.push_back(state);
  }
  std::vector<metric_value> result;
  for (auto& s : states)
    result.push_back(s->collect(window));
  return result;
}

} // namespace caflens::telemetry
