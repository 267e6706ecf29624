#include "caflens/llm/client.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <ctime>

#include "caflens/llm/conversation.hpp"
#include "caflens/llm/detail/error.hpp"
#include "caflens/llm/detail/events.hpp"
#include "caflens/llm/detail/shared_by_key.hpp"
#include "caflens/llm/stream_assembler.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::llm {

namespace {

using steady = std::chrono::steady_clock;

/// "Sun, 06 Nov 1994 08:49:37 GMT" as seconds since the epoch.
std::optional<time_t> parse_http_date(const std::string& x) {
  std::tm tm{};
  auto* end = strptime(x.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != 0)
    return std::nullopt;
  return timegm(&tm);
}

std::optional<std::chrono::milliseconds>
parse_retry_after(const http_response& resp) {
  if (auto ms = resp.header("retry-after-ms")) {
    char* end = nullptr;
    auto val = std::strtod(ms->c_str(), &end);
    if (end != ms->c_str() && val >= 0)
      return std::chrono::milliseconds{static_cast<int64_t>(val)};
  }
  if (auto secs = resp.header("retry-after")) {
    char* end = nullptr;
    auto val = std::strtod(secs->c_str(), &end);
    if (end != secs->c_str() && val >= 0)
      return std::chrono::milliseconds{static_cast<int64_t>(val * 1000)};
    // An HTTP date (RFC 9110 IMF-fixdate): measured against the response's
    // own Date header when it has one (no clock skew between the hosts),
    // else against our clock.
    if (auto at = parse_http_date(*secs)) {
      auto now = std::chrono::system_clock::to_time_t(
        std::chrono::system_clock::now());
      if (auto date = resp.header("date"))
        if (auto d = parse_http_date(*date))
          now = *d;
      return std::chrono::milliseconds{
        std::max<int64_t>(0, static_cast<int64_t>(*at - now)) * 1000};
    }
    if (!secs->empty())
      return std::chrono::milliseconds{1000};
  }
  return std::nullopt;
}

std::vector<http_header> kept_headers(const http_response& resp) {
  std::vector<http_header> result;
  for (auto& [k, v] : resp.headers)
    if (k == "content-type" || k == "retry-after" || k == "retry-after-ms" ||
        k == "x-should-retry")
      result.emplace_back(k, v);
  return result;
}

/// The calls in flight to one endpoint, over every client of the process
/// (`client_config::max_concurrent`).
class endpoint_gate {
public:
  explicit endpoint_gate(int limit) : limit_(limit) {}

  static std::shared_ptr<endpoint_gate> of(const std::string& endpoint,
                                           int limit) {
    return detail::shared_by_key<endpoint_gate>(
      endpoint, [&] { return std::make_shared<endpoint_gate>(limit); });
  }

  /// Takes a slot; gives up when `stop()` says so (polled every 50 ms).
  template <class Stop>
  bool acquire(Stop stop) {
    std::unique_lock<std::mutex> guard{mtx_};
    while (in_use_ >= limit_) {
      if (stop())
        return false;
      cv_.wait_for(guard, std::chrono::milliseconds{50});
    }
    ++in_use_;
    return true;
  }

  void release() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      --in_use_;
    }
    cv_.notify_one();
  }

private:
  int limit_;
  int in_use_ = 0;
  std::mutex mtx_;
  std::condition_variable cv_;
};

bool is_event_stream(const http_response& resp) {
  auto ctype = resp.header("content-type").value_or("");
  for (auto& c : ctype)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ctype.rfind("text/event-stream", 0) == 0;
}

std::string status_reason(const caf::error& err) {
  if (auto code = llm_code(err))
    return to_string(*code);
  return "error";
}

} // namespace

caf::expected<std::shared_ptr<client>> client::make(client_config cfg,
                                                    client_services svc) {
  if (auto err = cfg.validate())
    return err;
  if (!svc.transport)
    svc.transport = http_transport::make_curl();
  if (!svc.clock)
    svc.clock = clock::system();
  if (!svc.redactor)
    svc.redactor = std::make_shared<redactor>();
  if (!svc.getenv)
    svc.getenv = [](const std::string& name) -> std::optional<std::string> {
      if (auto* val = std::getenv(name.c_str()); val != nullptr && *val != 0)
        return std::string{val};
      return std::nullopt;
    };
  return std::shared_ptr<client>{new client(std::move(cfg), std::move(svc))};
}

client::client(client_config cfg, client_services svc)
  : cfg_(std::move(cfg))
  , svc_(std::move(svc))
  , format_(wire_format::make(cfg_.provider))
  , breaker_(circuit_breaker::for_endpoint(cfg_.endpoint(), cfg_.breaker,
                                           svc_.clock))
  , rng_(svc_.seed != 0 ? svc_.seed : std::random_device{}()) {}

