// caflens: adaptive runtime intelligence for CAF applications.
//
// ~~~
// caf::actor_system_config cfg;
// caflens::add_message_types(cfg);
// caf::actor_system sys{cfg};
// auto lens = caflens::start(sys);            // dormant until asked
// auto res = lens->investigate("p99 of /upload over 2 s");
// if (res)
//   std::cout << caflens::render_report(*res);
// ~~~
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/actors_errc.hpp"
#include "caflens/actors/cluster.hpp"
#include "caflens/actors/config.hpp"
#include "caflens/actors/messages.hpp"
#include "caflens/actors/types.hpp"
#include "caflens/sandbox/execute_result.hpp"

namespace caflens {

namespace actors {
class engine;
} // namespace actors

/// A running lens: the root supervisor of caflens's own actors inside the
/// user's actor system. A cheap handle (copies share the lens). Thread-safe.
class lens {
public:
  lens() = default;

  /// Holds `root` (the lens root supervisor) alive: the lens runs as long as
  /// a handle exists, like any CAF actor, or until `stop`.
  lens(std::shared_ptr<actors::engine> eng, caf::actor root);

  /// Runs an investigation and waits for its result (queued behind a running
  /// one). `timeout` defaults to twice the deadline plus 5 s (room for one
  /// queued ahead); when the caller stops
  /// waiting, the investigation is cancelled. Errors: `invalid_request`,
  /// `queue_full`, `busy`, `brain_failed`, `cancelled`, `timeout`,
  /// `unavailable`.
  caf::expected<investigation_result>
  investigate(std::string reason, investigate_options options = {},
              std::optional<std::chrono::milliseconds> timeout = {}) const;

  /// Starts an investigation without waiting: `reply_to` receives an
  /// `investigation_result` or a `caf::error`. When `reply_to` dies before,
  /// the investigation is cancelled (if nobody else waits for it).
  void investigate_async(std::string reason, caf::actor reply_to,
                         investigate_options options = {}) const;

  /// Cancels the running investigation (empty trace id) or the one with this
  /// trace id (running or queued). True when one was cancelled.
  bool cancel(const std::string& trace_id = {}) const;

  /// Reports an alert; investigates unless automatic triggers are
  /// rate-limited. True when an investigation was started or queued.
  bool alert(std::string name, std::string details = {}) const;

  /// The coordinator's status as JSON: running trace id, queue, operators.
  std::string status() const;

  /// `text` with every secret the lens knows replaced (the built-in rules,
  /// `config.redaction`, the environment's CAFLENS_REDACT_*): what the
  /// lens applies to everything that leaves the process.
  std::string redact(std::string text) const;

  /// Every string of `doc` redacted; values under secret keys replaced.
  nlohmann::json redact(nlohmann::json doc) const;

  /// This node's name (`config.node_name`, or the one derived from the
  /// host); empty for a default-constructed lens.
  std::string node() const;

  /// Stops every actor of the lens (the user's actors are not touched).
  void stop() const;

  // -- crash reports ----------------------------------------------------------

  /// `who` receives, as CAF messages: an `operator_report` whenever one of
  /// the lens's operators crashes, is restarted or is given up (skill, node,
  /// trace id, reason, crashes so far); and the typed reports of the lens's
  /// root supervisor and of the application's supervisors in
  /// `config.supervisors` (`supervision::child_exited`, `child_restarted`,
  /// `intensity_exceeded`, ... see caflens/supervision/reports.hpp), so an
  /// application watches its own crash loops through the lens. `who` may
  /// live on another node (any handle CAF can send to). It stays subscribed
  /// until `unsubscribe` or its termination (nothing is kept of it then).
  void subscribe(const caf::actor& who) const;

  void unsubscribe(const caf::actor& who) const;

  /// Subscribes `who`, an actor of this node, to the lens of `node` (a
  /// connected one, or this node's name): the same reports as
  /// `subscribe`, of that node's lens and supervisors, across the link
  /// (they stop when the node is lost). Blocks up to the cluster's request
  /// timeout. Errors: `node_unreachable`, `handshake_refused`.
  caf::error subscribe(const std::string& node, const caf::actor& who) const;

  caf::error unsubscribe(const std::string& node,
                         const caf::actor& who) const;

  /// Subscribers to operator reports (for monitoring the lens itself).
  size_t subscriber_count() const;

  // -- remediation (caflens/actors/actions.hpp) -------------------------------

  /// Approves proposal `id` (approve mode) and runs it on this thread;
  /// `who` goes into the audit. The built-in actions block on requests to
  /// supervisors (seconds at most): call it from a thread of your own or a
  /// detached actor, not from an actor on the scheduler. Errors: `not_found`, `action_denied`
  /// (read-only, no longer allowed, already decided), `action_failed`.
  caf::expected<action_record> approve_action(const std::string& id,
                                              const std::string& who) const;

  /// Rejects proposal `id`.
  caf::expected<action_record> reject_action(const std::string& id,
                                             const std::string& who,
                                             const std::string& why) const;

  /// The audit trail: every proposal, approval, rejection, denial and run,
  /// oldest first (the last 1000).
  std::vector<action_record> actions() const;

