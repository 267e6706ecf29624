#pragma once

#include <chrono>
#include <string>
#include <type_traits>
#include <functional>
#include <iterator>
#include <utility>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "caf/actor_config.hpp"
#include "caf/atom.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/actor_system.hpp"
#include "caf/detail/init_fun_factory.hpp"
#include "caf/infer_handle.hpp"
#include "caf/invoke_message_result.hpp"
#include "caf/local_actor.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/node_id.hpp"

#include "caflens/skills/actor_stats.hpp"
#include "caflens/skills/detail/trace_hook.hpp"
#include "caflens/skills/process_table.hpp"

namespace caflens::skills {

/// Asks a tracked actor for its state (see `get_state`).
using get_state_atom = caf::atom_constant<caf::atom("get_state")>;

/// The non-template side of every tracked actor.
class tracked_base {
public:
  virtual ~tracked_base();

  /// Lets `get_state` see a JSON view of the actor's state. Call from the
  /// actor itself (e.g. in its behavior factory); `fn` runs in the actor.
  virtual void expose_state(std::function<nlohmann::json()> fn) = 0;

  /// Reports the approximate size of the actor's state (memory skill).
  virtual void report_state_bytes(uint64_t n) noexcept = 0;

  /// The actor's counters.
  virtual actor_stats* tracking_stats() noexcept = 0;
};

/// `self->...` helpers for function-based actors: no-ops for untracked ones.
inline void expose_state(caf::local_actor* self,
                         std::function<nlohmann::json()> fn) {
  if (auto* t = dynamic_cast<tracked_base*>(self))
    t->expose_state(std::move(fn));
}

inline void report_state_bytes(caf::local_actor* self, uint64_t n) noexcept {
  if (auto* t = dynamic_cast<tracked_base*>(self))
    t->report_state_bytes(n);
}

namespace detail {

/// Replies to a get_state request on behalf of `self`.
void answer_get_state(caf::local_actor* self, caf::mailbox_element& x,
                      const std::function<nlohmann::json()>& fn);

/// Sampling rate of handler times: one run in `handler_sample_rate`.
inline constexpr uint64_t handler_sample_rate = 64;

} // namespace detail

/// Makes any CAF scheduled actor class (event-based, typed, stateful,
/// class-based) a tracked actor: it registers in the process table on
/// construction, counts its messages and handler time, and leaves the table
/// with its exit reason.
///
/// `tracked<Base>` is constructed like `Base` with a `tracking_info` after
/// the actor config: `tracked<my_actor>(cfg, info, my_args...)`. Prefer
/// `spawn_tracked`.
template <class Base>
class tracked : public Base, public tracked_base {
public:
  template <class... Ts>
  tracked(caf::actor_config& cfg, tracking_info info, Ts&&... xs)
    : Base(cfg, std::forward<Ts>(xs)...) {
    if (info.kind.empty())
      info.kind = "actor";
    stats_ = process_table::global().add(this->id(), this->address(),
                                         std::move(info),
                                         to_string(this->node()));
    stats_->detached.store(
      this->getf(caf::abstract_actor::is_detached_flag),
      std::memory_order_relaxed);
  }

  ~tracked() override {
    process_table::global().remove(this->id(), caf::error{});
  }

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override {
    // One mask test: plain sends (urgent or normal, no request bits) pass.
    constexpr auto plain = ~(caf::message_id::normal_message_category
                             << caf::message_id::category_offset);
    if (ptr != nullptr && (ptr->mid.integer_value() & plain) != 0)
      [[unlikely]] {
      // Stream batches and acknowledgements (CAF's upstream and downstream
      // queues) are handled by the stream managers, never by `consume`:
      // counting them would leave the mailbox depth growing forever.
      auto cat = ptr->mid.category();
      if (cat == caf::message_id::upstream_message_category
          || cat == caf::message_id::downstream_message_category) {
        Base::enqueue(std::move(ptr), eu);
        return;
      }
      // Requests and responses feed the accounting of requests held
      // unanswered.
      if (ptr->mid.is_response())
        detail::count_response(ptr->sender.get(), this->id());
      else if (ptr->mid.is_request())
        detail::note_request(ptr->sender.get());
    }
    detail::count_enqueue(stats_.get());
    Base::enqueue(std::move(ptr), eu);
  }

