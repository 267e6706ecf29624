#include "caflens/skills/log_buffer.hpp"

#include <chrono>

namespace caflens::skills {

log_buffer::log_buffer(size_t capacity, const telemetry::clock& clk)
  : capacity_(capacity ? capacity : 1), clock_(&clk) {
}

void log_buffer::filter(std::function<std::string(std::string)> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  filter_ = fn ? std::make_shared<const decltype(fn)>(std::move(fn)) : nullptr;
}

void log_buffer::append(std::string level, std::string source,
                        std::string message) {
  auto now = clock_->now_ns();
  std::shared_ptr<const std::function<std::string(std::string)>> fn;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    fn = filter_;
  }
  if (fn)
    message = (*fn)(std::move(message));
  std::lock_guard<std::mutex> guard{mtx_};
  bool counted = false;
  for (auto& [lvl, n] : counts_)
    if (lvl == level) {
      ++n;
      counted = true;
    }
  if (!counted)
    counts_.emplace_back(level, 1);
  lines_.push_back({now, std::move(level), std::move(source),
                    std::move(message)});
  while (lines_.size() > capacity_) {
    lines_.pop_front();
    ++dropped_;
  }
}

std::vector<log_entry> log_buffer::recent(size_t n,
                                          const std::string& level) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<log_entry> result;
  for (auto i = lines_.rbegin(); i != lines_.rend() && result.size() < n; ++i)
    if (level.empty() || i->level == level)
      result.push_back(*i);
  return {result.rbegin(), result.rend()};
}

std::vector<log_entry> log_buffer::search(const std::string& text,
                                          size_t n) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<log_entry> result;
  for (auto i = lines_.rbegin(); i != lines_.rend() && result.size() < n; ++i)
    if (i->message.find(text) != std::string::npos
        || i->source.find(text) != std::string::npos)
      result.push_back(*i);
  return {result.rbegin(), result.rend()};
}

std::vector<std::pair<std::string, uint64_t>> log_buffer::counts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counts_;
}

size_t log_buffer::count_since(const std::string& level,
                               int64_t since_ns) const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (auto i = lines_.rbegin(); i != lines_.rend() && i->at_ns >= since_ns;
       ++i)
    if (i->level == level)
      ++n;
  return n;
}

uint64_t log_buffer::dropped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dropped_;
}

} // namespace caflens::skills
