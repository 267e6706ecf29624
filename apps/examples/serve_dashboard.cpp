// Serving the live dashboard from the application that holds the lens: an
// HTTP server on 127.0.0.1 (a free port) whose pages show this process's
// actors, supervision trees, metrics, alerts, logs and investigations.
//
//   build/apps/examples/serve_dashboard [SECONDS]
//
// Serves for SECONDS (default 2; open the printed URL in a browser), asks
// its own /api/overview once to show that it answers, and stops.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/dashboard/dashboard.hpp"
#include "caflens/skills/tracked.hpp"

namespace {

// GET http://127.0.0.1:<port><path>: the body ("" on failure). Only here to
// show that the dashboard answers; a browser is the dashboard's client.
std::string http_get(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (fd >= 0
      && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    auto req = "GET " + path
               + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    }
  }
  if (fd >= 0)
    ::close(fd);
  auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? std::string{} : out.substr(body + 4);
}

} // namespace

int main(int argc, char** argv) {
  auto seconds = argc > 1 ? std::atoi(argv[1]) : 2;
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto lens = caflens::start(sys);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  // Something to look at: a tracked actor.
  auto echo = caflens::skills::spawn_tracked(
    sys, {"echo", "echo", 0}, [](caf::event_based_actor*) -> caf::behavior {
      return {[](const std::string& x) { return x; }};
    });

  caflens::dashboard::options opts; // 127.0.0.1, port 0: a free one
  opts.sample_interval = std::chrono::milliseconds{500}; // charts' resolution
  auto dash = caflens::dashboard::server::start(*lens, opts);
  if (!dash) {
    std::cerr << caflens::render_error(dash.error()) << '\n';
    return 1;
  }
  std::cout << "dashboard: " << dash->url() << std::endl;

  auto overview = http_get(dash->port(), "/api/overview");
  std::cout << "GET /api/overview: " << overview << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  dash->stop(); // also when `dash` is destroyed
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  lens->stop();
  return overview.empty() ? 1 : 0;
}
