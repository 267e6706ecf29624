#include "caflens/llm/recording.hpp"

#include <fstream>
#include <sstream>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

using json = nlohmann::json;

void recording::add(exchange x) {
  std::lock_guard<std::mutex> guard{mtx_};
  exchanges_.push_back(std::move(x));
}

void recording::add(decision x) {
  std::lock_guard<std::mutex> guard{mtx_};
  decisions_.push_back(std::move(x));
}

std::vector<exchange> recording::exchanges() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return exchanges_;
}

std::vector<decision> recording::decisions() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return decisions_;
}

json to_json(const exchange& x) {
  json hdrs = json::object();
  for (auto& [k, v] : x.response_headers)
    hdrs[k] = v;
  return {{"client", x.client},
          {"provider", x.provider},
          {"model", x.model},
          {"url", x.url},
          {"trace_id", x.trace_id},
          {"loop", x.loop},
          {"iteration", x.iteration},
          {"attempt", x.attempt},
          {"request", x.request},
          {"status", x.status},
          {"response_headers", std::move(hdrs)},
          {"response_body", x.response_body},
          {"error_code", x.error_code},
          {"error_text", x.error_text},
          {"latency_ms", x.latency_ms}};
}

caf::expected<exchange> exchange_from_json(const json& x) {
  try {
    if (!x.is_object())
      return detail::llm_error(llm_errc::invalid_argument,
                               "exchange: expected an object");
    exchange e;
    e.client = x.value("client", "");
    e.provider = x.value("provider", "");
    e.model = x.value("model", "");
    e.url = x.value("url", "");
    e.trace_id = x.value("trace_id", "");
    e.loop = x.value("loop", "");
    e.iteration = x.value("iteration", int64_t{0});
    e.attempt = x.value("attempt", 1);
    e.request = x.value("request", json{});
    e.status = x.value("status", 0);
    auto headers = x.value("response_headers", json::object());
    for (auto& [k, v] : headers.items())
      e.response_headers.emplace_back(k, v.get<std::string>());
    e.response_body = x.value("response_body", "");
    e.error_code = x.value("error_code", 0);
    e.error_text = x.value("error_text", "");
    e.latency_ms = x.value("latency_ms", int64_t{0});
    return e;
  } catch (const std::exception& ex) {
    return detail::llm_error(llm_errc::invalid_argument,
                             std::string{"exchange: malformed: "} + ex.what());
  }
}

json recording::to_json() const {
  std::lock_guard<std::mutex> guard{mtx_};
  json xs = json::array();
  for (auto& x : exchanges_)
    xs.push_back(llm::to_json(x));
  json ds = json::array();
  for (auto& d : decisions_)
    ds.push_back({{"trace_id", d.trace_id},
                  {"loop", d.loop},
                  {"iteration", d.iteration},
                  {"call", llm::to_json(d.call)}});
  return {
    {"version", 1}, {"exchanges", std::move(xs)}, {"decisions", std::move(ds)}};
}

caf::expected<std::shared_ptr<recording>>
recording::from_json(const json& doc) {
  try {
    auto result = std::make_shared<recording>();
    if (!doc.is_object() || doc.value("version", 0) != 1)
      return detail::llm_error(llm_errc::invalid_argument,
                               "recording: expected an object with version 1");
    for (auto& x : doc.value("exchanges", json::array())) {
      auto e = exchange_from_json(x);
      if (!e)
        return std::move(e.error());
      result->exchanges_.push_back(std::move(*e));
    }
    for (auto& d : doc.value("decisions", json::array()))
      result->decisions_.push_back(
        {d.value("trace_id", ""), d.value("iteration", int64_t{0}),
         tool_call_from_json(d.at("call")), d.value("loop", "")});
    return result;
  } catch (const std::exception& ex) {
    return detail::llm_error(llm_errc::invalid_argument,
                             std::string{"recording: malformed: "} + ex.what());
  }
}

caf::error recording::save(const std::string& path) const {
  std::ofstream out{path};
  if (!out)
    return detail::llm_error(llm_errc::invalid_argument,
                             "recording: cannot write " + path);
  out << to_json().dump(2) << '\n';
  return caf::none;
}

caf::expected<std::shared_ptr<recording>>
recording::load(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return detail::llm_error(llm_errc::invalid_argument,
                             "recording: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded())
    return detail::llm_error(llm_errc::invalid_argument,
                             "recording: " + path + " is not valid JSON");
  return from_json(doc);
}

replay_transport::replay_transport(std::shared_ptr<const recording> rec,
                                   bool strict)
  : exchanges_(rec ? rec->exchanges() : std::vector<exchange>{})
  , strict_(strict) {}

caf::expected<http_response> replay_transport::post(const http_request& req) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (next_ >= exchanges_.size())
    return detail::llm_error(
      llm_errc::replay_mismatch,
      "replay: recording has only " + std::to_string(exchanges_.size()) +
        " exchanges; request " + std::to_string(next_ + 1) + " has none");
  auto& x = exchanges_[next_++];
  if (strict_) {
    // Hosts and ports differ between runs; the path and the body may not.
    auto path_of = [](const std::string& url) {
      auto scheme = url.find("://");
      auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      return slash == std::string::npos ? std::string{} : url.substr(slash);
    };
    auto body = json::parse(req.body, nullptr, false);
    if (path_of(x.url) != path_of(req.url) || body != x.request)
      return detail::llm_error(llm_errc::replay_mismatch,
                               "replay: request " + std::to_string(next_) +
                                 " to " + req.url +
                                 " differs from the recorded one to " + x.url);
  }
  if (x.error_code != 0)
    return detail::llm_error(static_cast<llm_errc>(x.error_code), x.error_text);
  http_response resp;
  resp.status = x.status;
  resp.headers = x.response_headers;
  resp.body = x.response_body;
  return resp;
}

size_t replay_transport::served() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return next_;
}

} // namespace caflens::llm
