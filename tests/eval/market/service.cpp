// The market-data service of caflens-market, its alert rules and the run of
// one scenario. Written the way an application team would use caflens: only
// the public headers (the facade, tracked actors, supervisors, metrics, the
// log buffer).
#include "market.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/supervisor.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace market {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using caflens::skills::spawn_tracked;
namespace sv = caflens::supervision;
namespace tel = caflens::telemetry;

// -- messages -----------------------------------------------------------------

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using quote_atom = caf::atom_constant<caf::atom("quote")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using persist_atom = caf::atom_constant<caf::atom("persist")>;
using fsynced_atom = caf::atom_constant<caf::atom("fsynced")>;
using exposure_atom = caf::atom_constant<caf::atom("exposure")>;
using approve_atom = caf::atom_constant<caf::atom("approve")>;
using priced_atom = caf::atom_constant<caf::atom("priced")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using emit_atom = caf::atom_constant<caf::atom("emit")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using roll_atom = caf::atom_constant<caf::atom("roll")>;
using upload_atom = caf::atom_constant<caf::atom("upload")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using record_atom = caf::atom_constant<caf::atom("record")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
using offset_atom = caf::atom_constant<caf::atom("offset")>;

constexpr size_t session_count = 6;
constexpr uint32_t ticks_per_second_per_feed = 800;
/// Share of each symbol in its venue's flow, percent.
constexpr std::array<uint32_t, 4> nyse_weights{35, 30, 15, 20};
constexpr std::array<uint32_t, 4> lse_weights{40, 25, 20, 15};

constexpr std::string_view stage_metric = "mkt.stage.latency";
constexpr std::string_view quote_age_metric = "mkt.quote.age";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::string fixed(double x, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

std::string book_name(size_t sym) {
  return "book-" + std::string{symbol_name(sym)};
}

std::string session_name(size_t index) {
  return "subscriber-session-" + std::to_string(index);
}

const char* venue_of(size_t sym) {
  return sym < 4 ? "nyse" : "lse";
}

/// Log-normal service time around `median_ms`.
std::chrono::microseconds service_time(std::mt19937_64& rng, double median_ms,
                                       double sigma = 0.3) {
  std::lognormal_distribution<double> dist{std::log(median_ms), sigma};
  return std::chrono::microseconds{
    static_cast<int64_t>(std::min(dist(rng), 20 * median_ms) * 1000)};
}

int64_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

caf::error to_error(caf::scheduled_actor*, std::exception_ptr& x) {
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, e.what());
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error, "unknown exception");
  }
}

// -- what the service shares ----------------------------------------------------

