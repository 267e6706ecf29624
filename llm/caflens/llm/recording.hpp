#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

#include "caflens/llm/http_transport.hpp"
#include "caflens/llm/message.hpp"

namespace caflens::llm {

/// One HTTP exchange of a client, as recorded: the (redacted) request body,
/// the response (redacted) or the transport error. Headers are never
/// recorded except those that steer retries.
struct exchange {
  std::string client;
  std::string provider;
  std::string model;
  std::string url;
  std::string trace_id;
  int64_t iteration = 0;
  int attempt = 1;
  nlohmann::json request;
  /// 0 when the transport failed.
  int status = 0;
  /// content-type, retry-after, retry-after-ms, x-should-retry.
  std::vector<http_header> response_headers;
  std::string response_body;
  /// The llm_errc of a transport failure (0 = none) and its text.
  int error_code = 0;
  std::string error_text;
  int64_t latency_ms = 0;
  /// The loop that asked (`completion_request::loop`): "coordinator",
  /// "operator:<skill>", with "#summary" for a compaction call; "" when
  /// unlabelled.
  std::string loop;
};

/// The JSON of `x` as `recording::to_json` writes each exchange.
nlohmann::json to_json(const exchange& x);

/// Reads `to_json`'s shape; missing fields keep their defaults. Error:
/// `invalid_argument` for a field of the wrong type.
caf::expected<exchange> exchange_from_json(const nlohmann::json& x);

/// One decision of a brain: the tool call it returned.
struct decision {
  std::string trace_id;
  int64_t iteration = 0;
  tool_call call;
  /// The loop that decided (see `exchange::loop`).
  std::string loop;
};

/// Called with every exchange of a client (see `client_services` and
/// `client_registry::observe`), in the calling thread: keep it cheap.
using exchange_observer = std::function<void(const exchange&)>;

/// Everything an investigation sent and received, replayable: exchanges feed
/// a `replay_transport`, decisions a `scripted_brain`. Thread-safe.
class recording {
public:
  void add(exchange x);

  void add(decision x);

  std::vector<exchange> exchanges() const;

  std::vector<decision> decisions() const;

  nlohmann::json to_json() const;

  static caf::expected<std::shared_ptr<recording>>
  from_json(const nlohmann::json& doc);

  /// Writes `to_json()` to `path`.
  caf::error save(const std::string& path) const;

  static caf::expected<std::shared_ptr<recording>>
  load(const std::string& path);

private:
  mutable std::mutex mtx_;
  std::vector<exchange> exchanges_;
  std::vector<decision> decisions_;
};

/// A transport that answers from a recording, in order, without network:
/// responses, statuses and transport errors come back exactly as recorded.
/// With `strict`, each request's URL path and body must equal the recorded
/// ones (hosts and ports may differ; else
/// `replay_mismatch`). Running out of exchanges is `replay_mismatch`.
/// Thread-safe.
class replay_transport : public http_transport {
public:
  explicit replay_transport(std::shared_ptr<const recording> rec,
                            bool strict = true);

  caf::expected<http_response> post(const http_request& req) override;

  /// Exchanges served so far.
  size_t served() const;

private:
  std::vector<exchange> exchanges_;
  bool strict_;
  mutable std::mutex mtx_;
  size_t next_ = 0;
};

} // namespace caflens::llm