client_totals client::totals() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return totals_;
}

double client::cost(const usage& u) const noexcept {
  auto cache_price =
    cfg_.price_cache_read_per_million.value_or(cfg_.price_input_per_million);
  return (static_cast<double>(u.input_tokens + u.cache_creation_tokens) *
            cfg_.price_input_per_million +
          static_cast<double>(u.cache_read_tokens) * cache_price +
          static_cast<double>(u.output_tokens) *
            cfg_.price_output_per_million) /
         1e6;
}

void client::observe(std::shared_ptr<const exchange_observer> fn) {
  if (!fn || !*fn)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (std::find(observers_.begin(), observers_.end(), fn) == observers_.end())
    observers_.push_back(std::move(fn));
}

void client::unobserve(const std::shared_ptr<const exchange_observer>& fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  observers_.erase(std::remove(observers_.begin(), observers_.end(), fn),
                   observers_.end());
}

caf::expected<completion> client::complete(const completion_request& req) {
  auto provider = to_string(cfg_.provider);
  detail::call_labels labels{req.trace_id, req.iteration, cfg_.name, provider,
                             cfg_.model};
  auto span = detail::next_span_id();
  auto started = telemetry::bus::monotonic_time();
  size_t context = estimate_tokens(req.system);
  for (auto& m : req.messages)
    context += estimate_tokens(m);
  detail::emit_llm_start(labels, span, static_cast<int64_t>(context), started);
  int attempts = 0;
  int retries = 0;
  caf::expected<completion> result{caf::error{}};
  try {
    result = complete_impl(req, attempts, retries);
  } catch (const std::exception& ex) {
    breaker_->release_probe(); // a probe that proved nothing
    result =
      detail::llm_error(llm_errc::invalid_response,
                        "client '" + cfg_.name + "': unexpected exception: " +
                          svc_.redactor->redact(ex.what()));
  } catch (...) {
    breaker_->release_probe();
    result =
      detail::llm_error(llm_errc::invalid_response,
                        "client '" + cfg_.name + "': unexpected exception");
  }
  auto duration = telemetry::bus::monotonic_time() - started;
  std::lock_guard<std::mutex> guard{mtx_};
  ++totals_.calls;
  totals_.attempts += attempts;
  totals_.retries += retries;
  if (!result) {
    ++totals_.failures;
    auto reason = render_error(result.error());
    detail::emit_llm_exception(labels, span, duration,
                               status_reason(result.error()), reason);
    return result;
  }
  auto& c = *result;
  c.client = cfg_.name;
  c.provider = std::string{provider};
  if (c.model.empty())
    c.model = cfg_.model;
  c.cost_usd = cost(c.usage);
  c.attempts = attempts;
  c.retries = retries;
  c.latency = std::chrono::nanoseconds{duration};
  totals_.input_tokens += c.usage.prompt_tokens();
  totals_.output_tokens += c.usage.output_tokens;
  totals_.cost_usd += c.cost_usd;
  std::string tool = c.tool_calls.empty() ? "" : c.tool_calls.front().name;
  detail::emit_llm_stop(labels, span, duration, c.usage.prompt_tokens(),
                        c.usage.output_tokens, c.cost_usd, retries, tool,
                        c.stop_reason);
  return result;
}

