#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include "caflens/llm/client.hpp"

namespace caflens::llm {

/// The configured clients: a primary, fallback chains and an optional
/// round-robin group. `complete` starts at the primary (or the next client of
/// the round-robin group) and moves down its fallback chain when a client
/// fails with anything but a request problem (bad request, context overflow),
/// emitting `caflens.llm.fallback`. Thread-safe.
class client_registry {
public:
  /// Adds a client. Error: `invalid_config` for a duplicate name.
  caf::error add(std::shared_ptr<client> x);

  /// Makes and adds a client.
  caf::error add(client_config cfg, client_services svc = {});

  /// The client calls start at (default: the first added).
  caf::error set_primary(const std::string& name);

  /// When `name` fails, try `chain` in order. Error: `no_client` for an
  /// unknown name.
  caf::error set_fallbacks(const std::string& name,
                           std::vector<std::string> chain);

  /// Rotates the starting client over `names` per call (load spreading); the
  /// other members act as further fallbacks. Empty disables round-robin.
  caf::error set_round_robin(std::vector<std::string> names);

  std::shared_ptr<client> find(const std::string& name) const;

  std::vector<std::string> names() const;

  bool empty() const;

  /// The chain a call would try next, without advancing round-robin.
  std::vector<std::string> chain_preview() const;

  /// Sends `req` down the chain. Errors: `no_client`, or the last client's
  /// error (its text lists every client tried).
  caf::expected<completion> complete(const completion_request& req);

  /// Calls `fn` with every exchange of every client, those added now and
  /// later, until `unobserve(fn)` (see `client::observe`). A lens observes
  /// its registry to store the exchanges.
  void observe(std::shared_ptr<const exchange_observer> fn);

  /// Stops calling `fn` from every client.
  void unobserve(const std::shared_ptr<const exchange_observer>& fn);

private:
  std::vector<std::string> chain_for(const std::string& start) const;

  mutable std::mutex mtx_;
  std::vector<std::shared_ptr<client>> clients_;
  std::string primary_;
  std::map<std::string, std::vector<std::string>> fallbacks_;
  std::vector<std::string> round_robin_;
  size_t next_ = 0;
  std::vector<std::shared_ptr<const exchange_observer>> observers_;
};

} // namespace caflens::llm
