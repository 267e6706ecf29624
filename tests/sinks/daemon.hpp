// Real peers for the exporter tests: a daemon started on loopback with its
// output in a log file, killed (with its process group) when the handle
// goes; it also dies with the test (PR_SET_PDEATHSIG).
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace caflens::test {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/caflens-sinks-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// A port the kernel just gave out (TCP or UDP); free again when returned.
inline uint16_t free_port(int type = SOCK_STREAM) {
  auto fd = ::socket(AF_INET, type, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// True when `exe` is an executable on the PATH.
inline bool have(const std::string& exe) {
  return std::system(("command -v " + exe + " >/dev/null 2>&1").c_str()) == 0;
}

class daemon_process {
public:
  daemon_process() = default;

  daemon_process(const std::vector<std::string>& argv,
                 const std::filesystem::path& log)
    : log_(log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::setpgid(0, 0);
      auto fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }

  daemon_process(daemon_process&& x) noexcept : pid_(x.pid_), log_(x.log_) {
    x.pid_ = -1;
  }

  daemon_process& operator=(daemon_process&& x) noexcept {
    std::swap(pid_, x.pid_);
    std::swap(log_, x.log_);
    return *this;
  }

  ~daemon_process() {
    stop();
  }

  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// True while the process runs.
  bool alive() const {
    if (pid_ <= 0)
      return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  std::string log() const {
    return read_file(log_);
  }

private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

/// Polls `pred` every 100 ms until it holds or `timeout` passes: for
/// external processes, whose progress a test cannot be told about.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout
                       = std::chrono::seconds{30}) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

} // namespace caflens::test
