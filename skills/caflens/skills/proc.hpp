#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace caflens::skills::proc {

/// Whole text of a small /proc file, or nullopt.
std::optional<std::string> read_file(const std::string& path);

/// Value of "Key:" in a /proc/*/status-style file, in the file's unit.
std::optional<int64_t> status_value(const std::string& text,
                                    const std::string& key);

/// One thread of this process (from /proc/self/task/<tid>/stat).
struct thread_sample {
  int64_t tid = 0;
  std::string name;
  char state = '?';
  uint64_t cpu_ticks = 0; // utime + stime
};

std::vector<thread_sample> threads();

/// Process-wide figures.
struct process_sample {
  int64_t rss_bytes = 0;
  int64_t vm_bytes = 0;
  int64_t threads = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;
  uint64_t cpu_ticks = 0;
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  int64_t mem_total_bytes = 0;
  int64_t mem_available_bytes = 0;
  long ticks_per_second = 100;
  int cores = 1;
};

process_sample process();

/// Seconds since this process started (/proc/self/stat against
/// /proc/uptime); 0 when unknown.
double uptime_seconds();

} // namespace caflens::skills::proc
