#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caflens/telemetry/clock.hpp"

namespace caflens::skills {

/// One log line kept by a `log_buffer`.
struct log_entry {
  int64_t at_ns = 0; // steady clock
  std::string level; // "debug", "info", "warning", "error"
  std::string source;
  std::string message;
};

/// A bounded ring of recent log lines, fed by the application's logger
/// (call `append` from a sink) and read by the logs skill. Oldest lines are
/// dropped first; `dropped()` counts them.
///
/// Thread-safe.
class log_buffer {
public:
  explicit log_buffer(size_t capacity = 10'000,
                      const telemetry::clock& clk = telemetry::clock::steady());

  /// Now, by this buffer's clock.
  int64_t now_ns() const noexcept {
    return clock_->now_ns();
  }

  void append(std::string level, std::string source, std::string message);

  /// Every line is passed through `fn` before it is kept (the lens installs
  /// its redaction: no secret of a log line reaches a model, a store or a
  /// page). Set before lines arrive.
  void filter(std::function<std::string(std::string)> fn);

  /// Newest last; at most `n`, optionally one level only.
  std::vector<log_entry> recent(size_t n, const std::string& level = {}) const;

  /// Lines containing `text` (newest last), at most `n`.
  std::vector<log_entry> search(const std::string& text, size_t n) const;

  /// Lines per level since start (including dropped ones).
  std::vector<std::pair<std::string, uint64_t>> counts() const;

  /// Lines of `level` newer than `since_ns` (steady clock).
  size_t count_since(const std::string& level, int64_t since_ns) const;

  uint64_t dropped() const;

private:
  mutable std::mutex mtx_;
  std::deque<log_entry> lines_;
  size_t capacity_;
  const telemetry::clock* clock_;
  uint64_t dropped_ = 0;
  std::vector<std::pair<std::string, uint64_t>> counts_;
  std::shared_ptr<const std::function<std::string(std::string)>> filter_;
};

} // namespace caflens::skills
