#include "caflens/skills/proc.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace caflens::skills::proc {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<int64_t> status_value(const std::string& text,
                                    const std::string& key) {
  auto pos = text.find(key + ":");
  if (pos == std::string::npos)
    return std::nullopt;
  pos += key.size() + 1;
  try {
    return std::stoll(text.substr(pos));
  } catch (...) {
    return std::nullopt;
  }
}

namespace {

// Parses "pid (comm) state f4 ... utime(14) stime(15)"; comm may hold
// spaces and parentheses, so split at the last ')'.
bool parse_stat(const std::string& text, std::string& name, char& state,
                uint64_t& ticks) {
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos
      || close < open)
    return false;
  name = text.substr(open + 1, close - open - 1);
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  std::vector<std::string> fields;
  while (rest >> field)
    fields.push_back(field);
  // fields[0] is the state (field 3); utime is field 14, stime field 15.
  if (fields.size() < 13)
    return false;
  state = fields[0].empty() ? '?' : fields[0][0];
  try {
    ticks = std::stoull(fields[11]) + std::stoull(fields[12]);
  } catch (...) {
    return false;
  }
  return true;
}

int64_t count_fds() {
  int64_t n = 0;
  if (auto* dir = opendir("/proc/self/fd")) {
    while (auto* e = readdir(dir))
      if (e->d_name[0] != '.')
        ++n;
    closedir(dir);
    --n; // the descriptor of opendir itself
  }
  return n;
}

} // namespace

std::vector<thread_sample> threads() {
  std::vector<thread_sample> result;
  auto* dir = opendir("/proc/self/task");
  if (dir == nullptr)
    return result;
  while (auto* e = readdir(dir)) {
    if (e->d_name[0] == '.')
      continue;
    auto text = read_file(std::string{"/proc/self/task/"} + e->d_name
                          + "/stat");
    thread_sample t;
    if (!text || !parse_stat(*text, t.name, t.state, t.cpu_ticks))
      continue;
    t.tid = std::atoll(e->d_name);
    result.push_back(std::move(t));
  }
  closedir(dir);
  return result;
}

process_sample process() {
  process_sample p;
  p.ticks_per_second = sysconf(_SC_CLK_TCK);
  p.cores = static_cast<int>(std::thread::hardware_concurrency());
  if (auto st = read_file("/proc/self/status")) {
    p.rss_bytes = status_value(*st, "VmRSS").value_or(0) * 1024;
    p.vm_bytes = status_value(*st, "VmSize").value_or(0) * 1024;
    p.threads = status_value(*st, "Threads").value_or(0);
  }
  if (auto st = read_file("/proc/self/stat")) {
    std::string name;
    char state;
    parse_stat(*st, name, state, p.cpu_ticks);
  }
  if (auto io = read_file("/proc/self/io")) {
    p.read_bytes = status_value(*io, "read_bytes").value_or(0);
    p.write_bytes = status_value(*io, "write_bytes").value_or(0);
  }
  if (auto la = read_file("/proc/loadavg")) {
    std::istringstream in{*la};
    in >> p.load1 >> p.load5 >> p.load15;
  }
  if (auto mi = read_file("/proc/meminfo")) {
    p.mem_total_bytes = status_value(*mi, "MemTotal").value_or(0) * 1024;
    p.mem_available_bytes
      = status_value(*mi, "MemAvailable").value_or(0) * 1024;
  }
  p.open_fds = count_fds();
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    p.max_fds = static_cast<int64_t>(lim.rlim_cur);
  return p;
}

double uptime_seconds() {
  auto st = read_file("/proc/self/stat");
  auto up = read_file("/proc/uptime");
  if (!st || !up)
    return 0;
  // Fields after the command's closing parenthesis start with field 3
  // (state); starttime is field 22, in clock ticks since boot.
  auto close = st->rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream in{st->substr(close + 1)};
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i)
    if (i == 22) {
      double since_boot = std::atof(up->c_str());
      double start = std::atof(field.c_str()) / sysconf(_SC_CLK_TCK);
      return since_boot > start ? since_boot - start : 0;
    }
  return 0;
}

} // namespace caflens::skills::proc
