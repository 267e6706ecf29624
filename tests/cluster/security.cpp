#define CAF_SUITE cluster.security
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "cluster_support.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <unistd.h>

#include "caflens/telemetry/bus.hpp"

#include "caf/scoped_actor.hpp"
#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace cluster_test;

namespace {

investigate_options quick() {
  investigate_options o;
  o.skills = {"actors"};
  o.deadline_ms = 20'000;
  return o;
}

bool refused_with(coordinator& co, const std::string& text) {
  return co.wait_for([&](const std::vector<node_info>& xs) {
    return xs.size() == 1 && xs[0].state == node_state::refused
           && xs[0].error.find(text) != std::string::npos;
  });
}

/// The catalogue's node events this process emits: "refused <reason>",
/// "connected <node>".
struct node_events : event_lines {
  node_events()
    : event_lines("test.node_events",
                  {telemetry::event_name{"caflens", "node", "connected"},
                   telemetry::event_name{"caflens", "node", "refused"}},
                  [](const telemetry::event_name& e,
                     const telemetry::metadata& md) {
                    auto what = e.segments().back();
                    auto* detail = md.find(what == "connected" ? "node"
                                                               : "reason");
                    return what + " " + (detail ? detail->to_string() : "");
                  }) {
  }
};

} // namespace

CAF_TEST(a wrong cluster token is refused with a clear error) {
  node_events events;
  const std::string secret = "node-secret-7f3a91";
  auto a = start_node("alpha", "healthy", {},
                      {"CAFLENS_CLUSTER_TOKEN=" + secret});
  CAF_REQUIRE(a.pid > 0);
  {
    coordinator co{{address(a)}, "wrong-token-c0ffee"};
    CAF_CHECK(refused_with(co, "node 'alpha' refused node 'coordinator': "
                               "the cluster token does not match"));
    auto* n = co.info(address(a));
    CAF_REQUIRE(n != nullptr);
    CAF_MESSAGE(n->error);
    // Neither token shows up anywhere.
    CAF_CHECK(n->error.find(secret) == std::string::npos);
    CAF_CHECK(n->error.find("wrong-token") == std::string::npos);
    // Not connected: investigations stay here.
    auto r = co.lens.investigate("check", quick());
    CAF_REQUIRE(r);
    CAF_CHECK(operator_nodes(*r) == std::set<std::string>{"coordinator"});
  }
  {
    coordinator co{{address(a)}};
    CAF_CHECK(refused_with(co, "the cluster token does not match (the peer "
                               "sent none)"));
  }
  {
    // No peers at start: connected later (`lens::connect`).
    coordinator co{{}, secret};
    CAF_REQUIRE(!co.error);
    CAF_CHECK(co.lens.cluster().empty());
    co.lens.connect(address(a));
    CAF_REQUIRE(co.wait_connected(1));
    auto r = co.lens.investigate("check", quick());
    CAF_REQUIRE(r);
    CAF_CHECK(operator_nodes(*r) == std::set<std::string>{"alpha"});
  }
  a.stop();
  // The catalogue events say the same, without the tokens.
  CAF_CHECK(events.wait_for("node 'alpha' refused node 'coordinator': the "
                            "cluster token does not match"));
  CAF_CHECK(events.all().rfind("refused ", 0) == 0);
  CAF_CHECK(events.wait_for("connected alpha"));
  auto log = events.all();
  CAF_CHECK(log.find(secret) == std::string::npos);
  CAF_CHECK(log.find("wrong-token") == std::string::npos);
}

