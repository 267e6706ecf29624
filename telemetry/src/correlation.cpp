#include "caflens/telemetry/correlation.hpp"

#include "caflens/telemetry/trace_id.hpp"

namespace caflens::telemetry {

namespace {

thread_local const std::string* current = nullptr;

} // namespace

namespace detail {

const std::string* correlation_slot() noexcept {
  return current;
}

} // namespace detail

std::string_view current_correlation() noexcept {
  return current != nullptr ? std::string_view{*current} : std::string_view{};
}

std::string new_correlation_id() {
  return generate_trace_id();
}

correlation_scope::correlation_scope(std::string id)
  : id_(std::move(id)), previous_(current) {
  current = &id_;
}

correlation_scope::~correlation_scope() {
  current = previous_;
}

} // namespace caflens::telemetry
