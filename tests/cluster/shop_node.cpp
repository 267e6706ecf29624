// A two-process shop that is not the demo: "checkout" on one node charges
// every order through "ledger" on another node, which is too slow for the
// traffic. Each process embeds a lens whose node agent listens.
//
//   caflens-shop-node --role ledger                  (prints "app HOST:PORT")
//   caflens-shop-node --role checkout --ledger HOST:PORT
//
// Both print "listening HOST:PORT" (the node agent) and run until SIGTERM.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/io/middleman.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/tracked.hpp"

using namespace std::chrono_literals;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

std::string arg(int argc, char** argv, const std::string& name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name)
      return argv[i + 1];
  return {};
}

} // namespace

int main(int argc, char** argv) {
  auto role = arg(argc, argv, "--role");
  if (role != "ledger" && role != "checkout") {
    std::cerr << "usage: caflens-shop-node --role ledger|checkout "
                 "[--ledger HOST:PORT] [--name NAME]\n";
    return 2;
  }
  auto name = arg(argc, argv, "--name");
  if (name.empty())
    name = role + "-node";
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  caflens::config lcfg;
  lcfg.node_name = name;
  lcfg.cluster.listen = true;
  auto logs = std::make_shared<caflens::skills::log_buffer>();
  lcfg.logs = logs;
  caf::actor app;
  if (role == "ledger") {
    // Books one charge in ~10 ms (a slow disk): about 100 a second.
    app = caflens::skills::spawn_tracked<caf::detached>(
      sys, {"ledger", "ledger", 0}, [](caf::event_based_actor*) {
        return caf::behavior{[](int64_t order) {
          std::this_thread::sleep_for(10ms);
          return order;
        }};
      });
    auto port = sys.middleman().publish(app, 0, "127.0.0.1", true);
    if (!port) {
      std::cerr << "cannot publish the ledger\n";
      return 1;
    }
    std::cout << "app 127.0.0.1:" << *port << std::endl;
  } else {
    auto where = arg(argc, argv, "--ledger");
    std::string host;
    uint16_t port = 0;
    if (!caflens::parse_address(where, host, port)) {
      std::cerr << "--ledger HOST:PORT\n";
      return 2;
    }
    auto ledger = sys.middleman().remote_actor(host, port);
    if (!ledger) {
      std::cerr << "cannot reach the ledger at " << where << '\n';
      return 1;
    }
    // 500 orders a second, each charged through the ledger within 300 ms.
    app = caflens::skills::spawn_tracked(
      sys, {"checkout", "checkout", 0},
      [logs](caf::event_based_actor* self, caf::actor ledger) {
        auto order = std::make_shared<int64_t>(0);
        self->send(self, tick_atom::value);
        return caf::behavior{[=](tick_atom) {
          for (int i = 0; i < 10; ++i) {
            auto id = ++*order;
            self->request(ledger, 300ms, id)
              .then([](int64_t) {},
                    [logs, id](caf::error&) {
                      logs->append("error", "checkout",
                                   "charge of order " + std::to_string(id)
                                     + " failed: ledger did not answer "
                                       "within 300 ms");
                    });
          }
          self->delayed_send(self, 20ms, tick_atom::value);
        }};
      },
      *ledger);
  }
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  std::cout << "listening 127.0.0.1:" << lens->node_port() << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  caf::anon_send_exit(app, caf::exit_reason::user_shutdown);
  lens->stop();
  return 0;
}