/// The fault plan, the service's own counters (what its dashboards and alert
/// rules read) and the handles every actor needs.
struct shared {
  scenario plan;
  std::atomic<bool> armed{false};
  std::atomic<int64_t> armed_ns{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> maintenance{false};
  std::shared_ptr<caflens::skills::log_buffer> logs;
  bool metrics_on = true;
  tel::event stage_ev;
  tel::event age_ev;

  std::atomic<uint64_t> emitted{0};
  std::array<std::atomic<uint64_t>, symbol_count> routed{};
  std::array<std::atomic<uint64_t>, symbol_count> applied{};
  std::array<std::atomic<int64_t>, symbol_count> last_delivery_ns{};
  /// The largest tick age delivered since the watcher last looked.
  std::array<std::atomic<int64_t>, symbol_count> max_age_ns{};
  std::array<std::atomic<uint64_t>, symbol_count> book_bytes{};
  std::array<std::atomic<uint64_t>, session_count + 1> session_bytes{};
  std::array<std::atomic<uint32_t>, symbol_count> book_starts{};
  std::atomic<uint64_t> persist_sent{0}, persist_acked{0}, persist_failed{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::atomic<uint64_t> risk_done{0};
  std::atomic<int64_t> last_risk_ns{0};
  std::atomic<uint64_t> stranded{0};
  std::atomic<int64_t> oldest_stranded_ns{0};

  std::mutex mtx;
  std::deque<int64_t> restarts; // guarded by mtx
  std::deque<int64_t> session_restarts; // guarded by mtx
  std::array<uint32_t, session_count + 1> session_starts{}; // guarded by mtx
  std::array<caf::actor, session_count + 1> sessions; // guarded by mtx

  caf::actor router, journal, risk, archiver;

  /// Is the planned fault active?
  bool on() const noexcept {
    return armed.load(std::memory_order_acquire);
  }

  double armed_seconds() const noexcept {
    auto at = armed_ns.load(std::memory_order_acquire);
    return at == 0 ? 0.0 : (now_ns() - at) / 1e9;
  }

  void log(const char* level, const std::string& source, std::string line) {
    logs->append(level, source, std::move(line));
  }

  void stage(const char* component, double ms) {
    if (metrics_on)
      tel::bus::global().execute(stage_ev, {{"duration_ms", ms}},
                                {{"component", component}});
  }
};

using shared_ptr = std::shared_ptr<shared>;

// -- feed handlers ----------------------------------------------------------------

struct feed_state {
  std::mt19937_64 rng;
  int64_t last_ns = 0;
  int64_t last_burst_ns = 0;
  double carry = 0;
  double error_carry = 0;
  std::array<double, 4> px{};
  uint64_t seq = 0;
  uint64_t gaps = 0;
};

caf::behavior feed_impl(caf::stateful_actor<feed_state>* self, shared_ptr sh,
                        uint32_t venue) {
  auto name = std::string{"feed-"} + (venue == 0 ? "nyse" : "lse");
  auto& st = self->state;
  st.rng.seed(1234 + venue);
  st.last_ns = st.last_burst_ns = now_ns();
  for (size_t i = 0; i < 4; ++i)
    st.px[i] = 50.0 + 40.0 * i + 10.0 * venue;
  self->send(self, emit_atom::value);
  auto hot = venue == 0 && sh->plan.hot_symbol_factor > 0;
  auto rate = ticks_per_second_per_feed * (hot ? sh->plan.hot_symbol_factor
                                                : 1.0);
  auto pick = [self, venue, hot]() -> uint32_t {
    if (hot && self->state.rng() % 100 < 85)
      return 0;
    auto& w = venue == 0 ? nyse_weights : lse_weights;
    auto x = static_cast<uint32_t>(self->state.rng() % 100);
    uint32_t i = 0;
    while (i + 1 < w.size() && x >= w[i])
      x -= w[i++];
    return i;
  };
  auto emit_one = [self, sh, venue, pick](int64_t now) {
    auto& st = self->state;
    auto i = pick();
    std::normal_distribution<double> step{0, 0.02};
    st.px[i] = std::max(1.0, st.px[i] + step(st.rng));
    auto sym = venue * 4 + i;
    ++st.seq;
    // Ticks carry the exchange's timestamp: it precedes our receive time by
    // the one-way wire latency from the venue (about 1.2 ms).
    auto wire = service_time(st.rng, 1.2, 0.25);
    auto stamped = now - std::chrono::duration_cast<std::chrono::nanoseconds>(
                           wire)
                           .count();
    self->send(sh->router, tick_atom::value, sym, st.px[i], stamped);
    sh->emitted.fetch_add(1, std::memory_order_relaxed);
  };
  return {[=](emit_atom) {
    if (sh->stopping.load())
      return;
    auto& st = self->state;
    auto& plan = sh->plan;
    if (venue == 1 && plan.graceful_shutdown && sh->on()) {
      sh->log("info", name, "LSE closed for the day; feed handler stopping");
      self->quit();
      return;
    }
    auto now = now_ns();
    auto dt = (now - st.last_ns) / 1e9;
    st.last_ns = now;
    st.carry += rate * dt;
    auto n = static_cast<uint64_t>(std::min(st.carry, rate / 5));
    st.carry -= n;
    for (uint64_t k = 0; k < n; ++k)
      emit_one(now);
    if (plan.bursty && now - st.last_burst_ns >= 500'000'000) {
      st.last_burst_ns = now;
      for (int k = 0; k < 1500; ++k)
        emit_one(now);
    }
    if (venue == 1 && plan.feed_errors_per_s > 0 && sh->on()) {
      st.error_carry += plan.feed_errors_per_s * dt;
      while (st.error_carry >= 1) {
        st.error_carry -= 1;
        ++st.gaps;
        auto expected = st.seq + 1;
        auto lost = 3 + st.rng() % 40;
        sh->log("error", name,
                "multicast line B sequence gap: expected " +
                  std::to_string(expected) + ", got " +
                  std::to_string(expected + lost) + " (" +
                  std::to_string(lost) +
                  " packets lost, retransmission request rejected)");
        st.seq += lost;
      }
    }
    self->delayed_send(self, 10ms, emit_atom::value);
  }};
}

// -- router ------------------------------------------------------------------------

struct router_state {
  std::array<caf::actor, symbol_count> books;
  std::array<std::vector<caf::actor>, symbol_count> subscribers;
  /// Ticks held while a symbol's book is (re)starting: price, created.
  std::array<std::deque<std::pair<double, int64_t>>, symbol_count> held;
  uint64_t stranded = 0;
  uint64_t routed = 0;
  /// Vendor symbol aliases seen on the wire.
  std::unordered_map<std::string, std::string> aliases;
  uint64_t alias_bytes = 0;
};

caf::behavior router_impl(caf::stateful_actor<router_state>* self,
                          shared_ptr sh) {
  caflens::skills::expose_state(self, [self] {
    auto& st = self->state;
    size_t live = 0, subs = 0;
    for (size_t i = 0; i < symbol_count; ++i) {
      live += st.books[i] ? 1 : 0;
      subs += st.subscribers[i].size();
    }
    return json{{"routes_live", live},
                {"subscriptions", subs},
                {"ticks_routed", st.routed},
                {"ticks_held", st.stranded},
                {"alias_cache_entries", st.aliases.size()}};
  });
  auto publish_held = [self, sh] {
    auto& st = self->state;
    int64_t oldest = 0;
    for (auto& q : st.held)
      if (!q.empty() && (oldest == 0 || q.front().second < oldest))
        oldest = q.front().second;
    sh->stranded.store(st.stranded, std::memory_order_relaxed);
    sh->oldest_stranded_ns.store(oldest, std::memory_order_relaxed);
  };
  self->set_down_handler([self, publish_held](caf::down_msg& dm) {
    for (auto& b : self->state.books)
      if (b && b.address() == dm.source)
        b = nullptr;
    publish_held();
  });
  return {
    [=](register_atom, uint32_t sym, caf::actor book) {
      if (sym >= symbol_count)
        return;
      auto& st = self->state;
      self->monitor(book);
      st.books[sym] = book;
      for (auto& s : st.subscribers[sym])
        self->send(book, subscribe_atom::value, s);
      for (auto& [px, created] : st.held[sym])
        self->send(book, tick_atom::value, sym, px, created);
      st.stranded -= st.held[sym].size();
      st.held[sym].clear();
      publish_held();
    },
    [=](subscribe_atom, uint32_t sym, caf::actor session) {
      if (sym >= symbol_count)
        return;
      auto& st = self->state;
      st.subscribers[sym].push_back(session);
      if (st.books[sym])
        self->send(st.books[sym], subscribe_atom::value, session);
    },
    [=](tick_atom, uint32_t sym, double px, int64_t created) {
      if (sym >= symbol_count)
        return;
      auto& st = self->state;
      ++st.routed;
      sh->routed[sym].fetch_add(1, std::memory_order_relaxed);
      auto& plan = sh->plan;
      if (plan.router_tick_us > 0 && sh->on())
        // Symbol normalization through a synchronous reference-data call.
        std::this_thread::sleep_for(
          std::chrono::microseconds{plan.router_tick_us});
      if (plan.router_leak_bytes_per_s > 0 && sh->on()) {
        // Every vendor alias is cached and none is ever evicted.
        auto target = plan.router_leak_bytes_per_s * sh->armed_seconds();
        while (st.alias_bytes < target) {
          auto key = std::string{venue_of(sym)} + ":" +
                     std::string{symbol_name(sym)} + "/" +
                     std::to_string(st.routed) + "." +
                     std::to_string(st.aliases.size());
          st.aliases.emplace(std::move(key), std::string(2048, 'r'));
          st.alias_bytes += 2048 + 96;
        }
      }
      if (st.books[sym]) {
        self->send(st.books[sym], tick_atom::value, sym, px, created);
        return;
      }
      if (st.held[sym].size() < 200'000) {
        st.held[sym].emplace_back(px, created);
        ++st.stranded;
        publish_held();
      }
    },
  };
}

// -- order books --------------------------------------------------------------------

struct book_state {
  uint32_t sym = 0;
  int64_t started_ns = 0;
  std::vector<caf::actor> subscribers;
  double last_px = 0;
  double position = 0;
  uint64_t applied = 0;
  uint64_t unjournaled = 0;
  std::deque<std::string> history;
  uint64_t history_bytes = 0;
  std::mt19937_64 rng;
};

constexpr uint64_t book_base_bytes = 16 * 1024;

caf::behavior book_impl(caf::stateful_actor<book_state>* self, shared_ptr sh,
                        uint32_t sym) {
  auto name = book_name(sym);
  auto& st = self->state;
  st.sym = sym;
  st.started_ns = now_ns();
  st.rng.seed(99 + sym * 13 + self->id());
  self->set_exception_handler(to_error);
  if (sh->book_starts[sym].fetch_add(1) > 0) {
    std::lock_guard<std::mutex> guard{sh->mtx};
    sh->restarts.push_back(now_ns());
  }
  auto me = caf::actor_cast<caf::actor>(self);
  self->send(sh->router, register_atom::value, sym, me);
  self->send(sh->risk, register_atom::value, sym, me);
  self->delayed_send(self, 10ms, flush_atom::value);
  auto apply = [self, sh, sym](double px, int64_t created) {
    auto& st = self->state;
    std::uniform_real_distribution<double> fill{-50, 50};
    st.position += fill(st.rng);
    st.last_px = px;
    ++st.applied;
    ++st.unjournaled;
    sh->applied[sym].fetch_add(1, std::memory_order_relaxed);
    if (auto n = sh->plan.quote_depth_bytes; n > 0) {
      // Depth-of-book deployment: every quote carries the top levels.
      std::string depth(n, char('A' + sym));
      for (auto& s : st.subscribers)
        self->send(s, quote_atom::value, sym, px, created, depth);
      return;
    }
    for (auto& s : st.subscribers)
      self->send(s, quote_atom::value, sym, px, created);
  };
  return {
    [=](subscribe_atom, caf::actor session) {
      auto& subs = self->state.subscribers;
      if (std::find(subs.begin(), subs.end(), session) == subs.end())
        subs.push_back(std::move(session));
    },
    [=](tick_atom, uint32_t, double px, int64_t created) {
      auto& plan = sh->plan;
      if (sh->on()) {
        auto& st = self->state;
        if (static_cast<int>(sym) == plan.slow_book)
          std::this_thread::sleep_for(
            std::chrono::microseconds{int64_t(plan.slow_tick_ms * 1000)});
        if (static_cast<int>(sym) == plan.block_book ||
            ((plan.block_mask >> sym) & 1u) != 0) {
          sh->log("info", name, "reloading the reference data of " +
                                  std::string{symbol_name(sym)} +
                                  " synchronously");
          std::this_thread::sleep_for(std::chrono::milliseconds{plan.block_ms});
        }
        if (static_cast<int>(sym) == plan.crash_book &&
            now_ns() - st.started_ns >= plan.crash_after_ms * 1'000'000LL) {
          sh->log("error", name,
                  "crossed book after a trade bust: best bid " +
                    fixed(px + 0.05, 2) + " above best ask " + fixed(px, 2));
          throw std::logic_error("order book invariant violated: crossed "
                                 "book (bid > ask) after a trade bust");
        }
        if (static_cast<int>(sym) == plan.leak_book) {
          // Depth snapshots kept for a replay feature, never trimmed.
          auto target = plan.leak_bytes_per_s * sh->armed_seconds();
          while (st.history_bytes < target) {
            st.history.emplace_back(4096, 'd');
            st.history_bytes += 4096 + 32;
          }
          caflens::skills::report_state_bytes(self,
                                              book_base_bytes +
                                                st.history_bytes);
          sh->book_bytes[sym].store(book_base_bytes + st.history_bytes,
                                    std::memory_order_relaxed);
        }
        if (static_cast<int>(sym) == plan.await_book) {
          // Strict pre-trade mode: wait for the risk gate's approval.
          std::uniform_real_distribution<double> qty{100, 5000};
          self
            ->request(sh->risk,
                      std::chrono::milliseconds{plan.await_timeout_ms},
                      approve_atom::value, sym, qty(st.rng))
            .await([=](bool) { apply(px, created); },
                   [=](caf::error& err) {
                     sh->log("warning", name,
                             "pre-trade approval timed out: " +
                               caf::to_string(err));
                     apply(px, created);
                   });
          return;
        }
      }
      apply(px, created);
    },
    [=](flush_atom) {
      auto& st = self->state;
      if (st.unjournaled > 0) {
        auto n = st.unjournaled;
        st.unjournaled = 0;
        sh->persist_sent.fetch_add(1, std::memory_order_relaxed);
        // Applied ticks must be durable within a second.
        self->request(sh->journal, 1s, persist_atom::value, sym, n)
          .then(
            [sh](uint64_t) {
              sh->persist_acked.fetch_add(1, std::memory_order_relaxed);
              sh->last_ack_ns.store(now_ns(), std::memory_order_relaxed);
            },
            [sh, name, sym, n](caf::error& err) {
              sh->persist_failed.fetch_add(1, std::memory_order_relaxed);
              sh->log("error", name,
                      "persisting " + std::to_string(n) + " " +
                        std::string{symbol_name(sym)} +
                        " records failed: the journal did not acknowledge "
                        "within 1 s (" +
                        caf::to_string(err) + ")");
            });
      }
      auto bytes = book_base_bytes + st.history_bytes;
      caflens::skills::report_state_bytes(self, bytes);
      sh->book_bytes[sym].store(bytes, std::memory_order_relaxed);
      if (!sh->stopping.load())
        self->delayed_send(self, 10ms, flush_atom::value);
    },
    [=](exposure_atom) -> double {
      return self->state.position * self->state.last_px;
    },
  };
}

// -- client sessions ------------------------------------------------------------------

struct session_state {
  uint32_t index = 0;
  int64_t started_ns = 0;
  uint64_t delivered = 0;
  std::deque<std::string> replay;
  uint64_t replay_bytes = 0;
};

caf::behavior session_impl(caf::stateful_actor<session_state>* self,
                           shared_ptr sh, uint32_t index) {
  auto name = session_name(index);
  self->state.index = index;
  self->state.started_ns = now_ns();
  self->set_exception_handler(to_error);
  auto me = caf::actor_cast<caf::actor>(self);
  {
    std::lock_guard<std::mutex> guard{sh->mtx};
    sh->sessions[index] = me;
    if (sh->session_starts[index]++ > 0)
      sh->session_restarts.push_back(now_ns());
  }
  // Odd sessions take the odd symbols, even sessions the even ones.
  for (uint32_t sym = 0; sym < symbol_count; ++sym)
    if ((sym + index) % 2 == 0)
      self->send(sh->router, subscribe_atom::value, sym, me);
  auto on_quote = [=](uint32_t sym, int64_t created) {
    {
      auto now = now_ns();
      auto age = now - created;
      sh->last_delivery_ns[sym].store(now, std::memory_order_relaxed);
      auto& max_age = sh->max_age_ns[sym];
      auto seen = max_age.load(std::memory_order_relaxed);
      while (age > seen &&
             !max_age.compare_exchange_weak(seen, age,
                                            std::memory_order_relaxed))
        ; // retry

      if (sh->metrics_on)
        tel::bus::global().execute(sh->age_ev, {{"age_ms", age / 1e6}},
                                  {{"venue", venue_of(sym)}});
      auto& st = self->state;
      ++st.delivered;
      auto& plan = sh->plan;
      if (static_cast<int>(index) == plan.crash_session && sh->on() &&
          now_ns() - st.started_ns >= plan.crash_session_after_ms * 1'000'000LL) {
        sh->log("error", name,
                "client protocol error: subscription frame with a negative "
                "length; dropping the connection");
        throw std::runtime_error("malformed client frame (negative length)");
      }
      if (static_cast<int>(index) == plan.slow_session && sh->on())
        std::this_thread::sleep_for(
          std::chrono::microseconds{int64_t(plan.slow_quote_ms * 1000)});
      if (static_cast<int>(index) == plan.leak_session && sh->on()) {
        // The replay buffer for reconnecting clients is never trimmed.
        auto target = plan.session_leak_bytes_per_s * sh->armed_seconds();
        while (st.replay_bytes < target) {
          st.replay.emplace_back(1024, 'q');
          st.replay_bytes += 1024 + 32;
        }
        caflens::skills::report_state_bytes(self, st.replay_bytes);
        sh->session_bytes[index].store(st.replay_bytes,
                                       std::memory_order_relaxed);
      }
    }
  };
  return {
    [=](quote_atom, uint32_t sym, double, int64_t created) {
      on_quote(sym, created);
    },
    [=](quote_atom, uint32_t sym, double, int64_t created,
        const std::string&) { on_quote(sym, created); },
    [=](drain_atom) {
      sh->log("info", name,
              "draining: " + std::to_string(self->state.delivered) +
                " quotes delivered, closing the client connection");
      self->quit(caf::exit_reason::user_shutdown);
    },
  };
}

// -- risk gate -----------------------------------------------------------------------

struct risk_state {
  std::array<caf::actor, symbol_count> books;
  uint64_t checks = 0;
  uint64_t approvals = 0;
  std::mt19937_64 rng{4242};
};

caf::behavior risk_impl(caf::stateful_actor<risk_state>* self, shared_ptr sh) {
  caflens::skills::expose_state(self, [self] {
    size_t live = 0;
    for (auto& b : self->state.books)
      live += b ? 1 : 0;
    return json{{"books", live},
                {"checks_completed", self->state.checks},
                {"approvals", self->state.approvals},
                {"limit_usd", 5'000'000}};
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& b : self->state.books)
      if (b && b.address() == dm.source)
        b = nullptr;
  });
  self->delayed_send(self, 50ms, check_atom::value);
  // Prices one exposure: an asynchronous call to the pricing service.
  auto price = [self, sh](uint32_t sym) {
    auto median = 4.0 * (sh->on() ? sh->plan.risk_latency_factor : 1.0);
    self->delayed_send(self, service_time(self->state.rng, median),
                       priced_atom::value, sym, now_ns());
  };
  return {
    [=](register_atom, uint32_t sym, caf::actor book) {
      if (sym >= symbol_count)
        return;
      self->monitor(book);
      self->state.books[sym] = std::move(book);
    },
    [=](check_atom) {
      auto check_books = [=] {
        for (uint32_t sym = 0; sym < symbol_count; ++sym)
          if (auto& book = self->state.books[sym])
            self->request(book, 1s, exposure_atom::value)
              .then([=](double) { price(sym); }, [](caf::error&) {});
        if (!sh->stopping.load())
          self->delayed_send(self, 50ms, check_atom::value);
      };
      if (sh->plan.risk_awaits_offset && sh->on()) {
        // Risk on durable data only: the journal's offset first.
        self->request(sh->journal, 10s, offset_atom::value)
          .await([=](uint64_t) { check_books(); },
                 [=](caf::error& err) {
                   sh->log("warning", "risk-gate",
                           "durable offset unavailable: " +
                             caf::to_string(err));
                   check_books();
                 });
        return;
      }
      check_books();
    },
    [=](priced_atom, uint32_t, int64_t started) {
      auto now = now_ns();
      sh->stage("risk-gate", (now - started) / 1e6);
      ++self->state.checks;
      sh->risk_done.fetch_add(1, std::memory_order_relaxed);
      sh->last_risk_ns.store(now, std::memory_order_relaxed);
    },
    [=](approve_atom, uint32_t sym, double qty) -> caf::response_promise {
      auto rp = self->make_response_promise();
      ++self->state.approvals;
      auto& plan = sh->plan;
      auto& book = self->state.books[sym < symbol_count ? sym : 0];
      if (static_cast<int>(sym) == plan.await_book && sh->on() && book &&
          qty >= 4000) {
        // Strict mode: a large order needs the book's current exposure
        // first, and nothing else is looked at meanwhile.
        self
          ->request(book, std::chrono::milliseconds{plan.await_timeout_ms},
                    exposure_atom::value)
          .await([=](double) mutable { rp.deliver(true); },
                 [=](caf::error& err) mutable {
                   sh->log("warning", "risk-gate",
                           "exposure of " + std::string{symbol_name(sym)} +
                             " unavailable, order approved on stale data: " +
                             caf::to_string(err));
                   rp.deliver(true);
                 });
        return rp;
      }
      rp.deliver(true);
      return rp;
    },
  };
}

// -- journal and archiver ------------------------------------------------------------------

struct journal_state {
  /// The open segment, kept in memory until it rolls (when buffered).
  std::vector<std::string> segment_buffer;
  uint64_t buffered_bytes = 0;
  std::vector<caf::response_promise> waiting;
  std::vector<caf::response_promise> syncing;
  /// Offset queries parked and never answered (lost_reply).
  std::vector<caf::response_promise> parked;
  bool in_flight = false;
  int64_t sync_started_ns = 0;
  uint64_t durable = 0;
  uint64_t records = 0;
  uint64_t segment = 1;
  std::mt19937_64 rng{77};
};

caf::behavior journal_impl(caf::stateful_actor<journal_state>* self,
                           shared_ptr sh) {
  caflens::skills::expose_state(self, [self] {
    auto& st = self->state;
    return json{{"segment", st.segment},
                {"records", st.records},
                {"durable_offset", st.durable}};
  });
  self->delayed_send(self, 1500ms, roll_atom::value);
  auto start_sync = [self, sh] {
    auto& st = self->state;
    if (st.in_flight || st.waiting.empty())
      return;
    if (sh->plan.journal_no_group_commit && sh->on()) {
      st.syncing.push_back(std::move(st.waiting.front()));
      st.waiting.erase(st.waiting.begin());
    } else {
      st.syncing.swap(st.waiting);
    }
    st.in_flight = true;
    st.sync_started_ns = now_ns();
    self->delayed_send(self, service_time(st.rng, 1.5, 0.25),
                       fsynced_atom::value);
  };
  return {
    [=](persist_atom, uint32_t, uint64_t n) -> caf::response_promise {
      auto& st = self->state;
      if (sh->plan.journal_block_ms > 0 && sh->on())
        std::this_thread::sleep_for(
          std::chrono::milliseconds{sh->plan.journal_block_ms});
      st.records += n;
      if (sh->plan.journal_record_bytes > 0) {
        auto bytes = n * sh->plan.journal_record_bytes;
        st.segment_buffer.emplace_back(bytes, 'j');
        st.buffered_bytes += bytes + 32;
        caflens::skills::report_state_bytes(self, st.buffered_bytes);
      }
      auto rp = self->make_response_promise();
      st.waiting.push_back(rp);
      start_sync();
      return rp;
    },
    [=](offset_atom) -> caf::response_promise {
      auto rp = self->make_response_promise();
      auto& st = self->state;
      if (sh->plan.journal_parks_offset_queries && sh->on()) {
        // The bug: queries wait for the next segment roll, which forgets
        // them.
        st.parked.push_back(rp);
        return rp;
      }
      rp.deliver(st.durable);
      return rp;
    },
    [=](fsynced_atom) {
      auto& st = self->state;
      sh->stage("journal", (now_ns() - st.sync_started_ns) / 1e6);
      st.durable += st.syncing.size();
      for (auto& rp : st.syncing)
        rp.deliver(st.durable);
      st.syncing.clear();
      st.in_flight = false;
      start_sync();
    },
    [=](roll_atom) {
      auto& st = self->state;
      self->send(sh->archiver, upload_atom::value, st.segment, st.records);
      ++st.segment;
      // The closed segment goes to the archiver; its buffer is released.
      std::vector<std::string>{}.swap(st.segment_buffer);
      st.buffered_bytes = 0;
      caflens::skills::report_state_bytes(self, 0);
      if (!sh->stopping.load())
        self->delayed_send(self, 1500ms, roll_atom::value);
    },
  };
}

caf::behavior archiver_impl(caf::event_based_actor* self, shared_ptr sh) {
  return {
    [=](upload_atom, uint64_t segment, uint64_t records) {
      // Uploading a closed segment to cold storage: blocking I/O on this
      // actor's own thread.
      std::this_thread::sleep_for(
        std::chrono::milliseconds{sh->plan.archiver_upload_ms});
      sh->log("info", "archiver",
              "segment " + std::to_string(segment) + " uploaded (" +
                std::to_string(records) + " records)");
    },
  };
}

// -- replay stream (busy control) ------------------------------------------------------

constexpr uint64_t credit_window = 5000;
constexpr uint64_t credit_batch = 500;

struct counter_state {
  uint64_t n = 0;
};

caf::behavior tape_impl(caf::stateful_actor<counter_state>* self,
                        shared_ptr sh) {
  return {
    [=](record_atom, uint64_t, caf::actor source) {
      // Writing one record to tape: a short blocking write.
      std::this_thread::sleep_for(std::chrono::microseconds{60});
      if (++self->state.n % credit_batch == 0)
        self->send(source, credit_atom::value, credit_batch);
    },
  };
}

caf::behavior replay_impl(caf::stateful_actor<counter_state>* self,
                          shared_ptr sh, caf::actor tape) {
  auto me = caf::actor_cast<caf::actor>(self);
  for (uint64_t i = 0; i < credit_window; ++i)
    self->send(tape, record_atom::value, ++self->state.n, me);
  return {
    [=](credit_atom, uint64_t n) {
      if (sh->stopping.load())
        return;
      for (uint64_t i = 0; i < n; ++i)
        self->send(tape, record_atom::value, ++self->state.n, me);
    },
  };
}

// -- the service -------------------------------------------------------------------------

struct service {
  caf::actor_system& sys;
  shared_ptr sh;
  std::vector<caf::actor> feeds;
  caf::actor books_sup, sessions_sup, tape, replay;