caf::expected<completion> client::complete_impl(const completion_request& req,
                                                int& attempts, int& retries) {
  auto prefix = "client '" + cfg_.name + "' (" +
                std::string{to_string(cfg_.provider)} + ", " + cfg_.model + ")";
  std::string key;
  if (!cfg_.api_key_env.empty()) {
    auto val = svc_.getenv(cfg_.api_key_env);
    if (!val || val->empty())
      return detail::llm_error(llm_errc::missing_api_key,
                               prefix + ": environment variable " +
                                 cfg_.api_key_env + " is not set");
    key = std::move(*val);
  }
  auto& red = *svc_.redactor;
  auto body = format_->encode(req, cfg_);
  for (auto part : {"system", "messages"})
    if (auto i = body.find(part); i != body.end())
      red.redact(*i, key);
  http_request http;
  http.url = cfg_.endpoint();
  http.headers = format_->headers(cfg_, key);
  http.body =
    body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  http.connect_timeout = cfg_.connect_timeout;
  http.read_timeout = cfg_.read_timeout;
  caf::error last;
  auto max_attempts = std::max(cfg_.retry.max_attempts, 1);
  auto& clk = *svc_.clock;
  std::optional<clock::time_point> deadline;
  if (req.time_left)
    deadline = clk.now() + *req.time_left;
  using std::chrono::milliseconds;
  auto left = [&]() -> std::optional<milliseconds> {
    if (!deadline)
      return std::nullopt;
    return std::max(milliseconds{0},
                    std::chrono::duration_cast<milliseconds>(*deadline
                                                             - clk.now()));
  };
  auto cancelled = [&] { return req.cancelled && req.cancelled(); };
  auto with_last = [&](std::string text) {
    if (last)
      text += "; last error: " + render_error(last);
    return text;
  };
  // Sleeps `d` in slices, so that a cancel ends the wait.
  auto nap = [&](milliseconds d) {
    if (!req.cancelled) {
      clk.sleep_for(d);
      return;
    }
    while (d.count() > 0 && !cancelled()) {
      auto slice = std::min(d, milliseconds{50});
      clk.sleep_for(slice);
      d -= slice;
    }
  };
  http.cancelled = req.cancelled;
  // A streamed reply is reassembled as it arrives; its progress is
  // reported at most once a second.
  std::unique_ptr<stream_assembler> stream;
  size_t streamed = 0;
  int current_attempt = 0;
  auto stream_start = steady::now();
  auto last_report = stream_start;
  auto report = [&](bool complete) {
    auto& p = stream->progress();
    detail::emit_llm_stream(
      req.trace_id, req.iteration, cfg_.name, current_attempt,
      std::chrono::duration_cast<milliseconds>(steady::now() - stream_start)
        .count(),
      p.events, p.text_bytes, p.tool_bytes, complete);
  };
  if (cfg_.stream) {
    http.stall_timeout = cfg_.stall_timeout;
    http.on_data = [&](std::string_view bytes) {
      streamed += bytes.size();
      stream->feed(bytes);
      auto now = steady::now();
      if (now - last_report >= std::chrono::seconds{1}) {
        last_report = now;
        report(false);
      }
    };
  }
  for (int attempt = 1; attempt <= max_attempts;) {
    if (cancelled())
      return detail::llm_error(llm_errc::cancelled,
                               with_last(prefix + ": call cancelled"));
    auto time_left = left();
    if (time_left && time_left->count() <= 0)
      return detail::llm_error(
        llm_errc::deadline_exceeded,
        with_last(prefix + ": no time left for attempt "
                  + std::to_string(attempt)));
    if (!breaker_->allow()) {
      // Open: with a fallback, fail fast; without one, wait for the
      // half-open probe while the time left allows.
      auto wait = breaker_->retry_in();
      auto limit = time_left.value_or(cfg_.breaker.open_duration
                                      + milliseconds{1000});
      if (!req.wait_for_breaker || wait >= limit)
        return detail::llm_error(
          llm_errc::circuit_open,
          with_last(prefix + ": circuit breaker of " + cfg_.endpoint()
                    + " is open (half-open probe in "
                    + std::to_string(wait.count()) + " ms)"));
      detail::emit_llm_retry(req.trace_id, cfg_.name, attempt,
                             std::max<int64_t>(wait.count(), 1),
                             "circuit_open", 0);
      nap(std::max(wait, milliseconds{1}));
      continue;
    }
    // A slot at the endpoint (a local server serves one call at a time).
    std::shared_ptr<endpoint_gate> gate;
    if (cfg_.max_concurrent > 0) {
      gate = endpoint_gate::of(cfg_.endpoint(), cfg_.max_concurrent);
      auto gave_up = [&] {
        auto l = left();
        return cancelled() || (l && l->count() <= 0);
      };
      if (!gate->acquire(gave_up)) {
        breaker_->release_probe();
        if (cancelled())
          return detail::llm_error(llm_errc::cancelled,
                                   with_last(prefix + ": call cancelled"));
        return detail::llm_error(
          llm_errc::deadline_exceeded,
          with_last(prefix + ": no time left while waiting for one of "
                    + std::to_string(cfg_.max_concurrent) + " slot(s) at "
                    + cfg_.endpoint()));
      }
      time_left = left();
    }
    struct slot_guard {
      std::shared_ptr<endpoint_gate> g;
      ~slot_guard() {
        if (g)
          g->release();
      }
    };
    std::optional<slot_guard> slot;
    if (gate) {
      slot.emplace(); // in place: a copy would release the slot twice
      slot->g = gate;
    }
    ++attempts;
    if (time_left)
      http.total_timeout = std::min(cfg_.connect_timeout + cfg_.read_timeout,
                                    *time_left);
    current_attempt = attempt;
    stream_start = last_report = steady::now();
    streamed = 0;
    if (cfg_.stream)
      stream = stream_assembler::make(cfg_.provider);
    auto t0 = steady::now();
    auto resp = svc_.transport->post(http);
    auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
    caf::expected<completion> decoded{caf::error{}};
    std::optional<bool> should_retry;
    std::optional<std::chrono::milliseconds> retry_after;
    int status = 0;
    if (resp) {
      status = resp->status;
      if (status >= 200 && status < 300 && is_event_stream(*resp)) {
        // Reassembled into the reply the provider sends unstreamed (also
        // for a transport that does not hand out the body as it comes).
        if (!stream || streamed != resp->body.size()) {
          stream = stream_assembler::make(cfg_.provider);
          stream->feed(resp->body);
        }
        auto whole = stream->finish();
        report(static_cast<bool>(whole));
        if (whole) {
          http_response plain{whole->first, resp->headers,
                              std::move(whole->second)};
          status = plain.status;
          decoded = format_->decode(plain);
        } else {
          decoded = whole.error();
        }
      } else {
        decoded = format_->decode(*resp);
      }
      retry_after = parse_retry_after(*resp);
      if (auto h = resp->header("x-should-retry"))
        should_retry = *h == "true";
    } else {
      decoded = resp.error();
      if (llm_code(resp.error()) == llm_errc::stalled)
        detail::emit_llm_stall(req.trace_id, cfg_.name, attempt,
                               cfg_.stall_timeout.count(),
                               static_cast<int64_t>(streamed));
    }
    slot.reset(); // the slot is for the exchange, not for the retry wait
    std::vector<std::shared_ptr<const exchange_observer>> observers;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      observers = observers_;
    }
    if (svc_.recording || svc_.on_exchange || !observers.empty()) {
      exchange x;
      x.client = cfg_.name;
      x.provider = std::string{to_string(cfg_.provider)};
      x.model = cfg_.model;
      x.url = http.url;
      x.trace_id = req.trace_id;
      x.loop = req.loop;
      x.iteration = req.iteration;
      x.attempt = attempt;
      x.request = body;
      x.latency_ms = latency.count();
      if (resp) {
        x.status = resp->status;
        x.response_headers = kept_headers(*resp);
        x.response_body = red.redact(resp->body, key);
      } else {
        x.error_code = static_cast<int>(
          llm_code(resp.error()).value_or(llm_errc::transport_error));
        x.error_text = red.redact(render_error(resp.error()), key);
      }
      // An observer (a store) never fails the call.
      auto tell = [&x](const exchange_observer& fn) {
        try {
          fn(x);
        } catch (...) {
        }
      };
      if (svc_.on_exchange)
        tell(svc_.on_exchange);
      for (auto& fn : observers)
        tell(*fn);
      if (svc_.recording)
        svc_.recording->add(std::move(x));
    }
    if (decoded) {
      breaker_->record_success();
      decoded->latency = latency;
      return decoded;
    }
    auto code = llm_code(decoded.error()).value_or(llm_errc::invalid_response);
    auto text = red.redact(error_context(decoded.error()), key);
    if (code == llm_errc::cancelled) {
      breaker_->release_probe();
      return detail::llm_error(code, with_last(prefix + ": " + text));
    }
    if (code == llm_errc::timeout && time_left
        && http.total_timeout == *time_left) {
      // Our deadline cut the attempt short, not the endpoint's slowness.
      breaker_->release_probe();
      return detail::llm_error(
        llm_errc::deadline_exceeded,
        prefix + ": the investigation's deadline ended attempt "
          + std::to_string(attempt) + " after "
          + std::to_string(latency.count()) + " ms (" + text + ")");
    }
    last = detail::llm_error(code, text);
    auto retryable = should_retry.value_or(is_retryable(code));
    if (is_retryable(code))
      breaker_->record_failure(to_string(code));
    else
      breaker_->record_success(); // the endpoint answered
    if (!retryable || attempt == max_attempts)
      break;
    if (retry_after && *retry_after > cfg_.retry.max_retry_after) {
      text += "; retry-after " + std::to_string(retry_after->count()) +
              " ms exceeds max_retry_after";
      last = detail::llm_error(code, text);
      break;
    }
    std::chrono::milliseconds delay;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      delay = cfg_.retry.delay(attempt, retry_after, rng_);
    }
    if (auto l = left(); l && delay >= *l) {
      text += "; no time left for a retry in "
              + std::to_string(delay.count()) + " ms";
      last = detail::llm_error(code, text);
      break;
    }
    detail::emit_llm_retry(req.trace_id, cfg_.name, attempt, delay.count(),
                           to_string(code), status);
    nap(delay);
    ++retries;
    ++attempt;
  }
  auto code = llm_code(last).value_or(llm_errc::invalid_response);
  return detail::llm_error(code, prefix + ": " + error_context(last) +
                                   " (after " + std::to_string(attempts) +
                                   " attempt(s))");
}

} // namespace caflens::llm
