#include "caflens/skills/tracer.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "caf/actor_control_block.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/message.hpp"

#include "caflens/skills/detail/trace_hook.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/telemetry/trace_id.hpp"

namespace caflens::skills {

namespace {

using nlohmann::json;

constexpr size_t max_pattern_bytes = 256;
constexpr int64_t one_second_ns = 1'000'000'000;

// True when `pattern` occurs in `text`, where '*' matches any run of
// characters and '?' one character (an implicit '*' on both ends). Greedy
// with backtracking to the last star: O(|pattern| * |text|), no recursion.
bool glob_find(std::string_view pattern, std::string_view text) noexcept {
  size_t p = 0, t = 0;
  size_t star_p = 0, star_t = 0; // the implicit leading '*'
  while (t < text.size()) {
    if (p == pattern.size())
      return true; // the implicit trailing '*' takes the rest
    if (pattern[p] == '*') {
      star_p = ++p;
      star_t = t;
    } else if (pattern[p] == '?' || pattern[p] == text[t]) {
      ++p;
      ++t;
    } else {
      p = star_p;
      t = ++star_t;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

// Cuts `x` to at most `max` bytes on a character boundary and replaces bytes
// that are not UTF-8 with '?', so the JSON of a capture always serializes.
std::string printable(std::string_view x, size_t max) {
  std::string out;
  out.reserve(std::min(x.size(), max) + 3);
  size_t i = 0;
  while (i < x.size()) {
    auto c = static_cast<unsigned char>(x[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool valid = len > 0 && i + len <= x.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(x[i + k]) & 0xC0) == 0x80;
    if (!valid)
      len = 1;
    if (out.size() + len > max) {
      out += "…";
      return out;
    }
    if (valid)
      out.append(x.data() + i, len);
    else
      out += '?';
    i += len;
  }
  return out;
}

std::string_view result_name(caf::invoke_message_result x, bool threw) {
  if (threw)
    return "exception";
  switch (x) {
    case caf::invoke_message_result::consumed:
      return "consumed";
    case caf::invoke_message_result::skipped:
      return "skipped";
    case caf::invoke_message_result::dropped:
      return "dropped";
  }
  return "unknown";
}

// A non-negative integer argument (Lua numbers may arrive signed).
std::optional<uint64_t> count_arg(const json& x) {
  if (x.is_number_unsigned())
    return x.get<uint64_t>();
  if (x.is_number_integer() && x.get<int64_t>() >= 0)
    return static_cast<uint64_t>(x.get<int64_t>());
  if (x.is_number_float() && x.get<double>() >= 0 && x.get<double>() < 1.8e19 &&
      x.get<double>() == std::floor(x.get<double>()))
    return static_cast<uint64_t>(x.get<double>());
  return std::nullopt;
}

double to_ms(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

} // namespace

// -- limits and JSON ----------------------------------------------------------

tracer_limits tracer_limits::clamped() const noexcept {
  auto r = *this;
  r.max_per_second =
    std::clamp(r.max_per_second, size_t{1}, hard_max_per_second);
  r.max_captures = std::clamp(r.max_captures, size_t{1}, hard_max_captures);
  r.max_duration = std::clamp<std::chrono::nanoseconds>(
    r.max_duration, std::chrono::milliseconds{1}, hard_max_duration);
  r.max_rendering_bytes =
    std::clamp(r.max_rendering_bytes, size_t{16}, size_t{4096});
  return r;
}

json to_json(const trace_capture& x) {
  return {{"index", x.index},
          {"delivered_ns", x.delivered_ns},
          {"system_time_ns", x.system_time_ns},
          {"sender", x.sender},
          {"sender_name", x.sender_name},
          {"message", x.message},
          {"handler_ns", x.handler_ns},
          {"handler_ms", to_ms(static_cast<int64_t>(x.handler_ns))},
          {"result", x.result}};
}

json to_json(const trace_status& x) {
  return {
    {"id", x.id},
    {"actor_id", x.actor_id},
    {"actor", x.actor},
    {"pattern", x.pattern},
    {"running", x.running},
    {"stop_reason", x.stop_reason},
    {"seen", x.seen},
    {"matched", x.matched},
    {"rate_limited", x.rate_limited},
    {"captured", x.captured},
    {"max_handler_ns", x.max_handler_ns},
    {"max_handler_ms", to_ms(static_cast<int64_t>(x.max_handler_ns))},
    {"started_ns", x.started_ns},
    {"elapsed_ms", to_ms(x.elapsed_ns)},
    {"limits",
     {{"max_per_second", x.limits.max_per_second},
      {"max_captures", x.limits.max_captures},
      {"max_duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                            x.limits.max_duration)
                            .count()}}}};
}

// -- the session: one trace of one actor --------------------------------------

namespace detail {

std::mutex& trace_mutex() noexcept {
  static std::mutex instance;
  return instance;
}

/// One trace. Shared by the tracer, the traced actor's `trace_owner` (while
/// attached) and the tickets of messages in flight, so neither a stop nor
/// the actor's exit frees it under someone's feet.
///
/// Thread-safe: the mutable state sits behind `mtx_`.
class trace_session : public std::enable_shared_from_this<trace_session> {
public:
  struct events {
    telemetry::event capture;
    telemetry::event stopped;
  };

  trace_session(std::string id, uint64_t actor_id, std::string actor,
                std::string pattern, tracer_limits limits,
                caf::intrusive_ptr<actor_stats> stats, process_table& table,
                const telemetry::clock& clk, telemetry::bus& bus, events evs)
    : id_(std::move(id))
    , actor_id_(actor_id)
    , actor_(std::move(actor))
    , pattern_(std::move(pattern))
    , limits_(limits)
    , stats_(std::move(stats))
    , table_(table)
    , clock_(clk)
    , bus_(bus)
    , events_(evs)
    , started_ns_(clk.now_ns()) {}

  // -- attaching
  // ---------------------------------------------------------------

  /// Makes the actor's consume path see this trace.
  caf::error attach() {
    std::lock_guard<std::mutex> guard{trace_mutex()};
    if (stats_->trace.load(std::memory_order_relaxed) != nullptr)
      return make_error(skills_errc::limit_reached,
                        "tracer: actor '" + actor_ +
                          "' is being traced already (by another tracer)");
    stats_->trace_owner = shared_from_this();
    // seq_cst pairs with process_table::remove (store alive, load trace).
    stats_->trace.store(this, std::memory_order_seq_cst);
    if (!stats_->alive.load(std::memory_order_seq_cst)) {
      stats_->trace.store(nullptr, std::memory_order_relaxed);
      stats_->trace_owner.reset(); // the caller holds another reference
      return make_error(skills_errc::not_found,
                        "tracer: actor '" + actor_ + "' exited");
    }
    return {};
  }

  // -- the consume path ----------------------------------------------------

  trace_ticket begin(const caf::mailbox_element& x) noexcept {
    try {
      auto now = clock_.now_ns();
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (stopped_)
          return {};
        if (now - started_ns_ < limits_.max_duration.count()) {
          ++seen_;
          // At most max_per_second captures in any one-second window.
          auto n = captures_.size();
          if (n >= limits_.max_per_second &&
              now - captures_[n - limits_.max_per_second].delivered_ns <
                one_second_ns) {
            ++rate_limited_;
            return {};
          }
        } else {
          now = -1; // past the deadline
        }
      }
      if (now < 0) {
        stop("timeout");
        return {};
      }
      auto text = caf::to_string(x.content());
      if (!glob_find(pattern_, text))
        return {};
      {
        std::lock_guard<std::mutex> guard{mtx_};
        ++matched_;
      }
      trace_ticket t;
      t.session = shared_from_this();
      t.delivered_ns = now;
      t.sender = x.sender != nullptr ? x.sender->id() : 0;
      t.rendering = printable(text, limits_.max_rendering_bytes);
      t.start_ns = clock_.now_ns();
      return t;
    } catch (...) {
      return {}; // e.g. bad_alloc while rendering: not captured
    }
  }

  void end(trace_ticket& t, caf::invoke_message_result result,
           bool threw) noexcept {
    try {
      auto end_ns = clock_.now_ns();
      // A skipped message stays in the mailbox and comes back later.
      if (!threw && result == caf::invoke_message_result::skipped)
        return;
      trace_capture c;
      c.delivered_ns = t.delivered_ns;
      c.system_time_ns = telemetry::bus::system_time();
      c.sender = t.sender;
      if (t.sender != 0 && t.sender != actor_id_)
        if (auto s = table_.find(t.sender))
          c.sender_name = s->name;
      if (t.sender == actor_id_)
        c.sender_name = actor_;
      c.message = std::move(t.rendering);
      c.handler_ns =
        static_cast<uint64_t>(std::max<int64_t>(0, end_ns - t.start_ns));
      c.result = result_name(result, threw);
      auto handler_ns = c.handler_ns;
      size_t n;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (stopped_)
          return; // stopped during the handler run: the trace is final
        c.index = captures_.size() + 1;
        max_handler_ns_ = std::max(max_handler_ns_, handler_ns);
        captures_.push_back(std::move(c));
        n = captures_.size();
      }
      if (bus_.has_handlers(events_.capture))
        bus_.execute(
          events_.capture,
          {{"system_time", static_cast<double>(telemetry::bus::system_time())},
           {"handler_time", static_cast<double>(handler_ns)},
           {"captured", static_cast<double>(n)}},
          {{"actor", actor_}, {"pattern", pattern_}, {"trace_id", id_}});
      if (n >= limits_.max_captures)
        stop("capture_limit");
      else if (end_ns - started_ns_ >= limits_.max_duration.count())
        stop("timeout");
    } catch (...) {
      // Never into the actor: a lost capture is the lesser harm.
    }
  }

  // -- ending ----------------------------------------------------------------

  /// Ends the trace; false when it had ended already.
  bool stop(std::string_view reason) noexcept {
    size_t n;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopped_)
        return false;
      stopped_ = true;
      stop_reason_ = reason; // short literals: no allocation
      stopped_ns_ = clock_.now_ns();
      n = captures_.size();
    }
    detach();
    if (bus_.has_handlers(events_.stopped))
      bus_.execute(
        events_.stopped,
        {{"system_time", static_cast<double>(telemetry::bus::system_time())},
         {"captured", static_cast<double>(n)}},
        {{"actor", actor_}, {"reason", reason}});
    return true;
  }

  /// Ends the trace when its deadline passed or its actor exited.
  void poll() noexcept {
    if (!running())
      return;
    if (!stats_->alive.load(std::memory_order_acquire))
      stop("actor_exited");
    else if (clock_.now_ns() - started_ns_ >= limits_.max_duration.count())
      stop("timeout");
  }

  // -- reading ---------------------------------------------------------------

  bool running() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return !stopped_;
  }

  trace_status status() const {
    trace_status r;
    r.id = id_;
    r.actor_id = actor_id_;
    r.actor = actor_;
    r.pattern = pattern_;
    r.limits = limits_;
    r.started_ns = started_ns_;
    auto now = clock_.now_ns();
    std::lock_guard<std::mutex> guard{mtx_};
    r.running = !stopped_;
    r.stop_reason = stop_reason_;
    r.seen = seen_;
    r.matched = matched_;
    r.rate_limited = rate_limited_;
    r.captured = captures_.size();
    r.max_handler_ns = max_handler_ns_;
    r.elapsed_ns = (stopped_ ? stopped_ns_ : now) - started_ns_;
    return r;
  }

  std::vector<trace_capture> captures(size_t n) const {
    std::lock_guard<std::mutex> guard{mtx_};
    auto first = captures_.size() > n ? captures_.size() - n : 0;
    return {captures_.begin() + static_cast<ptrdiff_t>(first), captures_.end()};
  }

  const std::string& actor() const noexcept { return actor_; }

  const std::string& pattern() const noexcept { return pattern_; }

private:
  void detach() noexcept {
    std::shared_ptr<trace_session> owner; // released outside the lock
    std::lock_guard<std::mutex> guard{trace_mutex()};
    if (stats_->trace.load(std::memory_order_relaxed) == this) {
      stats_->trace.store(nullptr, std::memory_order_relaxed);
      owner = std::move(stats_->trace_owner);
    }
  }

  // -- constant after construction -------------------------------------------

  const std::string id_;
  const uint64_t actor_id_;
  const std::string actor_;
  const std::string pattern_;
  const tracer_limits limits_;
  const caf::intrusive_ptr<actor_stats> stats_;
  process_table& table_;
  const telemetry::clock& clock_;
  telemetry::bus& bus_;
  const events events_;
  const int64_t started_ns_;

  // -- guarded by mtx_ -------------------------------------------------------

  mutable std::mutex mtx_;
  bool stopped_ = false;
  std::string stop_reason_;
  int64_t stopped_ns_ = 0;
  uint64_t seen_ = 0;
  uint64_t matched_ = 0;
  uint64_t rate_limited_ = 0;
  uint64_t max_handler_ns_ = 0;
  std::vector<trace_capture> captures_;
};

trace_ticket begin_trace(actor_stats& stats,
                         const caf::mailbox_element& x) noexcept {
  std::shared_ptr<trace_session> session;
  {
    std::lock_guard<std::mutex> guard{trace_mutex()};
    session = stats.trace_owner;
  }
  if (!session)
    return {}; // detached since the consume path looked
  return session->begin(x);
}

void end_trace(trace_ticket& ticket, caf::invoke_message_result result,
               bool threw) noexcept {
  if (ticket.session)
    ticket.session->end(ticket, result, threw);
}

void end_trace_of_exited(actor_stats& stats) noexcept {
  std::shared_ptr<trace_session> session;
  {
    std::lock_guard<std::mutex> guard{trace_mutex()};
    session = stats.trace_owner;
  }
  if (session)
    session->stop("actor_exited");
}

} // namespace detail

// -- tracer -------------------------------------------------------------------

tracer::tracer(process_table& table, tracer_options opts,
               const telemetry::clock& clk, telemetry::bus& bus)
  : table_(table)
  , opts_(opts)
  , clock_(&clk)
  , bus_(&bus) {
  opts_.limits = opts_.limits.clamped();
}

tracer::~tracer() {
  std::shared_ptr<detail::trace_session> s;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    s = std::move(current_);
  }
  if (s)
    s->stop("stopped");
}

