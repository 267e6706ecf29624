// A model server for tests that behaves like a model: it serves the
// Anthropic Messages and the OpenAI Chat Completions protocols on 127.0.0.1
// and derives every tool call from what it is sent (the system prompt's
// pattern table, the tools on offer, the results of earlier calls). It keeps
// no conversation state of its own: each reply is a function of the request.
//
// Operators: take_snapshot, the looks the snapshot's plan asks for (wait in
// between), a recheck of suspects, one send_notification per finding (up to
// three per turn), set_state, a final text. Coordinators: invoke_operators
// with every offered skill, wait until no operator runs, get_notifications,
// one produce_insight per pattern (from the prompt's table; a type in no
// pattern is its own), a final text. A forced tool (tool_choice) is obeyed.
//
// A request with `stream: true` gets the same reply as server-sent events in
// the provider's streaming shape (Anthropic message_start ... message_stop;
// OpenAI chunks with deltas, a usage chunk when `stream_options.include_usage`
// asks for it, `[DONE]`), text and tool arguments split into small pieces.
//
// Faults for the resilience tests are set per server (see `model_faults`).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
} // namespace httplib

/// What goes wrong, counted over all requests (1-based request numbers).
struct model_faults {
  /// Requests error_burst_from .. error_burst_from + error_burst - 1 fail
  /// with `error_status` (a provider-shaped error body).
  int error_burst = 0;
  int error_burst_from = 1;
  int error_status = 500;
  /// From this request on, every request fails with 402 / insufficient
  /// quota (0: never).
  int quota_from = 0;
  /// From this request on, requests hang until the server stops (0: never).
  int hang_from = 0;
  /// The coordinator never finishes: it thinks forever, even when a tool is
  /// forced (a model that ignores tool_choice).
  bool coordinator_never_done = false;
  /// Operators never finish: after their first look they wait forever.
  bool operator_never_done = false;
  /// Every reply takes this long (a slow model), in milliseconds.
  int delay_ms = 0;
  /// From this request on, tool calls are broken: an unknown tool and
  /// arguments that are not JSON, alternately (0: never).
  int malformed_from = 0;
  /// Streamed replies (`stream: true`): the pause between two events, in
  /// milliseconds (a model that writes slowly).
  int stream_event_ms = 0;
  /// From this request on, a streamed reply sends its first two events and
  /// then nothing more (the connection stays open) until the server stops
  /// or 120 s pass (0: never); `stall_count` such requests (0: all).
  int stall_from = 0;
  int stall_count = 0;
};

/// What the server saw.
struct model_stats {
  int requests = 0;
  int coordinator_requests = 0;
  int operator_requests = 0;
  int faults_served = 0;
  /// Requests answered as a stream of server-sent events.
  int streamed = 0;
  /// Bytes of request bodies, and of the largest one.
  size_t request_bytes = 0;
  size_t max_request_bytes = 0;
  /// Requests that broke the protocol (wrong path, missing fields, a tool
  /// result answering no call).
  std::vector<std::string> violations;
};

class plausible_model {
public:
  /// Binds 127.0.0.1 on `port` (0: ephemeral) and serves.
  explicit plausible_model(int port = 0);
  ~plausible_model();

  plausible_model(const plausible_model&) = delete;
  plausible_model& operator=(const plausible_model&) = delete;

  int port() const noexcept { return port_; }

  /// Anthropic base URL.
  std::string base_url() const;

  /// OpenAI-compatible base URL.
  std::string openai_base_url() const;

  void faults(model_faults x);

  model_stats stats() const;

  /// The decision for one request body of either protocol (`path` picks
  /// the protocol); exposed for unit tests of the policy. Returns the
  /// response body.
  std::string reply(const std::string& path, const nlohmann::json& body);

private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  model_faults faults_;
  model_stats stats_;
};
