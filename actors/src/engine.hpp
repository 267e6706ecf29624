// The state one lens shares between its actors (private header).
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor.hpp"
#include "caf/fwd.hpp"

#include "caflens/actors/cluster.hpp"
#include "caflens/actors/config.hpp"
#include "caflens/actors/messages.hpp"

#include "action_book.hpp"
#include "caflens/llm/budget.hpp"
#include "caflens/llm/recording.hpp"
#include "caflens/sandbox/sandbox.hpp"
#include "caflens/skills/anomaly.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/store/store.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::actors {

/// Unix milliseconds.
int64_t unix_ms();

/// The loop a brain decides for: "coordinator" or "operator:<skill>" (the
/// label of its model calls and of the decisions the store keeps).
std::string loop_label(const brain_request& req);

/// "a,b,c" (for errors and event metadata).
std::string join(const std::vector<std::string>& xs);

/// Shared by the lens handle, the coordinator and the operators. Thread-safe.
class engine {
public:
  engine(caf::actor_system& sys, config cfg);

  /// Stops observing the configured LLM registry.
  ~engine();

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  caf::actor_system& system() const noexcept {
    return *sys_;
  }

  const caflens::config& cfg() const noexcept {
    return cfg_;
  }

  const std::string& node() const noexcept {
    return node_;
  }

  // -- skills -----------------------------------------------------------------

  const std::vector<skills::skill_ptr>& skills() const noexcept {
    return skills_;
  }

  skills::skill_ptr find_skill(const std::string& name) const;

  std::vector<std::string> skill_names() const;


  /// The process table the skills inspect.
  skills::process_table& processes() const noexcept {
    return *processes_;
  }

  const std::shared_ptr<skills::log_buffer>& logs() const noexcept {
    return logs_;
  }

  /// `text` with the configured secrets redacted (text that may leave the
  /// process: events, logs, the store).
  std::string redact(std::string text) const;

  /// The configured redaction (built-in rules plus `config.redaction`).
  const std::shared_ptr<const llm::redactor>& redactor() const noexcept {
    return redactor_;
  }

  /// `doc` with the configured secrets redacted in every string, and values
  /// under secret keys replaced (what the store keeps of a model's
  /// conversation and of snapshots).
  nlohmann::json redact_json(nlohmann::json doc) const;

  /// What an actor of the lens received and does not understand, for the
  /// `unexpected_message` events: its text, shortened and redacted.
  std::string describe_unexpected(const caf::message& msg) const;

  const std::shared_ptr<telemetry::metric_registry>& metrics() const noexcept {
    return metrics_;
  }

  const std::shared_ptr<skills::anomaly_detector>& anomaly() const noexcept {
    return anomaly_;
  }

  /// The tracer behind the tracer skill (null without built-in skills).
  const std::shared_ptr<skills::tracer>& tracer() const noexcept {
    return tracer_;
  }

  const sandbox::sandbox& box() const noexcept {
    return box_;
  }

  // -- brains -----------------------------------------------------------------

  /// The brain for one loop: the configured factory, else the LLM, else the
  /// rule brain.
  std::unique_ptr<llm::brain> make_brain(const brain_request& req) const;

  /// "rule", "llm" or "custom".
  std::string brain_kind() const;

  // -- what the store keeps of the brains -------------------------------------

  /// Stores (redacted) the call loop `loop` of investigation `trace_id` ran,
  /// decided by a brain of kind `brain` at `iteration`, when a store runs
  /// and keeps decisions (`store_options::llm_exchanges`).
  void record_decision(const std::string& trace_id, const std::string& loop,
                       std::string_view brain, int64_t iteration,
                       const llm::tool_call& call) const;

  /// True when the loops run detached: they may block on network calls
  /// (a model), or the lens is isolated from the application's scheduler.
  bool detached_loops() const noexcept {
    return cfg_.llm != nullptr || cfg_.isolated;
  }

  // -- budgets ----------------------------------------------------------------

  /// Creates the token/cost/time budget all loops of investigation
  /// `trace_id` share (limits from the config, time = the deadline).
  std::shared_ptr<llm::budget> open_budget(const std::string& trace_id,
                                           std::chrono::milliseconds deadline);

  /// The budget of `trace_id`, or null once the investigation ended.
  std::shared_ptr<llm::budget> budget_of(const std::string& trace_id) const;

  /// Cancels the budget's calls still in flight and forgets it.
  void close_budget(const std::string& trace_id);

  /// Cancels every open budget (the lens stops: no call outlives it).
  void cancel_budgets();

  // -- ids --------------------------------------------------------------------

  /// "<prefix>-<n>", unique within this lens.
  std::string next_id(const char* prefix);

  uint64_t next_run_id() noexcept {
    return ++run_ids_;
  }

  // -- handles ----------------------------------------------------------------

  void set_root(caf::actor x);
  void set_coordinator(coordinator_actor x);
  void set_operator_sup(caf::actor x);
  caf::actor root() const;
  coordinator_actor coordinator() const;
  caf::actor operator_sup() const;

  /// Supervision trees for the supervision skill (the lens's own and the
  /// configured ones).
  nlohmann::json trees() const;

