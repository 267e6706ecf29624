// Helpers shared by the llm test suites: paths, the wire kit's tools, and a
// loopback mock provider (cpp-httplib) that plays scripted replies and
// records what it receives.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caflens/llm/client.hpp"
#include "caflens/llm/tool_definition.hpp"

namespace httplib {
class Server;
} // namespace httplib

/// The wire kit directory (fails loudly when absent).
std::string wire_kit_dir();

/// tests/llm/fixtures.
std::string fixtures_dir();

std::string read_file(const std::string& path);

nlohmann::json read_json(const std::string& path);

/// get_weather and get_time exactly as in the wire kit's tools.json.
caflens::llm::tool_set kit_tools();

/// One scripted reply of the mock provider.
struct mock_reply {
  enum class action { respond, truncate, hang };
  action act = action::respond;
  int status = 200;
  std::string body;
  std::vector<caflens::llm::http_header> headers;
  size_t truncate_at = 0;
  /// Answer after this long (a slow model).
  std::chrono::milliseconds delay{0};

  static mock_reply json(int status, std::string body,
                         std::vector<caflens::llm::http_header> headers = {});
  /// A kit fixture (body + status + headers from NAME.meta.json).
  static mock_reply fixture(const std::string& name);
  static mock_reply truncated(std::string body, size_t at);
  static mock_reply hang();
};

/// One request the mock received.
struct received_request {
  std::string path;
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;
  nlohmann::json json; // discarded value when the body is not JSON
};

/// A provider on 127.0.0.1 with an ephemeral port that serves
/// POST /v1/messages and POST /v1/chat/completions from per-route scripts
/// (the last reply repeats). Thread-safe.
class mock_provider {
public:
  mock_provider();
  ~mock_provider();

  int port() const noexcept { return port_; }

  /// "http://127.0.0.1:PORT" (Anthropic base URL).
  std::string base_url() const;

  /// "http://127.0.0.1:PORT/v1" (OpenAI-compatible base URL).
  std::string openai_base_url() const;

  void script(const std::string& path, std::vector<mock_reply> replies);

  std::vector<received_request> requests(const std::string& path = {}) const;

  /// The most requests the mock was serving at once.
  int max_in_flight() const;

private:
  mock_reply next(const std::string& path);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::map<std::string, std::vector<mock_reply>> scripts_;
  std::map<std::string, size_t> counters_;
  std::vector<received_request> received_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
};

/// A port on 127.0.0.1 with nothing listening (connection refused).
int unused_port();

/// A client config for the mock: short timeouts, fast retries.
caflens::llm::client_config mock_config(const std::string& name,
                                        caflens::llm::provider_kind kind,
                                        const std::string& base_url);

/// Services with a manual clock, fixed jitter seed and a fake environment
/// that holds TEST_LLM_KEY = the given key.
caflens::llm::client_services
mock_services(std::shared_ptr<caflens::llm::clock> clk,
              std::string key = "sk-test-key-0123456789abcdef");
