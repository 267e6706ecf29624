// Investigations across CAF nodes: the settings, the cluster view, and the
// typed protocol between a coordinator and the node agents of other nodes.
//
// Every lens with `cluster_config::listen` set publishes a node agent
// through CAF's middleman (optionally through the OpenSSL module). A lens
// with `cluster_config::peers` connects to those agents, checks the caflens
// protocol version and the cluster token, and from then on its coordinator
// runs operators there: they run where the data is and report to the
// coordinator across the link. Every message that crosses nodes is typed,
// announced by `caflens::add_message_types`, and carries a W3C
// `traceparent` so that one investigation is one trace across nodes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor.hpp"
#include "caf/meta/type_name.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "caflens/actors/messages.hpp"

namespace caflens {

/// The caflens wire protocol between coordinators and node agents. A peer
/// speaking another version is refused at the handshake.
constexpr int32_t cluster_protocol_version = 1;

/// Distribution settings (`config::cluster`). Off by default: a lens is one
/// node until it listens or has peers.
struct cluster_config {
  /// Publish this node's agent so that other lenses can run operators here.
  bool listen = false;
  /// Where to listen: loopback unless told otherwise.
  std::string listen_host = "127.0.0.1";
  /// 0: any free port (`lens::node_port()` tells which).
  uint16_t listen_port = 0;
  /// Agents to connect to, "host:port" each; reconnected when lost.
  std::vector<std::string> peers;
  /// The cluster token: both sides must hold the same (compared in
  /// constant time); empty on both sides: no token. Never logged. From
  /// code, or the environment variable named by `token_env`.
  std::string token;
  /// Read the token from this environment variable when `token` is empty.
  std::string token_env = "CAFLENS_CLUSTER_TOKEN";
  /// Links through CAF's OpenSSL module: the application loads it
  /// (`cfg.load<caf::openssl::manager>()`) and sets CAF's `openssl.*` keys
  /// (certificate, key, cafile for peer verification). Both sides must
  /// agree: a plain-text peer fails the TLS handshake and is refused.
  bool tls = false;
  /// Bound on connecting and the handshake of one attempt.
  std::chrono::milliseconds connect_timeout{3'000};
  /// A connected node is pinged this often ...
  std::chrono::milliseconds heartbeat_interval{500};
  /// ... and declared lost after this long without an answer (a frozen
  /// process whose TCP link stays up).
  std::chrono::milliseconds heartbeat_timeout{2'000};
  /// Lost or unreachable nodes are tried again this often.
  std::chrono::milliseconds reconnect_interval{1'000};
  /// Bound on every other cross-node request (starting an operator).
  std::chrono::milliseconds request_timeout{5'000};
  /// Operators run on this node too unless the brain names nodes (false
  /// for a coordinator-only process such as `caflens investigate`).
  bool local_operators = true;
};

/// Where one node of the cluster stands.
enum class node_state : uint8_t {
  /// Being connected (or reconnected).
  connecting,
  /// Handshake done; heartbeats answered.
  connected,
  /// It was connected and is gone (died, frozen, disconnected); retried.
  lost,
  /// It refused us (or we it): token, version, TLS. Retried, in case the
  /// configuration is fixed on the other side.
  refused,
  /// Never reached (nothing listens, connect timed out); retried.
  unreachable,
};

std::string_view to_string(node_state x) noexcept;

/// Splits "host:port" ("[::1]:4000" for IPv6); false when malformed or the
/// port is not 0..65535.
bool parse_address(std::string_view text, std::string& host, uint16_t& port);

/// One node of the cluster view (`lens::cluster()`).
struct node_info {
  /// Its node name (empty until its first handshake).
  std::string name;
  /// "host:port" as configured.
  std::string address;
  node_state state = node_state::connecting;
  int32_t protocol_version = 0;
  /// Its caflens version ("0.1.0").
  std::string version;
  /// The skills its operators have.
  std::vector<std::string> skills;
  /// Unix milliseconds: last answered heartbeat, connected since, last
  /// state change.
  int64_t last_heartbeat = 0;
  int64_t connected_at = 0;
  int64_t changed_at = 0;
  /// Why it is lost, refused or unreachable.
  std::string error;
  /// Round trip of the last heartbeat, in microseconds.
  int64_t rtt_us = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("caflens::node_info"), x.name, x.address,
           x.state, x.protocol_version, x.version, x.skills,
           x.last_heartbeat, x.connected_at, x.changed_at, x.error, x.rtt_us);
}

/// Equal contents, in time that depends only on the lengths (tokens,
/// sessions).
bool constant_time_equal(std::string_view x, std::string_view y) noexcept;

// -- trace context --------------------------------------------------------------

/// "00-<trace id>-<span id>-01" (W3C trace context). `trace_id` is a
/// 32-hex caflens trace id; other ids are hashed into that shape.
std::string make_traceparent(const std::string& trace_id);

/// The trace id of a traceparent, or "" when it is malformed.
std::string trace_of(std::string_view traceparent);

// -- a cluster-wide profile of one message -------------------------------------

/// What one node's tracer saw of one message type in one actor kind.
struct node_profile {
  std::string node;
  /// The traced actor (the busiest of the kind when it was started).
  std::string actor;
  std::string kind;
  std::string pattern;
  /// Handler time of every capture, in nanoseconds (at most the tracer's
  /// 50).
  std::vector<uint64_t> handler_ns;
  /// Delivered to the actor while traced / matching the pattern.
  uint64_t seen = 0;
  uint64_t matched = 0;
  /// Why the trace ended: stopped, capture_limit, timeout, actor_exited.
  std::string stop_reason;
  /// Why there is no profile of this node (no actor of the kind, a trace
  /// already running, unreachable).
  std::string error;
  /// Quantiles of `handler_ns` in milliseconds (DDSketch, 1 % relative
  /// error).
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_profile& x) {
  for (auto* d : {&x.p50_ms, &x.p90_ms, &x.p99_ms, &x.max_ms})
    detail::finite_on_the_wire(f, *d);
  return f(caf::meta::type_name("caflens::node_profile"), x.node, x.actor,
           x.kind, x.pattern, x.handler_ns, x.seen, x.matched, x.stop_reason,
           x.error, x.p50_ms, x.p90_ms, x.p99_ms, x.max_ms);
}

/// The handler time of one message type in one actor kind on every node
/// (`lens::profile`), each node's distribution and the cluster's (the
/// nodes' sketches merged).
struct message_profile {
  std::string kind;
  std::string pattern;
  std::vector<node_profile> nodes;
  /// Captures over all nodes and their merged quantiles (milliseconds).
  uint64_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_profile& x) {
  for (auto* d : {&x.p50_ms, &x.p90_ms, &x.p99_ms, &x.max_ms})
    detail::finite_on_the_wire(f, *d);
  return f(caf::meta::type_name("caflens::message_profile"), x.kind,
           x.pattern, x.nodes, x.count, x.p50_ms, x.p90_ms, x.p99_ms,
           x.max_ms);
}

/// As JSON (for the CLI and the dashboard).
nlohmann::json to_json(const node_profile& x);
nlohmann::json to_json(const message_profile& x);

namespace actors {

/// Trace one message type in the busiest actor of a kind for a while.
struct remote_profile {
  std::string session;
  std::string kind;
  /// The tracer's pattern ("" or "*": every message).
  std::string pattern;
  int64_t duration_ms = 0;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_profile& x) {
  return f(caf::meta::type_name("caflens::actors::remote_profile"),
           x.session, x.kind, x.pattern, x.duration_ms, x.traceparent);
}

// -- the node agent's protocol -------------------------------------------------

/// A coordinator introduces itself.
struct node_hello {
  int32_t protocol_version = cluster_protocol_version;
  /// The cluster token (compared in constant time; never echoed).
  std::string token;
  /// The coordinator's node name.
  std::string node;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_hello& x) {
  return f(caf::meta::type_name("caflens::actors::node_hello"),
           x.protocol_version, x.token, x.node, x.traceparent);
}

/// The agent accepts: who it is, what it has, and the session id every
/// later request carries.
struct node_welcome {
  std::string node;
  int32_t protocol_version = cluster_protocol_version;
  std::string version;
  std::vector<std::string> skills;
  std::string session;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_welcome& x) {
  return f(caf::meta::type_name("caflens::actors::node_welcome"), x.node,
           x.protocol_version, x.version, x.skills, x.session);
}

/// Start one operator on the agent's node (reply: true once it runs).
struct remote_invoke {
  std::string session;
  operator_spec spec;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_invoke& x) {
  return f(caf::meta::type_name("caflens::actors::remote_invoke"), x.session,
           x.spec, x.traceparent);
}

/// The investigation `trace_id` is over: the agent forgets its budget.
struct remote_done {
  std::string session;
  std::string trace_id;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_done& x) {
  return f(caf::meta::type_name("caflens::actors::remote_done"), x.session,
           x.trace_id, x.traceparent);
}

/// A heartbeat.
struct node_ping {
  std::string session;
  /// Steady-clock nanoseconds of the sender (echoed).
  int64_t sent_ns = 0;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_ping& x) {
  return f(caf::meta::type_name("caflens::actors::node_ping"), x.session,
           x.sent_ns, x.traceparent);
}

struct node_pong {
  std::string node;
  int64_t sent_ns = 0;
  /// The agent's Unix milliseconds.
  int64_t at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_pong& x) {
  return f(caf::meta::type_name("caflens::actors::node_pong"), x.node,
           x.sent_ns, x.at);
}

/// One look of a skill on the agent's node (the cluster view, `caflens
/// top`); the reply is the snapshot with its node.
struct remote_snapshot {
  std::string session;
  std::string skill;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_snapshot& x) {
  return f(caf::meta::type_name("caflens::actors::remote_snapshot"),
           x.session, x.skill, x.traceparent);
}

/// Subscribes `who` (an actor of the sender's node) to the agent's lens:
/// its operator reports, action records and the supervision reports of the
/// lens's tree and the application's supervisors (`lens::subscribe`); or
/// unsubscribes it.
struct remote_subscribe {
  std::string session;
  caf::actor who;
  bool subscribe = true;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_subscribe& x) {
  return f(caf::meta::type_name("caflens::actors::remote_subscribe"),
           x.session, x.who, x.subscribe, x.traceparent);
}

/// Runs a Lua program in the agent node's sandbox with every skill's
/// callbacks (`caflens shell`, the dashboard's actor detail). The reply is
/// the sandbox's result as JSON text: value, output, output_truncated,
/// instructions, peak_memory_bytes, duration_ms, callback_calls.
struct remote_execute {
  std::string session;
  std::string code;
  std::string traceparent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_execute& x) {
  return f(caf::meta::type_name("caflens::actors::remote_execute"),
           x.session, x.code, x.traceparent);
}

/// The node agent every listening lens publishes.
using node_agent_actor = caf::typed_actor<
  caf::replies_to<node_hello>::with<node_welcome>,
  caf::replies_to<remote_invoke>::with<bool>,
  caf::replies_to<node_ping>::with<node_pong>,
  caf::replies_to<remote_snapshot>::with<snapshot>,
  caf::replies_to<remote_profile>::with<node_profile>,
  caf::replies_to<remote_subscribe>::with<bool>,
  caf::replies_to<remote_execute>::with<std::string>,
  caf::reacts_to<remote_done>>;

/// Asks the connector to connect to one more peer ("host:port").
struct connect_peer {
  std::string address;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connect_peer& x) {
  return f(caf::meta::type_name("caflens::actors::connect_peer"), x.address);
}

} // namespace actors

} // namespace caflens