  // -- subscribers ------------------------------------------------------------

  /// Adds `who` once (`lens::subscribe`; it leaves with `unsubscribe` or
  /// when it terminates). Kept weakly.
  void subscribe(const caf::actor_addr& who);

  void unsubscribe(const caf::actor_addr& who);

  size_t subscriber_count() const;

  /// Sends `x` to every live subscriber (and forgets the dead ones).
  void publish(const operator_report& x);
  void publish(const action_record& x);

  // -- cluster ----------------------------------------------------------------

  /// A connected node as the coordinator reaches it.
  struct peer_link {
    std::string name;
    node_agent_actor agent;
    std::string session;
  };

  /// Updates the cluster view's entry of `address` (the connector).
  void set_peer(const std::string& address, node_info info,
                node_agent_actor agent = {}, std::string session = {});

  /// The cluster view: every configured or connected peer.
  std::vector<node_info> cluster() const;

  /// The connected nodes (name, agent, session).
  std::vector<peer_link> connected() const;

  /// The connected node named `name`.
  std::optional<peer_link> connected(const std::string& name) const;

  /// The port the node agent listens on (0: not listening).
  uint16_t node_port() const noexcept {
    return node_port_.load();
  }

  /// Handler ids of the sinks `start` attached (detached again when the
  /// start fails). Written only during `start`.
  std::vector<std::string> sink_handlers;

  /// The running store writer, or nullptr.
  std::shared_ptr<store::store_sink> store() const {
    return store_->get();
  }

  void set_store(std::shared_ptr<store::store_sink> x) {
    store_->set(std::move(x));
  }

  uint16_t prometheus_port() const noexcept {
    return prometheus_port_.load();
  }

  void set_prometheus_port(uint16_t x) noexcept {
    prometheus_port_ = x;
  }

  void set_node_port(uint16_t x) noexcept {
    node_port_ = x;
  }

  void set_agent(caf::actor x);
  caf::actor agent() const;
  void set_connector(caf::actor x);
  caf::actor connector() const;

  /// Agent side: a new session for a coordinator that passed the
  /// handshake; sessions are checked on every later request.
  std::string open_session(const std::string& peer);
  bool valid_session(const std::string& id) const;

  // -- actions ----------------------------------------------------------------

  action_book& actions() const noexcept {
    return *actions_;
  }

  // -- automatic triggers -----------------------------------------------------

  /// Takes one slot of the automatic-trigger rate limit; false when limited.
  bool admit_trigger();

private:
  caf::actor_system* sys_;
  caflens::config cfg_;
  std::string node_;
  std::vector<skills::skill_ptr> skills_;
  skills::process_table* processes_;
  std::shared_ptr<skills::log_buffer> logs_;
  std::shared_ptr<const llm::redactor> redactor_;
  std::shared_ptr<telemetry::metric_registry> metrics_;
  std::shared_ptr<skills::anomaly_detector> anomaly_;
  std::shared_ptr<skills::tracer> tracer_;
  sandbox::sandbox box_;
  std::atomic<uint64_t> ids_{0};
  std::atomic<uint64_t> run_ids_{0};
  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<llm::budget>> budgets_;
  // Weak references: the root supervisor's child specs own the engine, so
  // strong handles here would keep the tree's memory alive forever.
  caf::actor_addr root_;
  caf::actor_addr coordinator_;
  caf::actor_addr operator_sup_;
  std::vector<caf::actor_addr> subscribers_;
  std::unique_ptr<action_book> actions_;
  struct peer_entry {
    node_info info;
    node_agent_actor agent;
    std::string session;
  };
  std::map<std::string, peer_entry> peers_;
  std::atomic<uint16_t> node_port_{0};
  std::atomic<uint16_t> prometheus_port_{0};
  /// The store writer, shared with the observer of the LLM registry (which
  /// may outlive the engine when the application owns the registry).
  class store_slot {
  public:
    std::shared_ptr<store::store_sink> get() const {
      std::lock_guard<std::mutex> guard{mtx_};
      return sink_;
    }
    void set(std::shared_ptr<store::store_sink> x) {
      std::lock_guard<std::mutex> guard{mtx_};
      sink_ = std::move(x);
    }

  private:
    mutable std::mutex mtx_;
    std::shared_ptr<store::store_sink> sink_;
  };
  std::shared_ptr<store_slot> store_ = std::make_shared<store_slot>();
  /// Stores the exchanges of `cfg_.llm`'s clients (store_options::
  /// llm_exchanges = full).
  std::shared_ptr<const llm::exchange_observer> exchange_observer_;
  caf::actor_addr agent_;
  caf::actor_addr connector_;
  std::deque<std::pair<std::string, std::string>> sessions_;
  int64_t last_trigger_ms_ = 0;
  std::deque<int64_t> trigger_times_;
};

/// `lens::subscribe`: `who` gets the engine's reports and those of the
/// lens's root and the application's supervisors until it terminates (a
/// remote one: until its node is gone) or `unsubscribe_all`.
void subscribe_all(const std::shared_ptr<engine>& eng, const caf::actor& who);

void unsubscribe_all(engine& eng, const caf::actor& who);

} // namespace caflens::actors