caf::expected<trace_status> tracer::start(uint64_t actor_id,
                                          std::string pattern,
                                          std::optional<tracer_limits> limits) {
  if (pattern.size() > max_pattern_bytes)
    return make_error(skills_errc::invalid_argument,
                      "tracer: pattern of " + std::to_string(pattern.size()) +
                        " bytes; at most " + std::to_string(max_pattern_bytes));
  auto info = table_.find(actor_id);
  auto stats = table_.stats(actor_id);
  if (!info || !stats)
    return make_error(skills_errc::not_found,
                      "tracer: no tracked actor with id " +
                        std::to_string(actor_id));
  if (!stats->instrumented.load(std::memory_order_relaxed))
    return make_error(skills_errc::invalid_argument,
                      "tracer: actor '" + info->name + "' (id " +
                        std::to_string(actor_id) +
                        ") is registered but not tracked (spawned without "
                        "spawn_tracked): its messages cannot be traced");
  // Never above the tracer's own limits.
  auto lim = opts_.limits;
  if (limits) {
    auto x = limits->clamped();
    lim.max_per_second = std::min(lim.max_per_second, x.max_per_second);
    lim.max_captures = std::min(lim.max_captures, x.max_captures);
    lim.max_duration = std::min(lim.max_duration, x.max_duration);
    lim.max_rendering_bytes = x.max_rendering_bytes;
  }
  poll(); // ends an expired trace first
  std::shared_ptr<detail::trace_session> s;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (current_) {
      if (current_->running())
        return make_error(skills_errc::limit_reached,
                          "tracer: a trace of '" + current_->actor() +
                            "' (pattern '" + current_->pattern() +
                            "') is running already; stop it first");
    }
    detail::trace_session::events evs{
      bus_->intern({"caflens", "tracer", "capture"}),
      bus_->intern({"caflens", "tracer", "stopped"})};
    s = std::make_shared<detail::trace_session>(
      telemetry::generate_trace_id(), actor_id, info->name, std::move(pattern),
      lim, std::move(stats), table_, *clock_, *bus_, evs);
    if (auto err = s->attach())
      return err;
    current_ = s;
  }
  return s->status();
}

