// Investigations across CAF nodes: this program forks into two processes.
// The child is node "alpha", an application whose indexer cannot keep up;
// its lens publishes a node agent on loopback. The parent is node "beta",
// whose lens has alpha as its peer: it connects (handshake with the cluster
// token), shows the cluster view, and investigates; the operators run on
// alpha, where the data is, and the culprit comes back as indexer@alpha.
//
//   build/apps/examples/across_nodes
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "caf/all.hpp"
#include "caf/io/middleman.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/tracked.hpp"

using namespace std::chrono_literals;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

namespace {

// 5 ms per document: 200 a second at most.
caf::behavior indexer(caf::event_based_actor*) {
  return {[](const std::string&) { std::this_thread::sleep_for(5ms); }};
}

// 4 documents every 10 ms: 400 a second.
caf::behavior crawler(caf::event_based_actor* self, caf::actor target) {
  self->send(self, tick_atom::value);
  return {[=](tick_atom) {
    for (int i = 0; i < 4; ++i)
      self->send(target, std::string{"document"});
    self->delayed_send(self, 10ms, tick_atom::value);
  }};
}

/// Node alpha: writes its agent's port to `port_out`, runs until `stop_in`
/// is closed.
int run_alpha(int port_out, int stop_in) {
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  caflens::config c;
  c.node_name = "alpha";
  c.cluster.listen = true;          // 127.0.0.1, port 0: any free one
  c.cluster.token = "example-token";
  auto lens = caflens::start(sys, c);
  uint16_t port = lens ? lens->node_port() : 0;
  auto idx = caflens::skills::spawn_tracked(sys, {"indexer", "indexer", 0},
                                            indexer);
  auto feed = sys.spawn(crawler, caf::actor_cast<caf::actor>(idx));
  (void) !::write(port_out, &port, sizeof(port));
  ::close(port_out);
  char x;
  while (::read(stop_in, &x, 1) > 0) {
  }
  caf::anon_send_exit(feed, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(idx, caf::exit_reason::kill);
  if (lens)
    lens->stop();
  return lens ? 0 : 1;
}

} // namespace

int main() {
  int up[2], down[2];
  if (::pipe(up) != 0 || ::pipe(down) != 0)
    return 1;
  auto pid = ::fork(); // before any actor system: no threads yet
  if (pid == 0) {
    ::close(up[0]);
    ::close(down[1]);
    return run_alpha(up[1], down[0]);
  }
  ::close(up[1]);
  ::close(down[0]);
  uint16_t alpha_port = 0;
  if (::read(up[0], &alpha_port, sizeof(alpha_port)) != sizeof(alpha_port)
      || alpha_port == 0) {
    std::cerr << "node alpha did not start\n";
    return 1;
  }

  // Node beta.
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  cfg.load<caf::io::middleman>();   // and caf::openssl::manager for TLS
  caf::actor_system sys{cfg};
  caflens::config c;
  c.node_name = "beta";
  c.cluster.peers = {"127.0.0.1:" + std::to_string(alpha_port)};
  c.cluster.token = "example-token"; // or CAFLENS_CLUSTER_TOKEN
  auto lens = caflens::start(sys, c);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  // The handshake runs in the background: wait until alpha is connected.
  for (int i = 0; i < 100; ++i) {
    auto nodes = lens->cluster();
    if (!nodes.empty() && nodes[0].state == caflens::node_state::connected)
      break;
    std::this_thread::sleep_for(50ms);
  }
  for (auto& n : lens->cluster()) // name, state, version, skills, heartbeat
    std::cout << "peer " << n.address << ": " << n.name << ' '
              << to_string(n.state) << ", caflens " << n.version << ", "
              << n.skills.size() << " skills, rtt " << n.rtt_us << " us\n";
  std::this_thread::sleep_for(1s); // alpha's indexer falls behind
  auto res = lens->investigate("documents are indexed late");
  if (res)
    std::cout << caflens::render_report(*res);
  else
    std::cerr << caflens::render_error(res.error()) << '\n';
  lens->stop();
  ::close(down[1]); // alpha stops
  int status = 0;
  ::waitpid(pid, &status, 0);
  return res && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