  service(caf::actor_system& s, shared_ptr x) : sys(s), sh(std::move(x)) {
  }

  caf::error start() {
    auto& plan = sh->plan;
    sh->archiver = spawn_tracked<caf::detached>(sys, {"archiver", "archiver", 0},
                                                archiver_impl, sh);
    sh->journal = spawn_tracked(sys, {"journal", "journal", 0}, journal_impl,
                                sh);
    sh->risk = spawn_tracked(sys, {"risk-gate", "risk_gate", 0}, risk_impl, sh);
    sh->router = spawn_tracked(sys, {"router", "router", 0}, router_impl, sh);
    std::vector<sv::child_spec> books;
    for (uint32_t sym = 0; sym < symbol_count; ++sym) {
      auto id = book_name(sym);
      books.push_back(sv::worker(
        id, [sh = sh, sym, id](caf::actor_system& sys,
                               const caf::message&) -> sv::start_result {
          return spawn_tracked(sys, {id, "order_book", 0}, book_impl, sh, sym);
        }));
    }
    sv::supervisor_flags bflags;
    bflags.name = "books_sup";
    bflags.strategy = sv::strategy::one_for_one;
    bflags.intensity = plan.books_intensity;
    bflags.period = plan.books_period;
    auto bs = sv::spawn_supervisor(sys, bflags, std::move(books));
    if (!bs)
      return std::move(bs.error());
    books_sup = *bs;
    std::vector<sv::child_spec> sessions;
    for (uint32_t i = 1; i <= session_count; ++i) {
      auto id = session_name(i);
      sessions.push_back(sv::worker(
        id,
        [sh = sh, i, id](caf::actor_system& sys,
                         const caf::message&) -> sv::start_result {
          return spawn_tracked(sys, {id, "client_session", 0}, session_impl,
                               sh, i);
        },
        sv::restart_type::transient));
    }
    sv::supervisor_flags sflags;
    sflags.name = "sessions_sup";
    sflags.strategy = sv::strategy::one_for_one;
    sflags.intensity = 10;
    sflags.period = 10s;
    auto ss = sv::spawn_supervisor(sys, sflags, std::move(sessions));
    if (!ss)
      return std::move(ss.error());
    sessions_sup = *ss;
    if (plan.busy_archive) {
      tape = spawn_tracked(sys, {"tape-archiver", "tape_archiver", 0},
                           tape_impl, sh);
      replay = spawn_tracked(sys, {"replay-feed", "replay_feed", 0},
                             replay_impl, sh, tape);
    }
    for (uint32_t venue = 0; venue < 2; ++venue)
      feeds.push_back(spawn_tracked(
        sys,
        {std::string{"feed-"} + (venue == 0 ? "nyse" : "lse"), "feed_handler",
         0},
        feed_impl, sh, venue));
    sh->log("info", "market",
            "market data service up: 2 feeds, 8 books, " +
              std::to_string(session_count) + " sessions");
    return {};
  }