caf::expected<trace_status> tracer::start(const std::string& actor,
                                          std::string pattern,
                                          std::optional<tracer_limits> limits) {
  auto info = table_.find(actor);
  if (!info)
    return make_error(skills_errc::not_found,
                      "tracer: no tracked actor named '" + actor + "'");
  return start(info->id, std::move(pattern), limits);
}

caf::expected<trace_status> tracer::stop() {
  auto s = poll();
  if (!s || !s->stop("stopped"))
    return make_error(skills_errc::not_found, "tracer: no trace is running");
  return s->status();
}

std::shared_ptr<detail::trace_session> tracer::poll() {
  std::shared_ptr<detail::trace_session> s;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    s = current_;
  }
  // Outside the lock: a stop emits an event, and its handlers may call us.
  if (s)
    s->poll();
  return s;
}

std::optional<trace_status> tracer::status() {
  if (auto s = poll())
    return s->status();
  return std::nullopt;
}

std::vector<trace_capture> tracer::captures(size_t n) {
  if (auto s = poll())
    return s->captures(n);
  return {};
}

bool tracer::running() {
  auto s = poll();
  return s && s->running();
}

// -- the skill ----------------------------------------------------------------

namespace {

class tracer_skill final : public skill {
public:
  explicit tracer_skill(std::shared_ptr<tracer> t)
    : tracer_(std::move(t)) {}

