#include "caflens/llm/client_registry.hpp"

#include <algorithm>

#include "caflens/llm/detail/error.hpp"
#include "caflens/llm/detail/events.hpp"

namespace caflens::llm {

caf::error client_registry::add(std::shared_ptr<client> x) {
  if (!x)
    return detail::llm_error(llm_errc::invalid_argument, "client is null");
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& c : clients_)
    if (c->name() == x->name())
      return detail::llm_error(llm_errc::invalid_config,
                               "llm client '" + x->name() +
                                 "' is configured twice");
  if (primary_.empty())
    primary_ = x->name();
  for (auto& fn : observers_)
    x->observe(fn);
  clients_.push_back(std::move(x));
  return caf::none;
}

void client_registry::observe(std::shared_ptr<const exchange_observer> fn) {
  if (!fn || !*fn)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (std::find(observers_.begin(), observers_.end(), fn) != observers_.end())
    return;
  for (auto& c : clients_)
    c->observe(fn);
  observers_.push_back(std::move(fn));
}

void client_registry::unobserve(
  const std::shared_ptr<const exchange_observer>& fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& c : clients_)
    c->unobserve(fn);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), fn),
                   observers_.end());
}

caf::error client_registry::add(client_config cfg, client_services svc) {
  auto c = client::make(std::move(cfg), std::move(svc));
  if (!c)
    return c.error();
  return add(std::move(*c));
}

namespace {

caf::error unknown(const std::string& name) {
  return detail::llm_error(llm_errc::no_client,
                           "no llm client named '" + name + "'");
}

} // namespace

caf::error client_registry::set_primary(const std::string& name) {
  if (!find(name))
    return unknown(name);
  std::lock_guard<std::mutex> guard{mtx_};
  primary_ = name;
  return caf::none;
}

caf::error client_registry::set_fallbacks(const std::string& name,
                                          std::vector<std::string> chain) {
  if (!find(name))
    return unknown(name);
  for (auto& x : chain)
    if (!find(x))
      return unknown(x);
  std::lock_guard<std::mutex> guard{mtx_};
  fallbacks_[name] = std::move(chain);
  return caf::none;
}

caf::error client_registry::set_round_robin(std::vector<std::string> names) {
  for (auto& x : names)
    if (!find(x))
      return unknown(x);
  std::lock_guard<std::mutex> guard{mtx_};
  round_robin_ = std::move(names);
  next_ = 0;
  return caf::none;
}

std::shared_ptr<client> client_registry::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& c : clients_)
    if (c->name() == name)
      return c;
  return nullptr;
}

std::vector<std::string> client_registry::names() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> result;
  for (auto& c : clients_)
    result.push_back(c->name());
  return result;
}

bool client_registry::empty() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return clients_.empty();
}

std::vector<std::string>
client_registry::chain_for(const std::string& start) const {
  std::vector<std::string> result{start};
  auto push = [&](const std::string& x) {
    if (std::find(result.begin(), result.end(), x) == result.end())
      result.push_back(x);
  };
  if (auto i = fallbacks_.find(start); i != fallbacks_.end())
    for (auto& x : i->second)
      push(x);
  for (auto& x : round_robin_)
    push(x);
  return result;
}

std::vector<std::string> client_registry::chain_preview() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!round_robin_.empty())
    return chain_for(round_robin_[next_ % round_robin_.size()]);
  if (primary_.empty())
    return {};
  return chain_for(primary_);
}

caf::expected<completion>
client_registry::complete(const completion_request& req) {
  std::vector<std::string> chain;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!round_robin_.empty())
      chain = chain_for(round_robin_[next_++ % round_robin_.size()]);
    else if (!primary_.empty())
      chain = chain_for(primary_);
  }
  if (chain.empty())
    return detail::llm_error(llm_errc::no_client,
                             "no llm client is configured");
  caf::error last;
  std::string tried;
  for (size_t i = 0; i < chain.size(); ++i) {
    auto c = find(chain[i]);
    if (!c)
      continue;
    // Only the last client of the chain waits for an open breaker; the
    // others hand over to their fallback at once.
    auto result = [&] {
      if (i + 1 == chain.size() || !req.wait_for_breaker)
        return c->complete(req);
      auto r = req;
      r.wait_for_breaker = false;
      return c->complete(r);
    }();
    if (result)
      return result;
    last = result.error();
    tried += (tried.empty() ? "" : "; ") + error_context(last);
    auto code = llm_code(last).value_or(llm_errc::invalid_response);
    if (code == llm_errc::bad_request || code == llm_errc::context_overflow ||
        code == llm_errc::invalid_argument || code == llm_errc::cancelled ||
        code == llm_errc::deadline_exceeded)
      return last;
    if (i + 1 < chain.size())
      detail::emit_llm_fallback(req.trace_id, chain[i], chain[i + 1],
                                to_string(code));
  }
  if (chain.size() == 1)
    return last;
  auto code = llm_code(last).value_or(llm_errc::invalid_response);
  return detail::llm_error(code, "every llm client failed: " + tried);
}

} // namespace caflens::llm