  actor_stats* tracking_stats() noexcept override {
    return stats_.get();
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    auto& s = *stats_;
    auto seq = s.consume_seq.load(std::memory_order_relaxed) + 1;
    // One test for everything rare, handled out of line: requests (one may
    // be get_state), the handler run timed 1 in 64, an attached trace. An
    // untraced actor pays one relaxed load for the tracer, on the cache line
    // this path writes anyway.
    if (x.mid.is_request() || (seq & sampled_runs_mask) == 0
        || s.trace.load(std::memory_order_relaxed) != nullptr) [[unlikely]]
      return consume_rare(x, seq);
    s.consume_seq.store(seq, std::memory_order_relaxed); // odd: in handler
    auto rid = this->last_request_id_;
    auto result = Base::consume(x);
    if (result == caf::invoke_message_result::skipped)
      s.skipped.store(s.skipped.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
    publish_pending_responses(s, rid);
    s.consume_seq.store(seq + 1, std::memory_order_release); // even: idle
    return result;
  }

  /// The counters of this actor.
  actor_stats& stats() noexcept {
    return *stats_;
  }

  void report_state_bytes(uint64_t n) noexcept override {
    stats_->state_bytes.store(n, std::memory_order_relaxed);
  }

  void expose_state(std::function<nlohmann::json()> fn) override {
    stats_->exposes_state.store(static_cast<bool>(fn),
                                std::memory_order_relaxed);
    state_fn_ = std::move(fn);
  }

protected:
  void on_cleanup(const caf::error& reason) override {
    process_table::global().remove(this->id(), reason);
    Base::on_cleanup(reason);
  }

private:
  // (seq / 2) % handler_sample_rate == 0, for seq = 2 * runs + 1.
  static constexpr uint64_t sampled_runs_mask
    = (detail::handler_sample_rate - 1) << 1;

  // The rare cases of `consume`, out of line so the common path stays
  // small.
  [[gnu::noinline]] caf::invoke_message_result
  consume_rare(caf::mailbox_element& x, uint64_t seq) {
    auto& s = *stats_;
    // get_state travels through the mailbox like any message, so a busy or
    // stuck actor answers late or never: that is the evidence. It is always
    // a request, so other messages skip the type check.
    if (x.mid.is_request() && x.content().match_elements<get_state_atom>()) {
      // Counted before the reply, so the asker sees it processed.
      s.consume_seq.store(seq + 1, std::memory_order_release);
      detail::answer_get_state(this, x, state_fn_);
      return caf::invoke_message_result::consumed;
    }
    s.consume_seq.store(seq, std::memory_order_relaxed); // odd: in handler
    // A request from a tracked actor: see whether the handler answers it,
    // forwards it, or keeps a promise.
    detail::request_context ctx{&s, x.sender.get(), false, false};
    detail::request_context* outer = detail::tl_request;
    auto rid = this->last_request_id_;
    bool accounted = x.mid.is_request() && detail::is_tracked(ctx.sender);
    if (accounted)
      detail::tl_request = &ctx;
    caf::invoke_message_result result;
    try {
      if (s.trace.load(std::memory_order_relaxed) == nullptr)
        result = run_handler(x, seq);
      else
        result = run_traced_handler(x, seq);
    } catch (...) {
      detail::tl_request = outer;
      throw;
    }
    detail::tl_request = outer;
    if (accounted && result == caf::invoke_message_result::consumed
        && !ctx.answered && !ctx.delegated) {
      s.promised.store(s.promised.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
      s.note_promise(
        static_cast<const caf::actor_control_block*>(ctx.sender)->id(), true);
    }
    if (result == caf::invoke_message_result::skipped)
      s.skipped.store(s.skipped.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
    publish_pending_responses(s, rid);
    s.consume_seq.store(seq + 1, std::memory_order_release); // even: idle
    return result;
  }

  // Publishes how many responses the actor awaits: the size of CAF's
  // response tables (protected members of scheduled_actor), written only
  // when it changed — two loads and a compare on the common path.
  // The common case — the handler sent no request (CAF's last request id
  // is unchanged) and none was awaited after the last run — costs one
  // compare and one flag.
  void publish_pending_responses(actor_stats& s,
                                 caf::message_id rid_before) noexcept {
    if (rid_before != this->last_request_id_ || had_pending_) [[unlikely]]
      publish_pending_slow(s);
  }

  [[gnu::noinline]] void publish_pending_slow(actor_stats& s) noexcept {
    uint64_t n = this->multiplexed_responses_.size();
    bool awaiting = !this->awaited_responses_.empty();
    had_pending_ = n > 0 || awaiting;
    if (awaiting)
      n += static_cast<uint64_t>(
        std::distance(this->awaited_responses_.begin(),
                      this->awaited_responses_.end()));
    if (n != s.pending_responses.load(std::memory_order_relaxed))
      s.pending_responses.store(n, std::memory_order_relaxed);
    // The clock is read only when an await starts.
    if (awaiting != (s.awaiting_since_ns.load(std::memory_order_relaxed) != 0))
      s.awaiting_since_ns.store(awaiting ? detail::steady_now_ns() : 0,
                                std::memory_order_relaxed);
  }

  // Runs the handler; times the run 1 in `handler_sample_rate` runs and
  // then also flushes this thread's batched enqueue counts.
  caf::invoke_message_result run_handler(caf::mailbox_element& x,
                                         uint64_t seq) {
    if ((seq & sampled_runs_mask) != 0)
      return Base::consume(x);
    auto& s = *stats_;
    detail::flush_enqueue_counts();
    auto t0 = detail::steady_now_ns();
    s.last_sampled_ns.store(t0, std::memory_order_relaxed);
    auto result = Base::consume(x);
    auto dt = static_cast<uint64_t>(detail::steady_now_ns() - t0);
    s.handler_ns_sum.store(s.handler_ns_sum.load(std::memory_order_relaxed)
                             + dt,
                           std::memory_order_relaxed);
    s.handler_samples.store(s.handler_samples.load(std::memory_order_relaxed)
                              + 1,
                            std::memory_order_relaxed);
    if (dt > s.handler_ns_max.load(std::memory_order_relaxed))
      s.handler_ns_max.store(dt, std::memory_order_relaxed);
    return result;
  }

  // The path of a traced actor (see `tracer`). Tickets never throw; the
  // handler may.
  [[gnu::noinline, gnu::cold]] caf::invoke_message_result
  run_traced_handler(caf::mailbox_element& x, uint64_t seq) {
    auto ticket = detail::begin_trace(*stats_, x);
    if (!ticket.session)
      return run_handler(x, seq);
    caf::invoke_message_result result;
    try {
      result = run_handler(x, seq);
    } catch (...) {
      detail::end_trace(ticket, caf::invoke_message_result::dropped, true);
      throw;
    }
    detail::end_trace(ticket, result, false);
    return result;
  }

  caf::intrusive_ptr<actor_stats> stats_;
  std::function<nlohmann::json()> state_fn_;
  /// Responses were awaited at the end of the last handler run.
  bool had_pending_ = false;
};

/// Spawns a tracked function-based actor: like `sys.spawn(fun, xs...)`,
/// with a name and kind for the process table.
template <caf::spawn_options Os = caf::no_spawn_options, class F, class... Ts>
caf::infer_handle_from_fun_t<F> spawn_tracked(caf::actor_system& sys,
                                              tracking_info info, F fun,
                                              Ts&&... xs) {
  using impl = caf::infer_impl_from_fun_t<F>;
  caf::actor_config cfg;
  if constexpr (sizeof...(Ts) == 0 && std::is_invocable_v<F&, impl*>) {
    // Without arguments CAF 0.17's factory dereferences a null tuple (UB
    // that UBSan reports); call the function directly instead.
    auto init = [f = std::move(fun)](caf::local_actor* self) mutable
      -> caf::behavior {
      using result = std::invoke_result_t<F&, impl*>;
      if constexpr (std::is_void_v<result>) {
        f(static_cast<impl*>(self));
        return {};
      } else if constexpr (std::is_same_v<result, caf::behavior>) {
        return f(static_cast<impl*>(self));
      } else {
        auto bhvr = f(static_cast<impl*>(self));
        return std::move(bhvr.unbox());
      }
    };
    cfg.init_fun = caf::actor_config::init_fun_type{std::move(init)};
  } else {
    caf::detail::init_fun_factory<impl, F> fac;
    cfg.init_fun = fac(std::move(fun), std::forward<Ts>(xs)...);
  }
  return sys.spawn_class<tracked<impl>, Os>(cfg, std::move(info));
}

/// Spawns a tracked class-based actor `C` (constructed from `xs...`).
template <class C, caf::spawn_options Os = caf::no_spawn_options,
          class... Ts>
caf::infer_handle_from_class_t<C> spawn_tracked(caf::actor_system& sys,
                                                tracking_info info,
                                                Ts&&... xs) {
  caf::actor_config cfg;
  return sys.spawn_class<tracked<C>, Os>(cfg, std::move(info),
                                         std::forward<Ts>(xs)...);
}

/// Asks a tracked actor for its state through its mailbox and waits at most
/// `timeout` (default 5 s, like `sys:get_state`). Errors: `unresponsive`
/// when no answer came in time (itself evidence of a stuck or overloaded
/// actor), `no_state` when the actor exposes none, `not_found` for a dead
/// actor.
caf::expected<nlohmann::json>
get_state(caf::actor_system& sys, const caf::actor& whom,
          std::chrono::milliseconds timeout = std::chrono::seconds{5});

} // namespace caflens::skills
