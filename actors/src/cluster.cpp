// The node agent (published on listening nodes) and the cluster connector
// (connects to peers, checks their handshake, heartbeats them, reconnects).
#include "cluster_impl.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/middleman_actor.hpp"
#include "caf/openssl/manager.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "caflens/actors/actors_errc.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/telemetry/trace_id.hpp"

#include "engine.hpp"
#include "loop.hpp"

#ifndef CAFLENS_VERSION
#  define CAFLENS_VERSION "0.0.0"
#endif

namespace caflens {

// -- helpers ------------------------------------------------------------------

std::string_view to_string(node_state x) noexcept {
  switch (x) {
    case node_state::connecting:
      return "connecting";
    case node_state::connected:
      return "connected";
    case node_state::lost:
      return "lost";
    case node_state::refused:
      return "refused";
    default:
      return "unreachable";
  }
}

bool parse_address(std::string_view text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0
      || colon + 1 == text.size())
    return false;
  auto h = text.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']')
      return false;
    h = h.substr(1, h.size() - 2);
  }
  uint32_t p = 0;
  for (auto c : text.substr(colon + 1)) {
    if (c < '0' || c > '9')
      return false;
    p = p * 10 + static_cast<uint32_t>(c - '0');
    if (p > 65535)
      return false;
  }
  host = std::string{h};
  port = static_cast<uint16_t>(p);
  return true;
}

bool constant_time_equal(std::string_view x, std::string_view y) noexcept {
  // Every byte of the longer input is read; the result depends on no
  // early exit.
  auto n = std::max(x.size(), y.size());
  unsigned diff = x.size() == y.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    auto a = i < x.size() ? static_cast<unsigned char>(x[i]) : 0u;
    auto b = i < y.size() ? static_cast<unsigned char>(y[i]) : 0u;
    diff |= a ^ b;
  }
  return diff == 0;
}

std::string make_traceparent(const std::string& trace_id) {
  auto tid = trace_id;
  if (!telemetry::is_trace_id(tid)) {
    // Not a W3C id: keep it recognisable by hashing it into one.
    auto h = std::hash<std::string>{}(trace_id);
    char buf[33];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx",
                  static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(h * 0x9E3779B97F4A7C15ull));
    tid = buf;
  }
  // A span id: 64 random bits (the upper half of a fresh trace id).
  auto span = telemetry::generate_trace_id().substr(0, 16);
  return "00-" + tid + "-" + span + "-01";
}

std::string trace_of(std::string_view tp) {
  // 00-<32 hex>-<16 hex>-<2 hex>
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
    return {};
  auto tid = tp.substr(3, 32);
  if (!telemetry::is_trace_id(tid))
    return {};
  return std::string{tid};
}

namespace actors {

namespace {

using namespace std::chrono;

int64_t now_ns() {
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch())
    .count();
}

/// The middleman actor to publish and connect with: the OpenSSL module's
/// when TLS is on.
caf::expected<caf::io::middleman_actor> middleman_of(caf::actor_system& sys,
                                                     bool tls) {
  if (tls) {
    if (!sys.has_openssl_manager())
      return make_error(actors_errc::invalid_config,
                        "caflens cluster-tls: CAF's OpenSSL module is not "
                        "loaded (cfg.load<caf::io::middleman>() and "
                        "cfg.load<caf::openssl::manager>() before the actor "
                        "system is created)");
    return sys.openssl_manager().actor_handle();
  }
  if (!sys.has_middleman())
    return make_error(actors_errc::invalid_config,
                      "caflens cluster: CAF's I/O module is not loaded "
                      "(cfg.load<caf::io::middleman>() before the actor "
                      "system is created)");
  return sys.middleman().actor_handle();
}

// -- the node agent -------------------------------------------------------------

struct agent_data {
  static inline const char* name = "caflens.node_agent";
  std::shared_ptr<engine> eng;
  /// Investigations with a budget opened here.
  std::set<std::string> budgets;
};

using agent_ptr = node_agent_actor::stateful_pointer<agent_data>;

} // namespace