CAF_TEST(the agent refuses another protocol version and unknown sessions) {
  // The node writes its catalogue events to a JSONL file: its side of the
  // handshake (caflens.node.accepted) is read back after it stopped.
  auto events_file = std::filesystem::temp_directory_path()
                     / ("caflens-agent-events-" + std::to_string(::getpid())
                        + ".jsonl");
  std::filesystem::remove(events_file);
  auto node = start_node("local", "healthy", {},
                         {"CAFLENS_CLUSTER_TOKEN=t0k3n",
                          "CAFLENS_EVENTS_FILE=" + events_file.string()});
  CAF_REQUIRE(node.pid > 0);
  // Reached as a coordinator reaches it: through CAF's middleman.
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto agent = sys.middleman().remote_actor<actors::node_agent_actor>(
    "127.0.0.1", node.port);
  CAF_REQUIRE(agent);
  caf::scoped_actor self{sys};
  std::string text;
  actors::node_hello h;
  h.protocol_version = 99;
  h.token = "t0k3n";
  h.node = "future";
  self->request(*agent, 5s, h)
    .receive([](actors::node_welcome&) { CAF_FAIL("accepted version 99"); },
             [&](caf::error& err) { text = render_error(err); });
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("handshake_refused") != std::string::npos);
  CAF_CHECK(text.find("node 'local' refused node 'future': caflens protocol "
                      "version 99 offered, this node speaks version 1")
            != std::string::npos);
  actors::remote_invoke inv;
  inv.session = "not-a-session";
  inv.spec.skill = "actors";
  inv.spec.deadline_at
    = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count()
      + 10'000;
  self->request(*agent, 5s, inv)
    .receive([](bool) { CAF_FAIL("ran an operator without a session"); },
             [&](caf::error& err) { text = render_error(err); });
  CAF_CHECK(text.find("unknown session") != std::string::npos);
  // The right version and token get a session.
  h.protocol_version = cluster_protocol_version;
  self->request(*agent, 5s, h)
    .receive([&](actors::node_welcome& w) {
               CAF_CHECK_EQUAL(w.node, "local");
               CAF_CHECK_EQUAL(w.session.size(), 32u);
             },
             [](caf::error& err) { CAF_FAIL(render_error(err)); });
  node.stop();
  // Only the handshake that passed was accepted.
  std::ifstream in{events_file};
  std::vector<std::string> accepted;
  for (std::string line; std::getline(in, line);)
    if (line.find("\"caflens.node.accepted\"") != std::string::npos)
      accepted.push_back(line);
  CAF_REQUIRE_EQUAL(accepted.size(), 1u);
  CAF_CHECK(accepted[0].find("\"node\":\"future\"") != std::string::npos);
  CAF_CHECK(accepted[0].find("t0k3n") == std::string::npos);
  std::filesystem::remove(events_file);
}

CAF_TEST(tls links work and a plain text peer is refused) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path()
             / ("caflens-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto d = dir.string();
  auto run = [](const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  };
  CAF_REQUIRE(run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + d
                  + "/ca.key -out " + d + "/ca.pem -days 2 -subj "
                    "/CN=caflens-test-ca"));
  for (auto name : {"node", "coord"}) {
    auto n = d + "/" + name;
    CAF_REQUIRE(run("openssl req -newkey rsa:2048 -nodes -keyout " + n
                    + ".key -out " + n + ".csr -subj /CN=127.0.0.1"));
    CAF_REQUIRE(run("openssl x509 -req -in " + n + ".csr -CA " + d
                    + "/ca.pem -CAkey " + d + "/ca.key -CAcreateserial -out "
                    + n + ".pem -days 2"));
  }
  auto a = start_node("alpha", "healthy",
                      {"--tls-cert", d + "/node.pem", "--tls-key",
                       d + "/node.key", "--tls-ca", d + "/ca.pem"});
  CAF_REQUIRE(a.pid > 0);
  {
    coordinator co{{address(a)},
                   {},
                   {{"openssl.certificate", d + "/coord.pem"},
                    {"openssl.key", d + "/coord.key"},
                    {"openssl.cafile", d + "/ca.pem"}}};
    CAF_REQUIRE(!co.error);
    CAF_REQUIRE(co.wait_connected(1));
    auto r = co.lens.investigate("check over TLS", quick());
    CAF_REQUIRE(r);
    CAF_CHECK(operator_nodes(*r) == std::set<std::string>{"alpha"});
    CAF_CHECK(!r->partial);
  }
  {
    coordinator plain{{address(a)}};
    CAF_REQUIRE(!plain.error);
    // Never connected; the handshake fails or times out.
    CAF_CHECK(plain.wait_for([](const std::vector<node_info>& xs) {
      return xs.size() == 1
             && (xs[0].state == node_state::unreachable
                 || xs[0].state == node_state::refused);
    }));
    CAF_MESSAGE(plain.info(address(a))->error);
    std::this_thread::sleep_for(500ms);
    CAF_CHECK(plain.info(address(a))->state != node_state::connected);
  }
  a.stop();
  fs::remove_all(dir);
}
