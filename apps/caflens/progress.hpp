// Progress lines of the command line: the engine's telemetry (coordinator,
// operator and LLM events of this process) as short stamped lines on
// stderr, for `caflens demo` and `caflens investigate`.
#pragma once

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>

#include "caflens/telemetry/bus.hpp"

namespace caflens::cli {

/// Progress lines on stderr, stamped with the time since it was made.
class progress {
public:
  explicit progress(bool quiet)
    : quiet_(quiet)
    , start_(std::chrono::steady_clock::now()) {}

  void operator()(const std::string& line) {
    if (quiet_)
      return;
    auto s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
        .count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%6.2fs] ", s);
    std::lock_guard<std::mutex> guard{mtx_};
    std::cerr << stamp << line << '\n' << std::flush;
  }

  bool quiet() const noexcept { return quiet_; }

private:
  bool quiet_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mtx_;
};

/// Turns the engine's telemetry into short progress lines; nullopt for the
/// events not worth a line.
std::optional<std::string> describe(const telemetry::event_name& e,
                                    const telemetry::measurements& ms,
                                    const telemetry::metadata& md);

/// Prints `describe`'s lines of every coordinator, operator and LLM event
/// through `say` while it lives (nothing when `say` is quiet).
class progress_lines {
public:
  progress_lines(progress& say, std::string handler_id);
  ~progress_lines();

  progress_lines(const progress_lines&) = delete;
  progress_lines& operator=(const progress_lines&) = delete;

private:
  std::string id_;
  bool attached_ = false;
};

} // namespace caflens::cli