  // -- distribution (caflens/actors/cluster.hpp) -------------------------------

  /// Past investigations from the store (`config.store`), newest first.
  /// Error `unavailable` without a store.
  caf::expected<std::vector<store::investigation_row>>
  history(const store::query& q = {}) const;

  /// Everything stored about one investigation: the result, its snapshots,
  /// its timeline of tool and model calls, the calls every loop ran
  /// (`decisions`: replayable with scripted brains) and, when the store
  /// keeps them, the exchanges with the model. Errors: `unavailable`, the
  /// store's `not_found`.
  caf::expected<store::investigation_detail>
  stored(const std::string& trace_id) const;

  /// Exports and flushes (fsync for files, a push for the Pushgateway)
  /// what every sink holds, within `timeout` each. Returns the first error,
  /// naming the sink.
  caf::error flush_telemetry(std::chrono::milliseconds timeout
                             = std::chrono::seconds{5}) const;

  /// The port of the Prometheus exporter (`config.telemetry.prometheus`,
  /// `[caflens] prometheus-listen`); 0 without one.
  uint16_t prometheus_port() const;

  /// The port this node's agent listens on (`config.cluster.listen`; port 0
  /// picks a free one); 0 when it does not listen.
  uint16_t node_port() const;

  /// The cluster view: each peer's name, address, state, version, skills,
  /// last heartbeat and, when not connected, why.
  std::vector<node_info> cluster() const;

  /// Connects to one more node agent ("host:port") in the background;
  /// `cluster()` shows how it goes. Investigations started from now on
  /// cover it once it is connected.
  void connect(const std::string& address) const;

  /// One look of `skill` on `node` (this node's name, or a connected one):
  /// the snapshot an operator would take there, with its node. Blocks up
  /// to `config.cluster.request_timeout`. Errors: `not_found` (no such
  /// skill), `node_unreachable` (not connected, no answer in time).
  caf::expected<snapshot> snapshot_of(const std::string& node,
                                      const std::string& skill) const;

  /// Runs a Lua program in the sandbox of `node` (this node's name or "",
  /// or a connected one) with the callbacks of every skill there as global
  /// functions (`actors_top`, `actor_state`, `logs_recent`, ...): its value,
  /// printed output and costs. The sandbox bounds instructions, memory and
  /// wall time; nothing the callbacks do changes the application. Value,
  /// output and error texts pass the lens's redactor. Blocks
  /// (locally on the calling thread). Errors: the sandbox's (syntax,
  /// runtime, limits), `node_unreachable`, `unavailable`.
  caf::expected<sandbox::execute_result>
  execute(const std::string& node, const std::string& code) const;

  /// A cluster-wide profile of one message: on this node and every
  /// connected one, traces the messages matching `pattern` ("": all) in
  /// the busiest tracked actor of `kind` for `duration` (under the tracer's
  /// limits: at most 5 captures a second, 50 in all, 60 s), then merges the
  /// handler times into one distribution per node and one for the cluster.
  /// Blocks for `duration` and a little. A node without such an actor, or
  /// busy with another trace, is listed with its error. Errors:
  /// `invalid_request` (no kind, duration not 100 ms..60 s).
  caf::expected<message_profile>
  profile(const std::string& kind, const std::string& pattern,
          std::chrono::milliseconds duration) const;

  // -- access -----------------------------------------------------------------

  /// The lens root supervisor.
  caf::actor root() const;

  /// The current coordinator (changes when it is restarted).
  actors::coordinator_actor coordinator() const;

  /// The supervisor of the operators (simple_one_for_one).
  caf::actor operator_supervisor() const;

  /// The log buffer behind the logs skill: feed it from your logger.
  std::shared_ptr<skills::log_buffer> logs() const;

  /// The metrics behind the telemetry skill: record your latencies here.
  std::shared_ptr<telemetry::metric_registry> metrics() const;

  /// The anomaly detector (always-on mode).
  std::shared_ptr<skills::anomaly_detector> anomaly_detector() const;

  /// Names of the registered skills.
  std::vector<std::string> skill_names() const;

  /// The effective configuration (after config file and environment).
  const caflens::config& settings() const;

  explicit operator bool() const noexcept {
    return eng_ != nullptr;
  }

  const std::shared_ptr<actors::engine>& engine() const noexcept {
    return eng_;
  }

private:
  caf::error remote_subscription(const std::string& node,
                                 const caf::actor& who, bool on) const;

  std::shared_ptr<actors::engine> eng_;
  caf::actor root_;
};

/// Puts the lens root supervisor (coordinator, operator supervisor,
/// telemetry supervisor) into `sys`. Dormant until asked: no threads, no
/// polling (unless `check_interval` or `anomaly_trigger` is set). Errors:
/// `invalid_config` naming the key and the bad value.
caf::expected<lens> start(caf::actor_system& sys, config cfg = {});

/// The configuration `start` would use: `cfg` overridden by the `caflens`
/// section of `sys_cfg` (see `add_config_options`) and by the environment,
/// then validated. Starts nothing and opens nothing. Errors:
/// `invalid_config` naming the key and the bad value.
caf::expected<config> configure(const caf::actor_system_config& sys_cfg,
                                config cfg = {});

} // namespace caflens