  /// Plants the fault (or the control's planned operation).
  void inject() {
    auto& plan = sh->plan;
    sh->armed_ns.store(now_ns(), std::memory_order_release);
    sh->armed.store(true, std::memory_order_release);
    if (plan.scale_down) {
      sh->maintenance = false;
      std::lock_guard<std::mutex> guard{sh->mtx};
      for (size_t i = 5; i <= session_count; ++i)
        if (sh->sessions[i])
          caf::anon_send(sh->sessions[i], drain_atom::value);
    }
    if (plan.reload_books) {
      // Maintenance: reload two books through their supervisor.
      caf::scoped_actor self{sys};
      for (uint32_t sym : {5u, 4u}) {
        auto id = book_name(sym);
        sh->log("info", "market", "reloading " + id + " (maintenance)");
        self->request(books_sup, 2s, sv::terminate_child{id, caf::actor{}})
          .receive([](caf::ok_atom) {},
                   [&](caf::error& err) {
                     sh->log("warning", "market",
                             "terminate " + id + ": " + caf::to_string(err));
                   });
        self->request(books_sup, 2s, sv::restart_child{id})
          .receive([](caf::actor&) {},
                   [&](caf::error& err) {
                     sh->log("warning", "market",
                             "restart " + id + ": " + caf::to_string(err));
                   });
      }
    }
    if (plan.graceful_shutdown) {
      // A planned maintenance window: client-delivery alerts are muted.
      sh->maintenance = true;
      caf::anon_send_exit(sessions_sup, caf::exit_reason::user_shutdown);
    }
  }
};

// -- alert rules -------------------------------------------------------------------------------

struct alert {
  std::string name;
  std::string reason;
  std::string trigger = "threshold";
  json context = json::object();
};

/// The service's own alert rules, checked every 100 ms by the main thread.
class watcher {
public:
  watcher(shared_ptr sh, std::shared_ptr<tel::metric_registry> metrics,
          std::shared_ptr<caflens::skills::log_buffer> logs, bool use_lens)
    : sh_(std::move(sh)),
      metrics_(std::move(metrics)),
      logs_(std::move(logs)),
      use_lens_(use_lens) {
    rss_base_ = rss_bytes();
  }

