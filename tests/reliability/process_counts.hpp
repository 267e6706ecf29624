// What the reliability programs count before and after a run: the actors
// of an actor system, the process's threads and open descriptors, the live
// heap and RSS.
#pragma once

#include <dirent.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"

#include "caflens/skills/proc.hpp"

namespace reliability {

inline int64_t count_dir(const char* path) {
  int64_t n = 0;
  if (auto* d = opendir(path)) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    closedir(d);
  }
  return n;
}

/// What each open descriptor points at.
inline std::map<int, std::string> fd_targets() {
  std::map<int, std::string> out;
  if (auto* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      char buf[512];
      auto path = std::string{"/proc/self/fd/"} + e->d_name;
      auto n = readlink(path.c_str(), buf, sizeof(buf) - 1);
      if (n > 0)
        out[std::atoi(e->d_name)] = std::string{buf, static_cast<size_t>(n)};
    }
    closedir(d);
  }
  return out;
}

struct counts {
  std::map<int, std::string> fd_paths;
  size_t actors = 0;
  int64_t threads = 0;
  int64_t fds = 0;
  int64_t rss = 0;
  /// Live heap: glibc's in-use and mmapped bytes.
  int64_t heap = 0;
};

inline counts measure(caf::actor_system& sys) {
  counts c;
  c.actors = sys.registry().running();
  c.threads = count_dir("/proc/self/task");
  c.fd_paths = fd_targets();
  c.fds = static_cast<int64_t>(c.fd_paths.size()) - 1; // opendir's own
  c.rss = caflens::skills::proc::process().rss_bytes;
  auto mi = mallinfo2();
  c.heap = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  return c;
}

/// Descriptors open after that were not (or pointed elsewhere) before.
inline std::vector<std::string> opened_since(const counts& before,
                                             const counts& after) {
  std::vector<std::string> out;
  for (auto& [fd, path] : after.fd_paths) {
    auto i = before.fd_paths.find(fd);
    if (i == before.fd_paths.end() || i->second != path)
      out.push_back(std::to_string(fd) + " " + path);
  }
  return out;
}

/// As the summaries print them.
inline nlohmann::json to_json(const counts& c) {
  return {{"actors", c.actors},   {"threads", c.threads},
          {"fds", c.fds},         {"rss_mib", c.rss >> 20},
          {"heap_mib", c.heap >> 20}};
}

/// Actors, threads or descriptors not back where they were, or a live heap
/// that grew by more than 8 MiB since `half_heap` (the heap in the middle
/// of the run: the first half fills what is bounded).
inline bool leaked(const counts& before, const counts& after,
                   int64_t half_heap) {
  return after.actors > before.actors || after.threads > before.threads
         || after.fds > before.fds || after.heap - half_heap > (8 << 20);
}

/// p50, p99 and max of `xs` (sorted in place).
inline nlohmann::json percentiles(std::vector<double>& xs) {
  std::sort(xs.begin(), xs.end());
  auto at = [&](double q) {
    return xs.empty() ? 0.0
                      : xs[std::min(xs.size() - 1,
                                    static_cast<size_t>(q * xs.size()))];
  };
  return {{"p50", at(0.5)}, {"p99", at(0.99)}, {"max", at(1.0)}};
}

} // namespace reliability