caf::expected<snapshot> take_snapshot(engine& eng, const std::string& skill,
                                      const std::string& trace_id) {
  auto sk = eng.find_skill(skill);
  if (!sk)
    return make_error(actors_errc::not_found,
                      "node '" + eng.node() + "' has no skill '" + skill
                        + "'; it has: " + join(eng.skill_names()));
  auto obs = sk->observe(trace_id);
  if (!obs)
    return std::move(obs.error());
  snapshot s;
  s.id = eng.next_id("s") + "@" + eng.node();
  s.skill = skill;
  s.captured_at = unix_ms();
  s.data = obs->data.dump();
  s.node = eng.node();
  s.trace_id = trace_id;
  return s;
}

namespace {

caf::error refused(const engine& eng, const std::string& peer,
                   const std::string& why) {
  return make_error(actors_errc::handshake_refused,
                    "node '" + eng.node() + "' refused node '" + peer
                      + "': " + why);
}

node_agent_actor::behavior_type agent_impl(agent_ptr self,
                                           std::shared_ptr<engine> eng) {
  self->state.eng = std::move(eng);
  return {
    [self](node_hello& h) -> caf::result<node_welcome> {
      auto& eng = *self->state.eng;
      auto& mine = eng.cfg().cluster.token;
      if (h.protocol_version != cluster_protocol_version)
        return refused(eng, h.node,
                       "caflens protocol version "
                         + std::to_string(h.protocol_version)
                         + " offered, this node speaks version "
                         + std::to_string(cluster_protocol_version));
      if (!constant_time_equal(h.token, mine)) {
        std::string why = "the cluster token does not match";
        if (mine.empty())
          why += " (this node has no token; the peer sent one)";
        else if (h.token.empty())
          why += " (the peer sent none)";
        return refused(eng, h.node, why);
      }
      node_welcome w;
      w.node = eng.node();
      w.version = CAFLENS_VERSION;
      w.skills = eng.skill_names();
      w.session = eng.open_session(h.node);
      emit("node", "accepted", {{"node", h.node}});
      return w;
    },
    [self](remote_invoke& r) -> caf::result<bool> {
      auto& eng = self->state.eng;
      if (!eng->valid_session(r.session))
        return refused(*eng, "a coordinator",
                       "unknown session (handshake first)");
      auto remaining = r.spec.deadline_at - unix_ms();
      if (remaining <= 0)
        return make_error(actors_errc::deadline,
                          "node '" + eng->node() + "': the investigation's "
                            "deadline passed before its operator started");
      if (!eng->find_skill(r.spec.skill))
        return make_error(actors_errc::not_found,
                          "node '" + eng->node() + "' has no skill '"
                            + r.spec.skill + "'");
      auto sup = eng->operator_sup();
      if (!sup)
        return make_error(actors_errc::unavailable,
                          "node '" + eng->node()
                            + "': its operator supervisor is down");
      auto trace = r.spec.trace_id;
      if (!eng->budget_of(trace)) {
        // The remote operators of one investigation share a budget here;
        // it is closed when the coordinator says so, or past the deadline.
        eng->open_budget(trace, milliseconds{remaining});
        self->state.budgets.insert(trace);
        self->delayed_send(self, milliseconds{remaining + 1000},
                           remote_done{r.session, trace, {}});
      }
      auto rp = self->make_response_promise<bool>();
      auto timeout = std::min(milliseconds{remaining},
                              eng->cfg().cluster.request_timeout);
      self
        ->request(sup, timeout,
                  supervision::start_dynamic_child{
                    caf::make_message(std::move(r.spec))})
        .then([rp](const caf::actor&) mutable { rp.deliver(true); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](node_ping& p) -> caf::result<node_pong> {
      auto& eng = *self->state.eng;
      if (!eng.valid_session(p.session))
        return refused(eng, "a coordinator",
                       "unknown session (handshake first)");
      return node_pong{eng.node(), p.sent_ns, unix_ms()};
    },
    [self](remote_snapshot& r) -> caf::result<snapshot> {
      auto& eng = *self->state.eng;
      if (!eng.valid_session(r.session))
        return refused(eng, "a coordinator",
                       "unknown session (handshake first)");
      return take_snapshot(eng, r.skill, trace_of(r.traceparent));
    },
    [self](remote_profile& r) -> caf::result<node_profile> {
      auto& eng = self->state.eng;
      if (!eng->valid_session(r.session))
        return refused(*eng, "a coordinator",
                       "unknown session (handshake first)");
      auto p = spawn_profiler(self->system(), eng);
      auto rp = self->make_response_promise<node_profile>();
      auto wait = std::chrono::milliseconds{r.duration_ms}
                  + eng->cfg().cluster.request_timeout;
      self->request(p, wait, std::move(r))
        .then([rp](node_profile& x) mutable { rp.deliver(std::move(x)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](remote_subscribe& r) -> caf::result<bool> {
      auto& eng = self->state.eng;
      if (!eng->valid_session(r.session))
        return refused(*eng, "a coordinator",
                       "unknown session (handshake first)");
      if (!r.who)
        return make_error(actors_errc::invalid_request, "no subscriber");
      if (r.subscribe)
        subscribe_all(eng, r.who);
      else
        unsubscribe_all(*eng, r.who);
      return true;
    },
    [self](remote_execute& r) -> caf::result<std::string> {
      auto& eng = self->state.eng;
      if (!eng->valid_session(r.session))
        return refused(*eng, "a client", "unknown session (handshake first)");
      auto x = spawn_executor(self->system(), eng);
      auto rp = self->make_response_promise<std::string>();
      auto wait = eng->box().limits().max_wall_time + std::chrono::seconds{1};
      self->request(x, wait, std::move(r.code), trace_of(r.traceparent))
        .then([rp](std::string& out) mutable { rp.deliver(std::move(out)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](remote_done& d) {
      auto& st = self->state;
      if (!st.eng->valid_session(d.session) || st.budgets.erase(d.trace_id) == 0)
        return;
      st.eng->close_budget(d.trace_id);
    },
  };
}

// -- the connector ----------------------------------------------------------------

using heartbeat_atom = caf::atom_constant<caf::atom("clhbeat")>;
using retry_atom = caf::atom_constant<caf::atom("clretry")>;

struct peer {
  std::string address;
  std::string host;
  uint16_t port = 0;
  node_info info;
  node_agent_actor agent;
  std::string session;
  /// A connect or handshake is under way.
  bool connecting = false;
  /// A heartbeat is under way.
  bool pinging = false;
  /// Bumped per connection: late answers of an older one are dropped.
  uint64_t epoch = 0;
};

struct connector_data {
  static inline const char* name = "caflens.cluster";
  std::shared_ptr<engine> eng;
  caf::io::middleman_actor mm;
  std::vector<peer> peers;
  bool armed = false;
  /// Why there is no middleman actor (CAF's I/O module not loaded).
  std::string no_mm;
};

using connector_ptr = caf::stateful_actor<connector_data>*;

class connector {
public:
  explicit connector(connector_ptr self) : self_(self), s_(self->state) {
  }

  void add(const std::string& address) {
    if (!s_.armed) {
      // Timers only once there is a peer: a single-node lens pays nothing.
      s_.armed = true;
      auto& cl = s_.eng->cfg().cluster;
      self_->delayed_send(self_, cl.heartbeat_interval, heartbeat_atom::value);
      self_->delayed_send(self_, cl.reconnect_interval, retry_atom::value);
    }
    for (auto& p : s_.peers)
      if (p.address == address)
        return attempt(p);
    peer p;
    p.address = address;
    p.info.address = address;
    if (!parse_address(address, p.host, p.port) || p.port == 0) {
      p.info.state = node_state::unreachable;
      p.info.error = "not a host:port address";
      p.info.changed_at = unix_ms();
      publish(p);
      s_.peers.push_back(std::move(p));
      return;
    }
    if (!s_.mm) {
      p.info.state = node_state::unreachable;
      p.info.error = s_.no_mm;
      p.info.changed_at = unix_ms();
      publish(p);
      p.port = 0; // never retried
    }
    s_.peers.push_back(std::move(p));
    attempt(s_.peers.back());
  }

  void attempt(peer& p) {
    if (p.connecting || p.port == 0
        || (p.info.state == node_state::connected && p.agent))
      return;
    p.connecting = true;
    auto epoch = ++p.epoch;
    auto& cl = s_.eng->cfg().cluster;
    auto addr = p.address;
    self_
      ->request(s_.mm, cl.connect_timeout, caf::connect_atom::value, p.host,
                p.port)
      .then(
        [self = self_, addr, epoch](caf::node_id&, caf::strong_actor_ptr& ptr,
                                    std::set<std::string>&) {
          connector c{self};
          if (auto* p = c.find(addr, epoch))
            c.handshake(*p, std::move(ptr));
        },
        [self = self_, addr, epoch](caf::error& err) {
          connector c{self};
          if (auto* p = c.find(addr, epoch))
            c.failed(*p, node_state::unreachable,
                     c.unreachable_text(*p, err));
        });
  }

  peer* find(const std::string& addr, uint64_t epoch) {
    for (auto& p : s_.peers)
      if (p.address == addr)
        return p.epoch == epoch ? &p : nullptr;
    return nullptr;
  }

  std::string unreachable_text(const peer& p, const caf::error& err) {
    auto& cl = s_.eng->cfg().cluster;
    if (err == caf::sec::request_timeout)
      return "no caflens node answered at " + p.address + " within "
             + std::to_string(cl.connect_timeout.count()) + " ms"
             + (cl.tls ? " (TLS is on here: is it on there?)"
                       : " (frozen, or it expects TLS?)");
    return "cannot reach " + p.address + ": " + render_error(err);
  }

  void handshake(peer& p, caf::strong_actor_ptr ptr) {
    if (!ptr) {
      failed(p, node_state::refused,
             "nothing is published at " + p.address
               + " (not a caflens node agent)");
      return;
    }
    auto agent = caf::actor_cast<node_agent_actor>(std::move(ptr));
    auto& eng = *s_.eng;
    node_hello h;
    h.token = eng.cfg().cluster.token;
    h.node = eng.node();
    h.traceparent = make_traceparent(telemetry::generate_trace_id());
    auto addr = p.address;
    auto epoch = p.epoch;
    self_->request(agent, eng.cfg().cluster.connect_timeout, std::move(h))
      .then(
        [self = self_, addr, epoch, agent](node_welcome& w) {
          connector c{self};
          if (auto* p = c.find(addr, epoch))
            c.connected(*p, agent, std::move(w));
        },
        [self = self_, addr, epoch](caf::error& err) {
          connector c{self};
          auto* p = c.find(addr, epoch);
          if (p == nullptr)
            return;
          if (err.category() == actors_errc_category)
            c.failed(*p, node_state::refused, render_error(err));
          else
            c.failed(*p, node_state::refused,
                     "the peer at " + p->address
                       + " did not complete the caflens handshake: "
                       + render_error(err));
        });
  }

  void connected(peer& p, node_agent_actor agent, node_welcome w) {
    p.connecting = false;
    if (w.protocol_version != cluster_protocol_version) {
      failed(p, node_state::refused,
             "node '" + s_.eng->node() + "' refused node '" + w.node
               + "': it speaks caflens protocol version "
               + std::to_string(w.protocol_version) + ", this node "
               + std::to_string(cluster_protocol_version));
      return;
    }
    auto now = unix_ms();
    p.agent = agent;
    p.session = std::move(w.session);
    p.info.name = w.node;
    p.info.state = node_state::connected;
    p.info.protocol_version = w.protocol_version;
    p.info.version = w.version;
    p.info.skills = std::move(w.skills);
    p.info.connected_at = now;
    p.info.last_heartbeat = now;
    p.info.changed_at = now;
    p.info.error.clear();
    self_->monitor(agent);
    publish(p);
    emit("node", "connected", {{"node", p.info.name}, {"address", p.address}});
    tell_coordinator(p, true, "connected");
  }

  void failed(peer& p, node_state st, std::string why) {
    p.connecting = false;
    // Retries that fail the same way are not news.
    bool news = p.info.state != st || p.info.error != why;
    p.info.state = st;
    p.info.error = why;
    if (news)
      p.info.changed_at = unix_ms();
    publish(p);
    if (news)
      emit("node", "refused", {{"address", p.address}, {"reason", why}});
  }

  /// The node went away (down, heartbeat): lost until it answers again.
  void lost(peer& p, std::string why, bool link_gone) {
    if (p.info.state != node_state::connected)
      return;
    p.info.state = node_state::lost;
    p.info.error = why;
    p.info.changed_at = unix_ms();
    if (link_gone) {
      if (p.agent)
        self_->demonitor(p.agent.address());
      p.agent = nullptr;
      p.session.clear();
      p.pinging = false;
      ++p.epoch;
    }
    publish(p);
    emit("node", "disconnected",
         {{"node", p.info.name}, {"address", p.address}, {"reason", why}});
    tell_coordinator(p, false, why);
  }

  void heartbeat() {
    auto& cl = s_.eng->cfg().cluster;
    for (auto& p : s_.peers) {
      if (!p.agent || p.pinging)
        continue;
      p.pinging = true;
      auto addr = p.address;
      auto epoch = p.epoch;
      auto sent = now_ns();
      self_
        ->request(p.agent, cl.heartbeat_timeout,
                  node_ping{p.session, sent,
                            make_traceparent(telemetry::generate_trace_id())})
        .then(
          [self = self_, addr, epoch](node_pong& pong) {
            connector c{self};
            if (auto* p = c.find(addr, epoch))
              c.pong(*p, pong);
          },
          [self = self_, addr, epoch](caf::error& err) {
            connector c{self};
            auto* p = c.find(addr, epoch);
            if (p == nullptr)
              return;
            p->pinging = false;
            auto& cl = c.s_.eng->cfg().cluster;
            if (err == caf::sec::request_timeout)
              c.lost(*p,
                     "no heartbeat answer within "
                       + std::to_string(cl.heartbeat_timeout.count())
                       + " ms (frozen or overloaded)",
                     false);
            else
              c.lost(*p, "heartbeat failed: " + render_error(err), true);
          });
    }
    self_->delayed_send(self_, cl.heartbeat_interval, heartbeat_atom::value);
  }

  void pong(peer& p, const node_pong& x) {
    p.pinging = false;
    auto now = unix_ms();
    p.info.last_heartbeat = now;
    p.info.rtt_us = (now_ns() - x.sent_ns) / 1000;
    if (p.info.state == node_state::lost && p.agent) {
      // Back from a freeze: the link never closed.
      p.info.state = node_state::connected;
      p.info.error.clear();
      p.info.changed_at = now;
      p.info.connected_at = now;
      emit("node", "connected",
           {{"node", p.info.name}, {"address", p.address}});
      tell_coordinator(p, true, "answers again");
    }
    publish(p);
  }

  void retry() {
    for (auto& p : s_.peers)
      if (!p.agent && !p.connecting && p.port != 0)
        attempt(p);
    self_->delayed_send(self_, s_.eng->cfg().cluster.reconnect_interval,
                        retry_atom::value);
  }

  void on_down(const caf::down_msg& dm) {
    for (auto& p : s_.peers)
      if (p.agent && p.agent.address() == dm.source) {
        if (p.info.state == node_state::connected)
          lost(p, "link lost: " + render_error(dm.reason), true);
        else {
          // Lost already (frozen), now gone for good: reconnect.
          p.agent = nullptr;
          p.session.clear();
          p.pinging = false;
          ++p.epoch;
          publish(p);
        }
        return;
      }
  }

private:
  void publish(const peer& p) {
    s_.eng->set_peer(p.address, p.info, p.agent, p.session);
  }

  void tell_coordinator(const peer& p, bool up, const std::string& why) {
    if (auto c = s_.eng->coordinator())
      self_->send(caf::actor_cast<coordinator_engine_actor>(c),
                  node_event{p.info.name, up, why, unix_ms()});
  }

  connector_ptr self_;
  connector_data& s_;
};

caf::behavior connector_impl(connector_ptr self, std::shared_ptr<engine> eng,
                             caf::io::middleman_actor mm, std::string no_mm) {
  self->state.eng = std::move(eng);
  self->state.mm = std::move(mm);
  self->state.no_mm = std::move(no_mm);
  self->set_down_handler(
    [self](caf::down_msg& dm) { connector{self}.on_down(dm); });
  for (auto& addr : self->state.eng->cfg().cluster.peers)
    connector{self}.add(addr);
  return {
    [self](connect_peer& x) { connector{self}.add(x.address); },
    [self](heartbeat_atom) { connector{self}.heartbeat(); },
    [self](retry_atom) { connector{self}.retry(); },
  };
}

} // namespace

caf::error check_modules(caf::actor_system& sys, const cluster_config& cl) {
  if (!cl.listen && cl.peers.empty())
    return {};
  auto mm = middleman_of(sys, cl.tls);
  return mm ? caf::error{} : std::move(mm.error());
}

caf::expected<caf::actor> spawn_node_agent(caf::actor_system& sys,
                                           std::shared_ptr<engine> eng) {
  auto& cl = eng->cfg().cluster;
  auto mm = middleman_of(sys, cl.tls);
  if (!mm)
    return std::move(mm.error());
  auto agent = sys.spawn(agent_impl, eng);
  auto handle = caf::actor_cast<caf::actor>(agent);
  // A restarted agent takes over the port of the one before it.
  auto old = eng->agent();
  caf::scoped_actor self{sys};
  auto port = cl.listen_port;
  if (old && eng->node_port() != 0) {
    port = eng->node_port();
    self->send(*mm, caf::unpublish_atom::value, old.address(), port);
  }
  caf::expected<uint16_t> result{uint16_t{0}};
  self
    ->request(*mm, seconds{10}, caf::publish_atom::value, port,
              caf::actor_cast<caf::strong_actor_ptr>(agent),
              sys.message_types<node_agent_actor>(), cl.listen_host, true)
    .receive([&](uint16_t actual) { result = actual; },
             [&](caf::error& err) { result = std::move(err); });
  if (!result) {
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    return make_error(actors_errc::invalid_config,
                      "caflens listen: cannot publish the node agent on "
                        + cl.listen_host + ":" + std::to_string(port) + ": "
                        + render_error(result.error()));
  }
  eng->set_node_port(*result);
  eng->set_agent(handle);
  return handle;
}

caf::expected<caf::actor> spawn_connector(caf::actor_system& sys,
                                          std::shared_ptr<engine> eng) {
  auto mm = middleman_of(sys, eng->cfg().cluster.tls);
  // Without peers a missing I/O module is no error until `lens::connect`.
  if (!mm && !eng->cfg().cluster.peers.empty())
    return std::move(mm.error());
  auto h = mm ? sys.spawn(connector_impl, eng, std::move(*mm), std::string{})
              : sys.spawn(connector_impl, eng, caf::io::middleman_actor{},
                          render_error(mm.error()));
  eng->set_connector(h);
  return h;
}

} // namespace actors

} // namespace caflens
