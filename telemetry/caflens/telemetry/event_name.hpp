#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "caf/expected.hpp"

namespace caflens::telemetry {

/// The name of a telemetry event: a list of segments such as
/// `{"caflens", "operator", "done"}`, printed dotted ("caflens.operator.done").
/// A value type; not synchronized.
class event_name {
public:
  event_name() = default;

  event_name(std::initializer_list<std::string_view> segments);

  explicit event_name(std::vector<std::string> segments);

  /// Parses a dotted name ("caflens.llm.stop"); fails on empty segments.
  static caf::expected<event_name> parse(std::string_view dotted);

  const std::vector<std::string>& segments() const noexcept {
    return segments_;
  }

  /// The dotted form.
  const std::string& str() const noexcept {
    return dotted_;
  }

  size_t size() const noexcept {
    return segments_.size();
  }

  bool empty() const noexcept {
    return segments_.empty();
  }

  /// True when every segment is non-empty and free of '.'; an empty name is
  /// not valid.
  bool valid() const noexcept;

  /// True when `prefix` equals the first `prefix.size()` segments.
  bool starts_with(const event_name& prefix) const noexcept;

  /// Returns this name with `segment` appended.
  event_name operator/(std::string_view segment) const;

  friend bool operator==(const event_name& x, const event_name& y) noexcept {
    return x.dotted_ == y.dotted_ && x.segments_.size() == y.segments_.size();
  }

  friend std::strong_ordering operator<=>(const event_name& x,
                                          const event_name& y) noexcept {
    return x.segments_ <=> y.segments_;
  }

private:
  void rebuild();

  std::vector<std::string> segments_;
  std::string dotted_;
};

inline std::string to_string(const event_name& x) {
  return x.str();
}

} // namespace caflens::telemetry

template <>
struct std::hash<caflens::telemetry::event_name> {
  size_t operator()(const caflens::telemetry::event_name& x) const noexcept {
    return std::hash<std::string>{}(x.str());
  }
};
