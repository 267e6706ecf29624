// `caflens serve`: the live dashboard of running nodes, served from this
// process (its lens attaches to their agents); and the signal wait that
// `caflens demo --dashboard` shares.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "caflens/dashboard/dashboard.hpp"
#include "caflens/telemetry/error.hpp"

#include "commands.hpp"

namespace caflens::cli {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) {
  stop_requested = 1;
}

} // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

void wait_for_stop_signal() {
  install_stop_handlers();
  while (stop_requested == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int run_serve(const serve_options& opts) {
  dashboard::options dopts;
  if (auto err = dashboard::parse_listen(opts.listen, dopts)) {
    std::cerr << "caflens serve: " << render_error(err) << '\n';
    return exit_code::usage;
  }
  dopts.token = opts.token;
  if (!dashboard::is_loopback(dopts.host) && dopts.token.empty()) {
    std::cerr << "caflens serve: --listen " << opts.listen
              << " is not loopback: give --token (or "
                 "CAFLENS_DASHBOARD_TOKEN)\n";
    return exit_code::usage;
  }
  if (auto* dir = std::getenv("CAFLENS_DASHBOARD_WEB_DIR"))
    dopts.web_dir = dir;
  auto attached = attached_lens::start("dashboard", opts.nodes, opts.tls);
  if (!attached) {
    std::cerr << "caflens serve: " << to_string(attached.error()) << '\n';
    return exit_code::failure;
  }
  auto& lens = (*attached)->lens();
  for (auto& n : lens.cluster()) {
    std::cerr << "caflens serve: " << n.address << ' '
              << (n.name.empty() ? "" : "(" + n.name + ") ")
              << to_string(n.state) << (n.error.empty() ? "" : ": " + n.error)
              << '\n';
    if (dopts.node.empty() && n.state == node_state::connected)
      dopts.node = n.name;
  }
  if ((*attached)->connected() == 0) {
    std::cerr << "caflens serve: no node connected\n";
    return exit_code::failure;
  }
  auto dash = dashboard::server::start(lens, dopts);
  if (!dash) {
    std::cerr << "caflens serve: " << render_error(dash.error()) << '\n';
    return exit_code::failure;
  }
  std::cerr << "caflens serve: dashboard: " << dash->url() << '\n'
            << "caflens serve: Ctrl-C stops it" << std::endl;
  wait_for_stop_signal();
  dash->stop();
  return exit_code::ok;
}

} // namespace caflens::cli