  std::string name() const override { return "tracer"; }

  std::vector<finding_type> finding_types() const override {
    return {{"slow_traced_handler", "latency_regression",
             "traced handler runs slower than the trace's limit"}};
  }

  std::vector<std::string> keywords() const override {
    return {"trace", "message", "handler"};
  }

  std::string title() const override { return "Message tracer"; }

  std::string description() const override {
    return "Captures messages to one tracked actor that match a pattern, "
           "with their handler times, under hard limits (5/s, 50, 60 s).";
  }

  std::string system_prompt() const override {
    return "You are the tracer operator of caflens. Trace one suspicious "
           "actor at a time: trace_start(actor, pattern) with a pattern as "
           "narrow as the question allows ('' captures every message; '*' "
           "stands for any text, '?' for one character), then read "
           "trace_captures() for the messages, their senders and handler "
           "times, and call trace_stop() when you have enough. A trace "
           "captures at most 5 messages per second and 50 in all and stops "
           "after 60 s, so captures are samples: compare seen, matched and "
           "rate_limited in trace_status() before you speak of rates. Quote "
           "renderings and handler times verbatim.";
  }

  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"active", "", "a trace is running"},
      {"slow_handler_ms", "ms", "a capture this slow counts as slow"},
      {"trace", "", "the running or last trace; null before the first"},
      {"trace.id", "", "trace id"},
      {"trace.actor_id", "", "traced actor's id"},
      {"trace.actor", "", "traced actor's name"},
      {"trace.pattern", "", "text a message must contain ('' = all)"},
      {"trace.running", "", "still capturing"},
      {"trace.stop_reason", "",
       "stopped, capture_limit, timeout, actor_exited; '' running"},
      {"trace.seen", "messages", "delivered to the actor while tracing"},
      {"trace.matched", "messages", "of them matching the pattern"},
      {"trace.rate_limited", "messages", "not examined: per-second cap spent"},
      {"trace.captured", "messages", "captured in all"},
      {"trace.max_handler_ns", "ns", "longest handler time of the captures"},
      {"trace.max_handler_ms", "ms", "the same in ms"},
      {"trace.started_ns", "ns", "start, tracer's steady clock (not unix)"},
      {"trace.elapsed_ms", "ms", "since start, until the stop if stopped"},
      {"trace.limits", "", "this trace's limits"},
      {"trace.limits.max_per_second", "captures/s", "captures per second"},
      {"trace.limits.max_captures", "count", "captures in all"},
      {"trace.limits.max_duration_ms", "ms", "the trace stops after this"},
      {"trace.slow_captures", "count", "captures at least slow_handler_ms"},
      {"trace.slowest_message", "", "rendering of the slowest capture"},
      {"recent_captures", "", "the last captures, oldest first"},
      {"recent_captures[].index", "", "1 for a trace's first capture"},
      {"recent_captures[].delivered_ns", "ns",
       "delivery, tracer's steady clock (not unix)"},
      {"recent_captures[].system_time_ns", "unix ns", "when its handler ended"},
      {"recent_captures[].sender", "", "sender's actor id, 0 anonymous"},
      {"recent_captures[].sender_name", "", "sender's name if tracked"},
      {"recent_captures[].message", "", "the message rendered, cut"},
      {"recent_captures[].handler_ns", "ns", "time in the handler"},
      {"recent_captures[].handler_ms", "ms", "the same in ms"},
      {"recent_captures[].result", "", "consumed, dropped or exception"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }

