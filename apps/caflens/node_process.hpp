// Starting `caflens node` as a child process and learning its port (used by
// `caflens demo --nodes N` and by the multi-process tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace caflens::cli {

/// One child `caflens node` process.
struct node_process {
  pid_t pid = -1;
  uint16_t port = 0;
  /// What it printed before its port (or why it failed).
  std::string output;

  node_process() = default;
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  node_process(node_process&& x) noexcept
    : pid(x.pid), port(x.port), output(std::move(x.output)) {
    x.pid = -1;
  }

  node_process& operator=(node_process&& x) noexcept {
    if (this != &x) {
      kill9();
      pid = x.pid;
      port = x.port;
      output = std::move(x.output);
      x.pid = -1;
    }
    return *this;
  }

  /// A child is never left behind (a failed check, an exception).
  ~node_process() {
    kill9();
  }

  /// Sends `sig` (no-op once reaped).
  void signal(int sig) const {
    if (pid > 0)
      ::kill(pid, sig);
  }

  /// SIGTERM, then SIGKILL after `grace`; reaps it.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds{5}) {
    if (pid <= 0)
      return;
    ::kill(pid, SIGCONT);
    ::kill(pid, SIGTERM);
    auto until = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      ::usleep(20'000);
    }
    pid = -1;
  }

  /// SIGKILL and reap.
  void kill9() {
    if (pid <= 0)
      return;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
};

/// Runs `exe node <args...>` with stdout on a pipe and waits (up to
/// `timeout`) for its "listening HOST:PORT" line. pid -1 on failure
/// (`output` says why). `env` entries ("NAME=value") are added to the
/// child's environment.
inline node_process
start_node_process(const std::string& exe, const std::vector<std::string>& args,
                   const std::vector<std::string>& env = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds{
                     20}) {
  node_process p;
  int fds[2];
  if (::pipe(fds) != 0) {
    p.output = "pipe failed";
    return p;
  }
  auto pid = ::fork();
  if (pid < 0) {
    p.output = "fork failed";
    ::close(fds[0]);
    ::close(fds[1]);
    return p;
  }
  if (pid == 0) {
    // It dies with its parent (a test that aborts leaves nothing behind).
    // Linux sends this signal when the *thread* that forked ends, not the
    // process: start nodes from a thread that outlives them.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    for (auto& e : env)
      ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    static char node_word[] = "node";
    argv.push_back(node_word);
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  p.pid = pid;
  auto until = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (std::chrono::steady_clock::now() < until) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0)
      continue;
    char c;
    auto n = ::read(fds[0], &c, 1);
    if (n <= 0)
      break; // the child closed stdout (it died)
    if (c != '\n') {
      line += c;
      continue;
    }
    if (line.rfind("listening ", 0) == 0) {
      auto colon = line.rfind(':');
      if (colon != std::string::npos)
        p.port = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
      break;
    }
    p.output += line + "\n";
    line.clear();
  }
  // The rest of its output is not read: a child writing more than a pipe
  // holds would block, so it writes nothing after that line.
  ::close(fds[0]);
  if (p.port == 0) {
    p.output += line;
    p.kill9();
  }
  return p;
}

} // namespace caflens::cli
