#include "caflens/telemetry/event_name.hpp"

#include "caflens/telemetry/telemetry_errc.hpp"

namespace caflens::telemetry {

event_name::event_name(std::initializer_list<std::string_view> segments) {
  segments_.reserve(segments.size());
  for (auto s : segments)
    segments_.emplace_back(s);
  rebuild();
}

event_name::event_name(std::vector<std::string> segments)
  : segments_(std::move(segments)) {
  rebuild();
}

caf::expected<event_name> event_name::parse(std::string_view dotted) {
  std::vector<std::string> segments;
  size_t pos = 0;
  while (true) {
    auto next = dotted.find('.', pos);
    auto seg = dotted.substr(pos, next == std::string_view::npos
                                    ? std::string_view::npos
                                    : next - pos);
    if (seg.empty())
      return make_error(telemetry_errc::invalid_event_name,
                        "empty segment in event name '" + std::string{dotted}
                          + "'");
    segments.emplace_back(seg);
    if (next == std::string_view::npos)
      break;
    pos = next + 1;
  }
  return event_name{std::move(segments)};
}

bool event_name::valid() const noexcept {
  if (segments_.empty())
    return false;
  for (auto& s : segments_)
    if (s.empty() || s.find('.') != std::string::npos)
      return false;
  return true;
}

bool event_name::starts_with(const event_name& prefix) const noexcept {
  if (prefix.size() > size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (segments_[i] != prefix.segments_[i])
      return false;
  return true;
}

event_name event_name::operator/(std::string_view segment) const {
  auto copy = segments_;
  copy.emplace_back(segment);
  return event_name{std::move(copy)};
}

void event_name::rebuild() {
  dotted_.clear();
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (i > 0)
      dotted_ += '.';
    dotted_ += segments_[i];
  }
}

} // namespace caflens::telemetry