  json collect_() override {
    auto st = tracer_->status();
    json r{{"captured_at_ns", tracer_->table().now_ns()},
           {"active", st && st->running},
           {"slow_handler_ms", tracer_->options().slow_handler_ms}};
    if (!st) {
      r["trace"] = nullptr;
      r["recent_captures"] = json::array();
      return r;
    }
    auto slow_ns =
      static_cast<uint64_t>(tracer_->options().slow_handler_ms) * 1'000'000;
    uint64_t slow = 0;
    json recent = json::array();
    auto all = tracer_->captures();
    auto first =
      all.size() > limits_.max_entries ? all.size() - limits_.max_entries : 0;
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i].handler_ns >= slow_ns)
        ++slow;
      if (i >= first)
        recent.push_back(to_json(all[i]));
    }
    auto trace = to_json(*st);
    trace["slow_captures"] = slow;
    // The slowest capture, named, for the detector.
    auto slowest =
      std::max_element(all.begin(), all.end(), [](auto& x, auto& y) {
        return x.handler_ns < y.handler_ns;
      });
    if (slowest != all.end())
      trace["slowest_message"] = slowest->message;
    r["trace"] = std::move(trace);
    r["recent_captures"] = std::move(recent);
    return bound_snapshot(std::move(r), limits_.max_snapshot_bytes);
  }

  std::vector<callback> callbacks() override {
    std::vector<callback> cbs;
    cbs.push_back(
      {"trace_start",
       "trace_start(actor, pattern) — capture messages to one tracked actor "
       "(name or id) whose rendering contains pattern ('*' any text, '?' one "
       "character, '' all), with handler times; ≤ 5/s, ≤ 50, ≤ 60 s",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         if (args.empty())
           return make_error(skills_errc::invalid_argument,
                             "trace_start needs an actor name or id");
         std::string pattern;
         if (args.size() > 1 && !args[1].is_null()) {
           if (!args[1].is_string())
             return make_error(skills_errc::invalid_argument,
                               "trace_start: pattern must be a string, got " +
                                 args[1].dump());
           pattern = args[1].get<std::string>();
         }
         caf::expected<trace_status> st{trace_status{}};
         if (auto id = count_arg(args[0]))
           st = tracer_->start(*id, std::move(pattern));
         else if (args[0].is_string())
           st = start_by_name(args[0].get<std::string>(), std::move(pattern));
         else
           return make_error(
             skills_errc::invalid_argument,
             "trace_start: actor must be a name or an id, got " +
               args[0].dump());
         if (!st)
           return std::move(st.error());
         return to_json(*st);
       },
       std::chrono::milliseconds{0},
       {sandbox::param::needed("actor"),
        sandbox::param::string("pattern", "")}});
    cbs.push_back(
      {"trace_status",
       "trace_status() — the running or last trace: actor, pattern, seen, "
       "matched, rate_limited, captured, stop_reason",
       [this](const std::vector<json>&) -> caf::expected<json> {
         auto st = tracer_->status();
         if (!st)
           return json(nullptr);
         return to_json(*st);
       }});
    cbs.push_back(
      {"trace_captures",
       "trace_captures(n) — the last n (default all, ≤ 50) captured messages "
       "with sender, rendering and handler time",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         size_t n = tracer_limits::hard_max_captures;
         if (auto x = args.empty() ? std::nullopt : count_arg(args[0]))
           n = std::min<uint64_t>(n, *x);
         json r = json::array();
         for (auto& c : tracer_->captures(n))
           r.push_back(to_json(c));
         return r;
       },
       std::chrono::milliseconds{0},
       {sandbox::param::integer("n", 20, 0, 1000)}});
    cbs.push_back({"trace_stop",
                   "trace_stop() — stop the running trace; its status",
                   [this](const std::vector<json>&) -> caf::expected<json> {
                     auto st = tracer_->stop();
                     if (!st)
                       return std::move(st.error());
                     return to_json(*st);
                   }});
    return cbs;
  }

  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    auto i = cur.find("trace");
    if (i == cur.end() || !i->is_object())
      return out;
    auto& t = *i;
    auto slow = t.value("slow_captures", uint64_t{0});
    if (slow == 0)
      return out;
    auto actor = t.value("actor", std::string{});
    auto captured = t.value("captured", uint64_t{0});
    auto max_ns = t.value("max_handler_ns", uint64_t{0});
    auto& opts = tracer_->options();
    finding f;
    f.type = "slow_traced_handler";
    f.level =
      static_cast<int64_t>(max_ns) >= opts.blocked_handler_ms * 1'000'000
        ? severity::critical
        : severity::warning;
    char max_ms[32];
    std::snprintf(max_ms, sizeof(max_ms), "%.1f", to_ms(max_ns));
    f.observation = "tracer: " + std::to_string(slow) + " of " +
                    std::to_string(captured) + " captured messages to " +
                    actor +
                    " spent >= " + std::to_string(opts.slow_handler_ms) +
                    " ms in the handler (max " + max_ms + " ms, for " +
                    t.value("slowest_message", std::string{}) + ")";
    f.actors.push_back(actor);
    f.evidence = {{"actor", actor},
                  {"pattern", t.value("pattern", std::string{})},
                  {"slow_captures", slow},
                  {"captured", captured},
                  {"max_handler_ns", max_ns},
                  {"slow_handler_ms", opts.slow_handler_ms},
                  {"trace_id", t.value("id", std::string{})}};
    out.push_back(std::move(f));
    return out;
  }

private:
  caf::expected<trace_status> start_by_name(const std::string& name,
                                            std::string pattern) {
    // A name first; digits that name no actor are an id.
    auto by_name = tracer_->start(name, pattern);
    if (by_name ||
        by_name.error().compare(static_cast<uint8_t>(skills_errc::not_found),
                                skills_errc_category) != 0 ||
        name.empty() || name.size() > 19 ||
        !std::all_of(name.begin(), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      return by_name;
    return tracer_->start(static_cast<uint64_t>(std::stoull(name)),
                          std::move(pattern));
  }

  std::shared_ptr<tracer> tracer_;
};

} // namespace

skill_ptr make_tracer_skill(std::shared_ptr<tracer> t) {
  return std::make_shared<tracer_skill>(std::move(t));
}

skill_ptr make_tracer_skill(process_table& table, tracer_options opts) {
  return make_tracer_skill(std::make_shared<tracer>(table, opts));
}

} // namespace caflens::skills