  void mark_injection() {
    rss_base_ = rss_bytes();
    inject_ns_ = now_ns();
  }

  std::optional<alert> check() {
    auto now = now_ns();
    uint64_t routed = 0;
    std::array<uint64_t, symbol_count> per_sym{};
    for (size_t i = 0; i < symbol_count; ++i) {
      per_sym[i] = sh_->routed[i].load(std::memory_order_relaxed);
      routed += per_sym[i];
    }
    history_.push_back({now, routed, per_sym});
    while (history_.size() > 1 && now - history_.front().at > 1'000'000'000)
      history_.pop_front();
    auto& old = history_.front();
    auto routed_last_s = routed - old.routed;
    // 1. Order books restarting.
    {
      std::lock_guard<std::mutex> guard{sh_->mtx};
      while (!sh_->restarts.empty() &&
             now - sh_->restarts.front() > 10'000'000'000)
        sh_->restarts.pop_front();
      if (sh_->restarts.size() >= 4)
        return make("book_restarts",
                    "books_sup has restarted order books " +
                      std::to_string(sh_->restarts.size()) +
                      " times in the last 10 s (limit 3)",
                    {{"restarts", sh_->restarts.size()}, {"window_s", 10}});
      auto& sr = sh_->session_restarts;
      while (!sr.empty() && now - sr.front() > 10'000'000'000)
        sr.pop_front();
      if (sr.size() >= 4)
        return make("session_restarts",
                    "session pool degraded: client sessions restarted " +
                      std::to_string(sr.size()) +
                      " times in the last 10 s (limit 3)",
                    {{"restarts", sr.size()}, {"window_s", 10}});
    }
    // 2. Error lines (read from the log buffer shared with the lens).
    if (use_lens_) {
      auto errors = logs_->count_since("error", logs_->now_ns() - 1'000'000'000);
      if (errors >= 10)
        return make("error_rate",
                    "error log rate " + std::to_string(errors) +
                      " lines/s over the last second (limit 10/s)",
                    {{"errors_last_second", errors}, {"limit", 10}});
    }
    // 3. Journal durability (not every deployment has this rule).
    if (sh_->plan.journal_backlog_alert) {
      auto sent = sh_->persist_sent.load();
      auto done = sh_->persist_acked.load() + sh_->persist_failed.load();
      auto waiting = sent > done ? sent - done : 0;
      auto last = sh_->last_ack_ns.load();
      if (waiting >= 200)
        return make("journal_backlog",
                    "journal fsync backlog: " + std::to_string(waiting) +
                      " persisted batches still wait for a durable ack "
                      "(limit 200)",
                    {{"batches_waiting", waiting}, {"limit", 200}});
      if (waiting > 0 && last > 0 && now - last >= 1'000'000'000)
        return make("journal_backlog",
                    "journal fsync backlog: no durable ack for " +
                      fixed((now - last) / 1e9) + " s, " +
                      std::to_string(waiting) + " batches waiting",
                    {{"batches_waiting", waiting},
                     {"since_last_ack_ms", (now - last) / 1'000'000}});
    }
    // 4. Ticks held back because their book is down: the quote fan-out's
    //    tail latency (undelivered ticks count as infinitely late).
    {
      auto held = sh_->stranded.load();
      auto oldest = sh_->oldest_stranded_ns.load();
      if (held > 0 && oldest > 0 && now - oldest >= 250'000'000 &&
          routed_last_s > 0 && held * 20 >= routed_last_s) {
        auto share = std::min(100.0, 100.0 * held / routed_last_s);
        return make("fanout_p95",
                    "p95 of quote fan-out above 250 ms: " + fixed(share, 0) +
                      "% of the last second's ticks are not delivered yet "
                      "(oldest " +
                      fixed((now - oldest) / 1e9, 2) + " s)",
                    {{"undelivered_ticks", held},
                     {"ticks_last_second", routed_last_s},
                     {"oldest_ms", (now - oldest) / 1'000'000},
                     {"objective_ms", 250}});
      }
    }
    if (!sh_->maintenance.load() && sh_->plan.delivery_alerts) {
      // 5. A symbol whose quotes stopped reaching clients.
      for (size_t i = 0; i < symbol_count; ++i) {
        auto last = sh_->last_delivery_ns[i].load();
        if (last == 0 || per_sym[i] == old.per_sym[i])
          continue;
        if (now - last >= 1'000'000'000)
          return make("quote_stall",
                      "quote stream for " + std::string{symbol_name(i)} +
                        " stalled: no quote reached a client for " +
                        fixed((now - last) / 1e9) +
                        " s while ticks keep arriving",
                      {{"symbol", std::string{symbol_name(i)}},
                       {"stalled_ms", (now - last) / 1'000'000}});
      }
      // 6. Tick-to-client delay (the largest since the last look).
      for (size_t i = 0; i < symbol_count; ++i) {
        auto last = sh_->last_delivery_ns[i].load();
        auto age = sh_->max_age_ns[i].exchange(0);
        if (last > 0 && now - last < 500'000'000 && age >= 250'000'000)
          return make("client_delay",
                      "ticks to clients delayed: " +
                        std::string{symbol_name(i)} +
                        " quotes reach subscribers " +
                        fixed(age / 1e6, 0) +
                        " ms after the exchange timestamp (objective 250 ms)",
                      {{"symbol", std::string{symbol_name(i)}},
                       {"age_ms", age / 1'000'000},
                       {"objective_ms", 250}});
      }
    }
    // 7. Risk checks.
    {
      auto last = sh_->last_risk_ns.load();
      if (last > 0 && now - last >= 1'500'000'000)
        return make("risk_stall",
                    "pre-trade risk checks stalled: none completed for " +
                      fixed((now - last) / 1e9) + " s",
                    {{"stalled_ms", (now - last) / 1'000'000}});
    }
    if (use_lens_) {
      auto p95 = stage_p95("risk-gate");
      if (p95 > 16) {
        if (risk_over_since_ == 0)
          risk_over_since_ = now;
        if (now - risk_over_since_ >= 500'000'000)
          return make("risk_p95",
                      "p95 of pre-trade risk pricing " + fixed(p95) +
                        " ms over the last second, above its 16 ms "
                        "objective for " +
                        fixed((now - risk_over_since_) / 1e9) + " s",
                      {{"p95_ms", p95}, {"objective_ms", 16}});
      } else {
        risk_over_since_ = 0;
      }
    }
    // 8. Memory budgets.
    {
      uint64_t books = 0, sessions = 0;
      for (auto& b : sh_->book_bytes)
        books += b.load();
      for (auto& s : sh_->session_bytes)
        sessions += s.load();
      if (books >= 1'500'000)
        return make("book_memory",
                    "order-book memory " + fixed(books / 1e6, 2) +
                      " MB, above its budget of 1.5 MB",
                    {{"bytes", books}, {"budget", 1'500'000}});
      if (sessions >= 2'000'000)
        return make("session_memory",
                    "session gateway buffers hold " +
                      fixed(sessions / 1e6, 2) +
                      " MB, above their budget of 2 MB",
                    {{"bytes", sessions}, {"budget", 2'000'000}});
      auto rss = rss_bytes();
      if (inject_ns_ > 0 && rss - rss_base_ >= 10'000'000)
        return make("rss",
                    "resident memory up " + fixed((rss - rss_base_) / 1e6) +
                      " MB in " + fixed((now - inject_ns_) / 1e9) +
                      " s (limit 10 MB)",
                    {{"rss_bytes", rss}, {"baseline_bytes", rss_base_}});
    }
    return std::nullopt;
  }

private:
  struct sample {
    int64_t at;
    uint64_t routed;
    std::array<uint64_t, symbol_count> per_sym;
  };

  alert make(std::string name, std::string reason, json context) {
    context["alert"] = name;
    return {std::move(name), std::move(reason), "threshold",
            std::move(context)};
  }

  double stage_p95(std::string_view component) const {
    auto mv = metrics_->collect(stage_metric, 1s);
    if (!mv)
      return -1;
    for (auto& s : mv->series)
      for (auto& [k, v] : s.tags)
        if (k == "component" && v == component && s.distribution &&
            s.distribution->count() >= 20)
          return s.distribution->quantile(0.95);
    return -1;
  }

  shared_ptr sh_;
  std::shared_ptr<tel::metric_registry> metrics_;
  std::shared_ptr<caflens::skills::log_buffer> logs_;
  bool use_lens_;
  std::deque<sample> history_;
  int64_t rss_base_ = 0;
  int64_t inject_ns_ = 0;
  int64_t risk_over_since_ = 0;
};

// -- progress ----------------------------------------------------------------------------------

class progress {
public:
  explicit progress(bool quiet)
    : quiet_(quiet), start_(std::chrono::steady_clock::now()) {
  }

  void operator()(const std::string& line) {
    if (quiet_)
      return;
    auto s = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                           - start_)
               .count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%6.2fs] ", s);
    std::lock_guard<std::mutex> guard{mtx_};
    std::cerr << stamp << line << '\n' << std::flush;
  }

private:
  bool quiet_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mtx_;
};

caf::error add_metrics(tel::metric_registry& reg) {
  auto stage = tel::metric_definition::distribution(
    std::string{stage_metric}, {"mkt", "stage", "stop"}, "duration_ms",
    {"component"});
  stage.unit = "ms";
  stage.description = "Time one stage of the service takes (pricing, fsync).";
  stage.window.slot_width = 100ms;
  stage.window.slots = 600;
  if (auto err = reg.add(std::move(stage)))
    return err;
  auto age = tel::metric_definition::distribution(
    std::string{quote_age_metric}, {"mkt", "quote", "delivered"}, "age_ms",
    {"venue"});
  age.unit = "ms";
  age.description = "Exchange timestamp to client session, per venue.";
  age.window.slot_width = 100ms;
  age.window.slots = 600;
  return reg.add(std::move(age));
}

} // namespace

int run_scenario(const scenario& sc, const run_options& opts) {
  progress say{opts.quiet};
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  // Blocking faults hold scheduler threads; keep a few more than the cores.
  cfg.set("scheduler.max-threads", 4);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  caflens::skills::track_supervised_children();
  auto sh = std::make_shared<shared>();
  sh->plan = sc;
  sh->logs = std::make_shared<caflens::skills::log_buffer>();
  sh->metrics_on = !sc.cold_lens;
  sh->stage_ev = tel::bus::global().intern({"mkt", "stage", "stop"});
  sh->age_ev = tel::bus::global().intern({"mkt", "quote", "delivered"});
  auto metrics = std::make_shared<tel::metric_registry>();
  if (!sc.cold_lens)
    if (auto err = add_metrics(*metrics)) {
      std::cerr << "caflens-market: metrics: " << caf::to_string(err) << '\n';
      return 1;
    }
  service svc{sys, sh};
  if (auto err = svc.start()) {
    std::cerr << "caflens-market: the service did not start: "
              << caf::to_string(err) << '\n';
    return 1;
  }
  say("market data service up: feed-nyse, feed-lse -> router -> books_sup (8 "
      "books) -> sessions_sup (6 sessions); journal, risk-gate, archiver" +
      std::string{opts.runs_hint > 1 ? " (" + std::to_string(opts.runs_hint) +
                                         " runs in parallel)"
                                     : ""});
  caflens::config lcfg;
  lcfg.logs = sh->logs;
  lcfg.metrics = metrics;
  // The service runs for seconds: judge latency over the last second
  // against the last minute (defaults: 1 and 15 minutes).
  lcfg.thresholds.latency_recent_ms = 1000;
  lcfg.thresholds.latency_baseline_ms = 60'000;
  lcfg.supervisors = {svc.books_sup, svc.sessions_sup};
  // Cold: the smallest integration there is, a lens with its defaults,
  // nothing fed to it, asked once when something is wrong.
  auto lens = sc.cold_lens ? caflens::start(sys) : caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << "caflens-market: caflens::start failed: "
              << caf::to_string(lens.error()) << '\n';
    std::fflush(nullptr);
    std::_Exit(1);
  }
  watcher rules{sh, metrics, sh->logs, !sc.cold_lens};
  say("warming up for " + std::to_string(sc.warmup.count()) + " ms");
  auto until = std::chrono::steady_clock::now() + sc.warmup;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
    if (auto a = rules.check())
      say("(alert during warm-up ignored: " + a->reason + ")");
  }
  say(std::string{sc.control ? "control " : "injecting "} + sc.name + ": " +
      sc.description);
  rules.mark_injection();
  svc.inject();
  auto t0 = std::chrono::steady_clock::now();
  alert fired;
  for (;;) {
    std::this_thread::sleep_for(100ms);
    auto elapsed = std::chrono::steady_clock::now() - t0;
    auto a = rules.check();
    if (a && !sc.control) {
      fired = std::move(*a);
      break;
    }
    if (a)
      say("(alert in a control run: " + a->reason + ")");
    if (sc.control && elapsed >= sc.check_after) {
      fired = {"scheduled", "scheduled health check of the market data service",
               "schedule"};
      break;
    }
    if (!sc.control && elapsed >= sc.alert_timeout) {
      fired = {"timeout",
               "scheduled health check of the market data service (no alert "
               "within " +
                 fixed(sc.alert_timeout.count() / 1e3) + " s)",
               "schedule"};
      break;
    }
  }
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - t0);
  say((fired.trigger == "schedule" ? "scheduled check" : "ALERT") +
      std::string{" after "} + std::to_string(after.count()) +
      " ms: " + fired.reason);
  {
    // The service's own counters at the alert, for whoever reads the log.
    uint64_t routed = 0, applied = 0, starts = 0;
    for (size_t i = 0; i < symbol_count; ++i) {
      routed += sh->routed[i].load();
      applied += sh->applied[i].load();
      starts += sh->book_starts[i].load();
    }
    say("counters: ticks emitted " + std::to_string(sh->emitted.load()) +
        ", routed " + std::to_string(routed) + ", applied " +
        std::to_string(applied) + "; persist requests sent " +
        std::to_string(sh->persist_sent.load()) + ", acked " +
        std::to_string(sh->persist_acked.load()) + ", failed " +
        std::to_string(sh->persist_failed.load()) + "; risk checks " +
        std::to_string(sh->risk_done.load()) + "; book starts " +
        std::to_string(starts));
  }
  caflens::investigate_options iopts;
  iopts.trigger = fired.trigger;
  fired.context["after_fault_ms"] = after.count();
  iopts.context = fired.context.dump();
  auto i0 = std::chrono::steady_clock::now();
  auto res = lens->investigate(fired.reason, iopts);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - i0);
  int rc = 0;
  if (!res) {
    std::cerr << "caflens-market: the investigation failed: "
              << caf::to_string(res.error()) << '\n';
    rc = 1;
  } else {
    std::string top = "nothing";
    if (auto* t = res->top(caflens::severity::warning)) {
      top = t->pattern + " [";
      for (size_t i = 0; i < t->culprits.size(); ++i)
        top += (i ? "," : "") + t->culprits[i];
      top += "]";
    }
    say("investigation done in " + std::to_string(took.count()) + " ms: " +
        std::to_string(res->insights.size()) + " insights, top " + top);
    if (opts.json)
      std::cout << caflens::to_json(*res).dump(2) << '\n';
    else
      std::cout << caflens::render_report(*res);
  }
  std::cout << std::flush;
  std::fflush(nullptr);
  // Blocked and awaiting actors would hold the actor system's shutdown for
  // seconds (an awaiting actor cannot even be killed): the report is out,
  // leave at once.
  std::_Exit(rc);
}

} // namespace market
