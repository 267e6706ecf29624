#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "caf/expected.hpp"

#include "caflens/llm/circuit_breaker.hpp"
#include "caflens/llm/client_config.hpp"
#include "caflens/llm/clock.hpp"
#include "caflens/llm/http_transport.hpp"
#include "caflens/llm/recording.hpp"
#include "caflens/llm/redactor.hpp"
#include "caflens/llm/wire_format.hpp"

namespace caflens::llm {

/// Services a client uses; every member has a production default, tests swap
/// them (loopback transport, manual clock, fixed jitter seed, fake env).
struct client_services {
  /// Default: libcurl.
  std::shared_ptr<http_transport> transport;
  /// Default: the steady clock with real sleeps.
  std::shared_ptr<llm::clock> clock;
  /// Default: the built-in rules (API keys, bearer tokens, secret keys).
  std::shared_ptr<const llm::redactor> redactor;
  /// Reads an environment variable; default: `std::getenv`.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  /// When set, every exchange is recorded here (it grows without bound:
  /// for tests and one-off captures).
  std::shared_ptr<llm::recording> recording;
  /// When set, called with every exchange (as recorded: redacted bodies,
  /// no auth header) in the calling thread.
  exchange_observer on_exchange;
  /// Seed of the jitter RNG; 0 picks a random seed.
  uint64_t seed = 0;
};

/// Running totals of one client.
struct client_totals {
  int64_t calls = 0;
  int64_t failures = 0;
  int64_t attempts = 0;
  int64_t retries = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

/// One configured model endpoint: encodes the request, redacts it, sends it
/// with retries (exponential backoff with jitter, Retry-After) behind the
/// endpoint's circuit breaker, decodes the reply and accounts tokens, cost,
/// latency and retries. A request's `time_left` bounds every attempt's
/// timeout and every wait; its `cancelled` hook interrupts a transfer. Emits `caflens.llm.start|stop|exception` and `retry`. The API key
/// is read from the environment at call time and appears in no error, event
/// or record. Thread-safe.
class client {
public:
  /// Validates `cfg` and fills defaults of `svc`. Error: `invalid_config`.
  static caf::expected<std::shared_ptr<client>> make(client_config cfg,
                                                     client_services svc = {});

  /// Sends `req` and returns the parsed reply or a classified error. Never
  /// throws.
  caf::expected<completion> complete(const completion_request& req);

  const client_config& config() const noexcept { return cfg_; }

  const std::string& name() const noexcept { return cfg_.name; }

  /// The breaker of this client's endpoint (shared with every client of it).
  circuit_breaker& breaker() noexcept { return *breaker_; }

  client_totals totals() const;

  /// Cost in USD of `u` at this client's prices.
  double cost(const usage& u) const noexcept;

  /// Calls `fn` with every exchange from now on, besides
  /// `client_services::on_exchange`, until `unobserve(fn)`. Adding the same
  /// observer twice has no effect.
  void observe(std::shared_ptr<const exchange_observer> fn);

  /// Stops calling `fn` (calls already under way may still reach it).
  void unobserve(const std::shared_ptr<const exchange_observer>& fn);

private:
  client(client_config cfg, client_services svc);

  caf::expected<completion> complete_impl(const completion_request& req,
                                          int& attempts, int& retries);

  client_config cfg_;
  client_services svc_;
  std::unique_ptr<wire_format> format_;
  std::shared_ptr<circuit_breaker> breaker_;
  mutable std::mutex mtx_;
  std::mt19937_64 rng_;
  client_totals totals_;
  std::vector<std::shared_ptr<const exchange_observer>> observers_;
};

} // namespace caflens::llm
