// The live dashboard: an HTTP server inside the process that holds the lens
// (cpp-httplib), its pages embedded at build time, live over server-sent
// events. See dashboard/API.md for the HTTP API.
//
//   auto dash = caflens::dashboard::server::start(lens, {});
//   if (dash) std::cout << "dashboard: " << dash->url() << '\n';
//
// It reads what the skills' sandbox callbacks read (never an operator's
// snapshot history, so looking never changes what an investigation sees),
// the store (`config.store`) and the telemetry bus. 127.0.0.1 by default;
// bound elsewhere it requires a token.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include "caflens/caflens.hpp"

namespace caflens::dashboard {

struct options {
  /// The address to bind. Anything but a loopback address needs `token`.
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t port = 0;
  /// Required on every request when set (Bearer header, or the cookie that
  /// `/?token=` sets); compared in constant time. Never logged.
  std::string token;
  /// How often the chart history is sampled (>= 100 ms).
  std::chrono::milliseconds sample_interval{1000};
  /// Points kept per series (>= 10): 600 at 1 s is ten minutes.
  size_t history_points = 600;
  /// The node the pages show unless they ask for another (default: this
  /// one; `caflens serve` shows the first node it attached to).
  std::string node;
  /// Serve index.html, app.js and app.css from this directory instead of
  /// the embedded copies (developing the pages); empty: embedded.
  std::string web_dir;
};

/// Parses "host:port", ":port" or "port" (host 127.0.0.1) into `opts`.
caf::error parse_listen(const std::string& text, options& opts);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host) noexcept;

class server {
public:
  server() noexcept;
  server(server&&) noexcept;
  server& operator=(server&&) noexcept;
  ~server();

  /// Binds and starts serving `lens`. Errors: `invalid_config` (a
  /// non-loopback host without a token, bad intervals), `network_error`
  /// (cannot listen).
  static caf::expected<server> start(caflens::lens lens, options opts = {});

  /// The bound port (0 when stopped).
  uint16_t port() const noexcept;

  /// "http://HOST:PORT/".
  std::string url() const;

  /// Ends the live streams, stops serving and sampling, waits for a
  /// dashboard-started investigation's thread (cancelling it). Idempotent.
  void stop();

  explicit operator bool() const noexcept {
    return impl_ != nullptr;
  }

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace caflens::dashboard
