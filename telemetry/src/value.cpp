#include "caflens/telemetry/value.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace caflens::telemetry {

std::optional<int64_t> value::as_int() const noexcept {
  switch (kind_) {
    case kind::integer:
      return int_;
    case kind::unsigned_integer:
      return static_cast<int64_t>(uint_);
    case kind::floating:
      if (!std::isfinite(double_))
        return std::nullopt;
      return static_cast<int64_t>(double_);
    default:
      return std::nullopt;
  }
}

std::optional<double> value::as_double() const noexcept {
  switch (kind_) {
    case kind::integer:
      return static_cast<double>(int_);
    case kind::unsigned_integer:
      return static_cast<double>(uint_);
    case kind::floating:
      return double_;
    default:
      return std::nullopt;
  }
}

nlohmann::json value::to_json() const {
  switch (kind_) {
    case kind::null:
      return nullptr;
    case kind::boolean:
      return bool_;
    case kind::integer:
      return int_;
    case kind::unsigned_integer:
      return uint_;
    case kind::floating:
      return double_;
    case kind::string:
      return std::string{str_.data, str_.size};
    case kind::json:
      return *json_;
  }
  return nullptr;
}

std::string value::to_string() const {
  switch (kind_) {
    case kind::string:
      return std::string{str_.data, str_.size};
    case kind::null:
      return "null";
    default:
      return to_json().dump();
  }
}

nlohmann::json measurements::to_json() const {
  auto result = nlohmann::json::object();
  for (auto& x : *this) {
    // Integral values (times, counts) read better as integers.
    auto v = x.value;
    if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9.2e18)
      result[std::string{x.key}] = static_cast<int64_t>(v);
    else
      result[std::string{x.key}] = v;
  }
  return result;
}

nlohmann::json metadata::to_json() const {
  auto result = nlohmann::json::object();
  for (auto& x : *this)
    result[std::string{x.key}] = x.value.to_json();
  return result;
}

} // namespace caflens::telemetry
