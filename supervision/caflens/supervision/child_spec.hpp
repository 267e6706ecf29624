#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caf/actor.hpp"
#include "caf/actor_cast.hpp"
#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"
#include "caf/message.hpp"
#include "caf/meta/type_name.hpp"

#include "caflens/supervision/fwd.hpp"

namespace caflens::supervision {

// -- enumerations -------------------------------------------------------------

/// How a supervisor reacts when a child terminates and is to be restarted.
enum class strategy : uint8_t {
  /// Restart only the terminated child.
  one_for_one,
  /// Stop all other children (right to left), then restart all (left to
  /// right).
  one_for_all,
  /// Stop the children started after the terminated one, then restart it and
  /// them.
  rest_for_one,
  /// Like one_for_one, for dynamic children started from one template.
  simple_one_for_one,
};

/// When a terminated child is restarted.
enum class restart_type : uint8_t {
  /// Always.
  permanent,
  /// Only after an abnormal exit (see `is_normal_exit`).
  transient,
  /// Never, not even when a sibling's failure took it down.
  temporary,
};

/// Whether the child is a worker or another supervisor. A supervisor child is
/// started synchronously: its parent waits until the child's own children are
/// up (OTP's `start_link` semantics).
enum class child_type : uint8_t { worker, supervisor };

/// When significant children's exits shut the supervisor down (OTP 24+).
enum class auto_shutdown : uint8_t { never, any_significant, all_significant };

std::string to_string(strategy x);
std::string to_string(restart_type x);
std::string to_string(child_type x);
std::string to_string(auto_shutdown x);

/// How a supervisor stops a child: kill at once, or send an exit with reason
/// `caf::exit_reason::user_shutdown` and kill after a timeout (or never).
struct shutdown_policy {
  enum class kind_t : uint8_t { brutal_kill, timeout, infinity };

  kind_t kind = kind_t::timeout;
  /// Milliseconds to wait before killing; used only for `timeout`.
  uint32_t timeout_ms = 5000;

  static shutdown_policy brutal_kill() { return {kind_t::brutal_kill, 0}; }

  static shutdown_policy timeout(std::chrono::milliseconds x) {
    return {kind_t::timeout, static_cast<uint32_t>(x.count())};
  }

  static shutdown_policy timeout(uint32_t ms) { return {kind_t::timeout, ms}; }

  static shutdown_policy infinity() { return {kind_t::infinity, 0}; }

  friend bool operator==(const shutdown_policy& x, const shutdown_policy& y) {
    return x.kind == y.kind &&
           (x.kind != kind_t::timeout || x.timeout_ms == y.timeout_ms);
  }
};

/// "brutal_kill", "infinity" or the timeout in milliseconds ("5000").
std::string to_string(const shutdown_policy& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_policy& x) {
  return f(caf::meta::type_name("caflens::supervision::shutdown_policy"),
           x.kind, x.timeout_ms);
}

// -- start functions ----------------------------------------------------------

/// Tag for a start function that declines to start a child (OTP `ignore`).
struct ignore_t {};

/// Returned by a start function to decline starting a child.
inline constexpr ignore_t ignore{};

/// What a start function returns: the started actor, an error, or `ignore`.
/// Implicitly constructible from any actor handle, `caf::error`,
/// `caf::expected<Handle>` and `ignore`.
class start_result {
public:
  start_result() = default;

  start_result(ignore_t)
    : ignored_(true) {}

  start_result(caf::error err)
    : error_(std::move(err)) {}

  template <class E, class = std::enable_if_t<caf::has_make_error<E>::value>>
  start_result(E code)
    : error_(make_error(code)) {}

  start_result(caf::actor x)
    : actor_(std::move(x)) {}

  template <class Handle,
            class = decltype(caf::actor_cast<caf::actor>(
              std::declval<const Handle&>())),
            class = std::enable_if_t<!std::is_same_v<Handle, caf::actor>>>
  start_result(const Handle& x)
    : actor_(caf::actor_cast<caf::actor>(x)) {}

