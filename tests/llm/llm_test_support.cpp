#include "llm_test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <httplib.h>

using namespace caflens::llm;

std::string wire_kit_dir() {
  std::string dir = CAFLENS_LLM_WIRE_KIT_DIR;
  std::ifstream probe{dir + "/scenarios.json"};
  if (!probe) {
    fprintf(stderr,
            "FATAL: the LLM wire kit is missing at %s (expected "
            "../shared/llm-wire-kit beside the repository; configure with "
            "-DCAFLENS_LLM_WIRE_KIT_DIR=...)\n",
            dir.c_str());
    abort();
  }
  return dir;
}

std::string fixtures_dir() {
  return CAFLENS_LLM_FIXTURES_DIR;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

tool_set kit_tools() {
  using p = tool_parameter;
  return tool_set{
    tool_definition{
      "get_weather",
      "Lookup the weather for a given city in either celsius or fahrenheit",
      {p::string("location", "The city and state, e.g. San Francisco, CA")
         .title("Location"),
       p::string("units",
                 "Unit for the output, either 'c' for celsius or 'f' for "
                 "fahrenheit")
         .title("Units")
         .one_of({"c", "f"})}},
    tool_definition{
      "get_time",
      "Get the current local time in a given IANA time zone",
      {p::string("timezone", "IANA time zone name, e.g. America/Los_Angeles")}},
  };
}

mock_reply mock_reply::json(int status, std::string body,
                            std::vector<http_header> headers) {
  mock_reply result;
  result.status = status;
  result.body = std::move(body);
  result.headers = std::move(headers);
  return result;
}

mock_reply mock_reply::fixture(const std::string& name) {
  auto dir = wire_kit_dir() + "/fixtures/";
  auto meta = read_json(dir + name + ".meta.json");
  mock_reply result;
  result.status = meta.value("status", 200);
  auto body_file = meta.value("body_file", name + ".json");
  result.body = read_file(dir + body_file);
  auto headers = meta.value("headers", nlohmann::json::object());
  for (auto& [k, v] : headers.items())
    result.headers.emplace_back(k, v.get<std::string>());
  return result;
}

mock_reply mock_reply::truncated(std::string body, size_t at) {
  mock_reply result;
  result.act = action::truncate;
  result.body = std::move(body);
  result.truncate_at = at;
  return result;
}

mock_reply mock_reply::hang() {
  mock_reply result;
  result.act = action::hang;
  return result;
}

mock_provider::mock_provider()
  : server_(std::make_unique<httplib::Server>()) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    received_request rec;
    rec.path = req.path;
    for (auto& [k, v] : req.headers) {
      std::string key = k;
      for (auto& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      rec.headers[key] = v;
    }
    rec.body = req.body;
    rec.json = nlohmann::json::parse(req.body, nullptr, false);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      received_.push_back(rec);
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
    }
    struct leave {
      mock_provider* self;
      ~leave() {
        std::lock_guard<std::mutex> guard{self->mtx_};
        --self->in_flight_;
      }
    } leaving{this};
    auto reply = next(req.path);
    if (reply.delay.count() > 0) {
      std::unique_lock<std::mutex> guard{mtx_};
      stop_cv_.wait_for(guard, reply.delay, [this] { return stopping_; });
    }
    switch (reply.act) {
      case mock_reply::action::hang: {
        // Never answer; wake up when the test ends (the client gives up
        // long before that).
        std::unique_lock<std::mutex> guard{mtx_};
        stop_cv_.wait_for(guard, std::chrono::seconds{30},
                          [this] { return stopping_; });
        res.status = 500;
        return;
      }
      case mock_reply::action::truncate: {
        res.status = 200;
        auto body = std::make_shared<std::string>(reply.body);
        auto at = reply.truncate_at;
        res.set_content_provider(
          body->size(), "application/json",
          [body, at](size_t, size_t, httplib::DataSink& sink) {
            sink.write(body->data(), at);
            return false; // abort: the connection closes mid-body
          });
        return;
      }
      case mock_reply::action::respond:
        break;
    }
    res.status = reply.status;
    std::string ctype = "application/json";
    for (auto& [k, v] : reply.headers) {
      if (k == "content-type")
        ctype = v;
      else
        res.set_header(k.c_str(), v);
    }
    res.set_content(reply.body, ctype.c_str());
  };
  server_->Post("/v1/messages", handler);
  server_->Post("/v1/chat/completions", handler);
  // The accept loop polls, so `stop()` always ends it (a blocking accept on a
  // closed and reused descriptor could otherwise hang the destructor).
  server_->set_idle_interval(0, 50000);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0)
    throw std::runtime_error("mock_provider: cannot bind 127.0.0.1");
  thread_ = std::thread{[this] { server_->listen_after_bind(); }};
  // `stop()` is a no-op before the loop runs: wait until it does.
  while (!server_->is_running())
    std::this_thread::yield();
  // bind_to_any_port already listens: connections queue until the loop runs.
}

mock_provider::~mock_provider() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  if (thread_.joinable())
    thread_.join();
}

int mock_provider::max_in_flight() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return max_in_flight_;
}

std::string mock_provider::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string mock_provider::openai_base_url() const {
  return base_url() + "/v1";
}

void mock_provider::script(const std::string& path,
                           std::vector<mock_reply> replies) {
  std::lock_guard<std::mutex> guard{mtx_};
  scripts_[path] = std::move(replies);
  counters_[path] = 0;
}

mock_reply mock_provider::next(const std::string& path) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = scripts_.find(path);
  if (i == scripts_.end() || i->second.empty())
    return mock_reply::json(404, R"({"error":{"message":"no script"}})");
  auto n = counters_[path]++;
  return i->second[std::min(n, i->second.size() - 1)];
}

std::vector<received_request>
mock_provider::requests(const std::string& path) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (path.empty())
    return received_;
  std::vector<received_request> result;
  for (auto& r : received_)
    if (r.path == path)
      result.push_back(r);
  return result;
}

int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd); // nothing listens there any more
  return ntohs(addr.sin_port);
}

client_config mock_config(const std::string& name, provider_kind kind,
                          const std::string& base_url) {
  client_config cfg;
  cfg.name = name;
  cfg.provider = kind;
  cfg.base_url = base_url;
  cfg.model = kind == provider_kind::anthropic ? "claude-haiku-4-5" : "gpt-4o";
  cfg.api_key_env = "TEST_LLM_KEY";
  cfg.connect_timeout = std::chrono::milliseconds{1000};
  cfg.read_timeout = std::chrono::milliseconds{2000};
  cfg.max_tokens = 1024;
  cfg.price_input_per_million = 1.0;
  cfg.price_output_per_million = 5.0;
  cfg.retry.max_attempts = 3;
  cfg.retry.initial_backoff = std::chrono::milliseconds{100};
  cfg.retry.max_backoff = std::chrono::milliseconds{1000};
  return cfg;
}

client_services mock_services(std::shared_ptr<caflens::llm::clock> clk,
                              std::string key) {
  client_services svc;
  svc.clock = std::move(clk);
  svc.seed = 42;
  svc.getenv = [key](const std::string& name) -> std::optional<std::string> {
    if (name == "TEST_LLM_KEY")
      return key;
    return std::nullopt;
  };
  return svc;
}
