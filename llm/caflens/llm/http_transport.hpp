#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caf/expected.hpp"

namespace caflens::llm {

using http_header = std::pair<std::string, std::string>;

/// One POST request.
struct http_request {
  std::string url;
  std::vector<http_header> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds read_timeout{120000};
  /// The whole exchange's limit; unset: connect + read timeout.
  std::optional<std::chrono::milliseconds> total_timeout;
  /// Polled during the transfer; true aborts it (`cancelled`).
  std::function<bool()> cancelled;
  /// Called with every piece of the response body as it arrives (a
  /// streamed reply); the body is accumulated in the response all the same.
  std::function<void(std::string_view)> on_data;
  /// Aborts the transfer (`stalled`) when the response, once its first
  /// body byte arrived, sends nothing for this long (a streamed reply that
  /// stopped flowing). The wait for the first byte is bounded by the
  /// timeouts only. Unset: off.
  std::optional<std::chrono::milliseconds> stall_timeout;
};

/// One response; header names are lower case.
struct http_response {
  int status = 0;
  std::vector<http_header> headers;
  std::string body;

  /// The first header named `name` (lower case).
  std::optional<std::string> header(std::string_view name) const;
};

/// Sends HTTP requests. Transport failures come back as `connection_failed`,
/// `timeout`, `stalled`, `cancelled` or `transport_error` with curl's code
/// and text in the context.
/// Implementations are thread-safe.
class http_transport {
public:
  virtual ~http_transport();

  virtual caf::expected<http_response> post(const http_request& req) = 0;

  /// The libcurl transport (one easy handle per request).
  static std::shared_ptr<http_transport> make_curl();
};

} // namespace caflens::llm