  template <class T>
  start_result(caf::expected<T> x) {
    if (x)
      *this = start_result{*x};
    else
      error_ = std::move(x.error());
  }

  bool ignored() const noexcept { return ignored_; }

  const caf::actor& actor() const noexcept { return actor_; }

  const caf::error& error() const noexcept { return error_; }

private:
  caf::actor actor_;
  caf::error error_;
  bool ignored_ = false;
};

/// Starts one child. Called in the supervisor's context with the spec's
/// arguments (for simple_one_for_one: the template's arguments followed by
/// the arguments given to `start_dynamic_child`). Must not block; the
/// supervisor links itself to the returned actor.
using start_function =
  std::function<start_result(caf::actor_system& sys, const caf::message& args)>;

// -- child spec ---------------------------------------------------------------

/// Describes one child, like OTP's child spec map. The start function stays
/// on the node that created the spec: it is not serialized, so a spec sent to
/// a remote supervisor arrives without one and is rejected there.
struct child_spec {
  /// Unique within one supervisor; for simple_one_for_one the template's id.
  std::string id;
  /// Starts the child.
  start_function start;
  /// Arguments passed to `start`.
  caf::message args;
  restart_type restart = restart_type::permanent;
  /// Defaults to OTP's worker default (5000 ms); `supervisor_child` sets
  /// `infinity`.
  shutdown_policy shutdown;
  child_type type = child_type::worker;
  /// Whether this child's exit can trigger the supervisor's auto_shutdown.
  bool significant = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  return f(caf::meta::type_name("caflens::supervision::child_spec"), x.id,
           x.args, x.restart, x.shutdown, x.type, x.significant);
}

/// Convenience: a worker spec with OTP's defaults (permanent, 5000 ms).
child_spec worker(std::string id, start_function start,
                  restart_type restart = restart_type::permanent);

// -- supervisor flags ---------------------------------------------------------

/// A supervisor's flags with OTP's defaults: one_for_one, at most 1 restart
/// in 5 s, auto_shutdown never.
/// How a supervisor counts restarts within its period.
enum class restart_window : uint8_t {
  /// OTP's arithmetic (the default): each restart is stamped with the whole
  /// second of the clock it happened in (floor), and a restart counts while
  /// its stamp is `>= now - period`; the period is whole seconds. So with a
  /// 1 s period, restarts at 0.1 s and 1.3 s count together, and one
  /// exactly `period` seconds old still counts.
  seconds,
  /// An exact sliding window in milliseconds (any period > 0 ms): a restart
  /// counts while it is at most `period` old. Not OTP's behaviour.
  milliseconds,
};

std::string_view to_string(restart_window x) noexcept;

struct supervisor_flags {
  /// Shown in reports, telemetry and the tree.
  std::string name = "supervisor";
  supervision::strategy strategy = strategy::one_for_one;
  /// More than `intensity` restarts within `period` stop the supervisor.
  uint32_t intensity = 1;
  /// The restart window: whole seconds with `restart_window::seconds` (the
  /// default, as OTP), any length with `restart_window::milliseconds`.
  std::chrono::milliseconds period = std::chrono::seconds{5};
  restart_window window = restart_window::seconds;
  supervision::auto_shutdown auto_shutdown = auto_shutdown::never;
  /// Runs the supervisor in a thread of its own (`caf::detached`), so that
  /// it restarts children even while every scheduler thread is busy.
  bool detached = false;
  /// Told about every child start and exit; defaults to
  /// `default_child_observer()` when null.
  std::shared_ptr<child_observer> observer;
};

/// Checks flags as OTP's `check_flags` does.
caf::error validate(const supervisor_flags& flags);

/// Checks one child spec as OTP's `check_childspec` does, given the
/// supervisor's auto_shutdown flag.
caf::error validate(const child_spec& spec, auto_shutdown mode);

/// Checks flags and all specs (unique ids; exactly one template for
/// simple_one_for_one).
caf::error validate(const supervisor_flags& flags,
                    const std::vector<child_spec>& specs);

} // namespace caflens::supervision
