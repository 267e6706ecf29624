#include "caflens/telemetry/correlation.hpp"

#include "caflens/telemetry/trace_id.hpp"

namespace caflens::telemetry {

namespace detail {

constinit __attribute__((tls_model("initial-exec"))) thread_local const
  std::string* tl_correlation = nullptr;

} // namespace detail

std::string_view current_correlation() noexcept {
  return detail::tl_correlation != nullptr
           ? std::string_view{*detail::tl_correlation}
           : std::string_view{};
}

std::string new_correlation_id() {
  return generate_trace_id();
}

correlation_scope::correlation_scope(std::string id)
  : id_(std::move(id)), previous_(detail::tl_correlation) {
  detail::tl_correlation = &id_;
}

correlation_scope::~correlation_scope() {
  detail::tl_correlation = previous_;
}

} // namespace caflens::telemetry
