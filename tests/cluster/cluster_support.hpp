// Shared by the multi-process tests: node processes and a coordinator.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/openssl/manager.hpp"

#include "caflens/caflens.hpp"
#include "caflens/telemetry/bus.hpp"

#include "node_process.hpp"

namespace cluster_test {

using namespace std::chrono_literals;
using caflens::cli::node_process;

/// Starts `caflens node --name NAME --scenario S` (more args appended).
inline node_process start_node(const std::string& name,
                               const std::string& scenario = "healthy",
                               std::vector<std::string> more = {},
                               std::vector<std::string> env = {}) {
  std::vector<std::string> args{"--name", name, "--scenario", scenario,
                                "--inject-after-ms", "300"};
  args.insert(args.end(), more.begin(), more.end());
  return caflens::cli::start_node_process(CAFLENS_EXE, args, env);
}

inline std::string address(const node_process& p) {
  return "127.0.0.1:" + std::to_string(p.port);
}

/// The test process as a coordinator-only node.
struct coordinator {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caflens::lens lens;
  caf::error error;

  /// `heartbeat_timeout`: generous by default, so that a loaded CI machine
  /// does not lose a node that is merely slow.
  coordinator(std::vector<std::string> peers, std::string token = {},
              std::vector<std::pair<std::string, std::string>> tls = {},
              std::chrono::milliseconds heartbeat_timeout = 2500ms) {
    cfg = std::make_unique<caf::actor_system_config>();
    caflens::add_message_types(*cfg);
    cfg->load<caf::io::middleman>();
    if (!tls.empty()) {
      cfg->load<caf::openssl::manager>();
      for (auto& [k, v] : tls)
        cfg->set(k, v);
    }
    cfg->set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(*cfg);
    caflens::config lcfg;
    lcfg.node_name = "coordinator";
    lcfg.builtin_skills = true;
    lcfg.cluster.peers = std::move(peers);
    lcfg.cluster.token = std::move(token);
    lcfg.cluster.token_env.clear();
    lcfg.cluster.tls = !tls.empty();
    lcfg.cluster.local_operators = false;
    lcfg.cluster.heartbeat_interval = 200ms;
    lcfg.cluster.heartbeat_timeout = heartbeat_timeout;
    lcfg.cluster.reconnect_interval = 300ms;
    lcfg.cluster.connect_timeout = 2000ms;
    lcfg.cluster.request_timeout = 2000ms;
    auto l = caflens::start(*sys, lcfg);
    if (l)
      lens = std::move(*l);
    else
      error = l.error();
  }

  ~coordinator() {
    if (lens)
      lens.stop();
    sys.reset();
  }

  /// Waits (at most `timeout`) until `pred(cluster view)` holds.
  template <class Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 10s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (pred(lens.cluster()))
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred(lens.cluster());
  }

  /// Waits until `n` nodes are connected.
  bool wait_connected(size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait_for(
      [n](const std::vector<caflens::node_info>& xs) {
        size_t up = 0;
        for (auto& x : xs)
          up += x.state == caflens::node_state::connected ? 1 : 0;
        return up == n;
      },
      timeout);
  }

  const caflens::node_info* info(const std::string& name_or_address) {
    view_ = lens.cluster();
    for (auto& x : view_)
      if (x.name == name_or_address || x.address == name_or_address)
        return &x;
    return nullptr;
  }

  std::vector<caflens::node_info> view_;
};

/// The nodes the operators of `r` ran on.
inline std::set<std::string> operator_nodes(
  const caflens::investigation_result& r) {
  std::set<std::string> xs;
  for (auto& o : r.operators)
    xs.insert(o.node);
  return xs;
}

inline std::string errors_of(const caflens::investigation_result& r) {
  std::string out;
  for (auto& e : r.errors)
    out += e + "\n";
  return out;
}

/// Lines made of the catalogue events this process emits (`line` makes
/// each), for tests that wait for and count them.
class event_lines {
public:
  using formatter = std::function<std::string(
    const caflens::telemetry::event_name&, const caflens::telemetry::metadata&)>;

  event_lines(std::string id, std::vector<caflens::telemetry::event_name> names,
              formatter line)
    : id_(std::move(id)) {
    caflens::telemetry::bus::global().attach_many(
      id_, std::move(names),
      [this, line](const caflens::telemetry::event_name& e,
                   const caflens::telemetry::measurements&,
                   const caflens::telemetry::metadata& md, const std::any&) {
        auto text = line(e, md);
        std::lock_guard<std::mutex> guard{mtx_};
        seen_.push_back(std::move(text));
        cv_.notify_all();
      });
  }

  ~event_lines() {
    caflens::telemetry::bus::global().detach(id_);
  }

  event_lines(const event_lines&) = delete;
  event_lines& operator=(const event_lines&) = delete;

  /// Waits (for an event, not a time) until one contains `text`.
  bool wait_for(const std::string& text) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, std::chrono::seconds{30}, [&] {
      return std::any_of(seen_.begin(), seen_.end(), [&](auto& x) {
        return x.find(text) != std::string::npos;
      });
    });
  }

  /// Every line, each ended by a newline.
  std::string all() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::string out;
    for (auto& x : seen_)
      out += x + "\n";
    return out;
  }

  /// How many lines start with `prefix`.
  size_t count(const std::string& prefix) {
    std::lock_guard<std::mutex> guard{mtx_};
    return static_cast<size_t>(
      std::count_if(seen_.begin(), seen_.end(),
                    [&](auto& x) { return x.rfind(prefix, 0) == 0; }));
  }

private:
  std::string id_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::string> seen_;
};

} // namespace cluster_test
