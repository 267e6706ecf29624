#include "caflens/llm/http_transport.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>

#include <curl/curl.h>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

std::optional<std::string> http_response::header(std::string_view name) const {
  for (auto& [key, val] : headers)
    if (key == name)
      return val;
  return std::nullopt;
}

http_transport::~http_transport() = default;

namespace {

/// One exchange's state, shared by curl's callbacks.
struct transfer {
  const http_request* req;
  http_response* resp;
  std::chrono::steady_clock::time_point last_byte;
  curl_off_t bytes = 0;
  bool stalled = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<transfer*>(user);
  x->resp->body.append(data, size * n);
  if (x->req->on_data) {
    try { // no exception may cross curl's C frames
      x->req->on_data(std::string_view{data, size * n});
    } catch (...) {
      return 0; // aborts the transfer (CURLE_WRITE_ERROR)
    }
  }
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* resp = static_cast<http_response*>(user);
  std::string_view line{data, size * n};
  if (line.rfind("HTTP/", 0) == 0) {
    resp->headers.clear(); // a new response (e.g. after 100 Continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return size * n;
  std::string key{line.substr(0, colon)};
  for (auto& c : key)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto val = line.substr(colon + 1);
  while (!val.empty() && std::isspace(static_cast<unsigned char>(val.front())))
    val.remove_prefix(1);
  while (!val.empty() && std::isspace(static_cast<unsigned char>(val.back())))
    val.remove_suffix(1);
  resp->headers.emplace_back(std::move(key), std::string{val});
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t,
                curl_off_t) {
  auto* x = static_cast<transfer*>(user);
  if (x->req->cancelled && x->req->cancelled())
    return 1;
  if (auto stall = x->req->stall_timeout) {
    auto now = std::chrono::steady_clock::now();
    if (dlnow != x->bytes) {
      x->bytes = dlnow;
      x->last_byte = now;
    } else if (dlnow > 0 && now - x->last_byte >= *stall) {
      // Silence once the reply has begun; the wait for its first byte is
      // the read timeout's.
      x->stalled = true;
      return 1;
    }
  }
  return 0;
}

class curl_transport : public http_transport {
public:
  curl_transport() {
    static std::once_flag flag;
    std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  caf::expected<http_response> post(const http_request& req) override {
    std::unique_ptr<CURL, void (*)(CURL*)> handle{curl_easy_init(),
                                                  curl_easy_cleanup};
    if (!handle)
      return detail::llm_error(llm_errc::transport_error,
                               "curl_easy_init failed");
    auto* h = handle.get();
    curl_slist* list = nullptr;
    for (auto& [key, val] : req.headers)
      list = curl_slist_append(list, (key + ": " + val).c_str());
    list = curl_slist_append(list, "Expect:");
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> guard{
      list, curl_slist_free_all};
    http_response resp;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    auto total = req.total_timeout.value_or(req.connect_timeout +
                                            req.read_timeout);
    // curl reads 0 as "no timeout": a bounded call keeps at least 1 ms.
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(total.count(), 1)));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(
                       std::min(req.connect_timeout, total).count(), 1)));
    transfer x{&req, &resp, std::chrono::steady_clock::now()};
    if (req.cancelled || req.stall_timeout) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    }
    curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    auto rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      auto text = "curl error " + std::to_string(static_cast<int>(rc)) + " (" +
                  curl_easy_strerror(rc) + ")" +
                  (errbuf[0] != 0 ? std::string{": "} + errbuf : "") +
                  " for POST " + req.url;
      switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
          return detail::llm_error(llm_errc::connection_failed, text);
        case CURLE_OPERATION_TIMEDOUT:
          return detail::llm_error(llm_errc::timeout, text);
        case CURLE_ABORTED_BY_CALLBACK:
          if (x.stalled)
            return detail::llm_error(
              llm_errc::stalled,
              "no byte for " + std::to_string(req.stall_timeout->count())
                + " ms after " + std::to_string(x.bytes)
                + " byte(s) of the response to POST " + req.url);
          return detail::llm_error(llm_errc::cancelled,
                                   "cancelled during POST " + req.url);
        default:
          return detail::llm_error(llm_errc::transport_error, text);
      }
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    resp.status = static_cast<int>(status);
    return resp;
  }
};

} // namespace

std::shared_ptr<http_transport> http_transport::make_curl() {
  return std::make_shared<curl_transport>();
}

} // namespace caflens::llm
