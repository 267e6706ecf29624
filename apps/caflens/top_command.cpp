// `caflens top HOST:PORT`: a live terminal view of a running node, like
// observer_cli: its tracked actors sorted by mailbox depth, processed/s,
// handler time, state size or mailbox growth, filtered by name or kind,
// and its supervision trees with their restarts. It reads the node's
// `actors` and `supervision` skills through its agent, once per interval.
//
// Keys: q quit, s next sort key, / filter (Enter applies, Esc clears),
// t supervision pane on/off, + and - the interval. Ctrl-C quits too; the
// terminal is restored however it ends. Without a terminal (or with
// --once) it prints one frame and exits; --json prints the data once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"

#include "caflens/caflens.hpp"

#include "commands.hpp"

namespace caflens::cli {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted = true;
}

/// Raw keys, no echo, the alternate screen; undone by the destructor (and so
/// on every return path).
class terminal {
public:
  terminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0)
      return;
    auto raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    active_ = true;
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;
  }

  ~terminal() {
    if (!active_)
      return;
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

  terminal(const terminal&) = delete;
  terminal& operator=(const terminal&) = delete;

  static std::pair<int, int> size() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
      return {ws.ws_row, ws.ws_col};
    return {24, 100};
  }

private:
  termios saved_{};
  bool active_ = false;
};

const std::vector<std::string>& sort_keys() {
  static const std::vector<std::string> xs{"mailbox", "rate", "handler",
                                           "memory", "growth"};
  return xs;
}

struct row {
  uint64_t id = 0;
  std::string name;
  std::string kind;
  double mailbox = 0;
  double rate = 0;    // processed/s since the previous frame
  double growth = 0;  // mailbox change/s since the previous frame
  double handler_us = 0;
  double memory = 0;
  bool busy = false;
};

double num(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_number() ? i->get<double>() : 0.0;
}

/// What a frame shows; `prev` holds the counters of the previous one.
struct view {
  std::string sort = "mailbox";
  std::string filter;
  bool tree = true;
  std::chrono::milliseconds interval{1000};
  std::map<uint64_t, std::pair<double, double>> prev; // processed, mailbox
  std::chrono::steady_clock::time_point prev_at;

  std::vector<row> rows(const json& actors) {
    auto now = std::chrono::steady_clock::now();
    auto dt = prev.empty()
                ? 0.0
                : std::chrono::duration<double>(now - prev_at).count();
    std::map<uint64_t, std::pair<double, double>> next;
    std::vector<row> out;
    for (auto& a : actors.value("top_by_mailbox", json::array())) {
      row r;
      r.id = a.value("id", uint64_t{0});
      r.name = a.value("name", std::string{});
      r.kind = a.value("kind", std::string{});
      r.mailbox = num(a, "mailbox_depth");
      r.handler_us = num(a, "mean_handler_us");
      r.memory = num(a, "state_bytes");
      r.busy = a.value("in_handler", false);
      auto processed = num(a, "processed");
      next[r.id] = {processed, r.mailbox};
      if (auto i = prev.find(r.id); i != prev.end() && dt > 0) {
        r.rate = std::max(0.0, processed - i->second.first) / dt;
        r.growth = (r.mailbox - i->second.second) / dt;
      }
      if (!filter.empty() && r.name.find(filter) == std::string::npos
          && r.kind.find(filter) == std::string::npos)
        continue;
      out.push_back(std::move(r));
    }
    prev = std::move(next);
    prev_at = now;
    auto key = [this](const row& r) {
      if (sort == "rate")
        return r.rate;
      if (sort == "handler")
        return r.handler_us;
      if (sort == "memory")
        return r.memory;
      if (sort == "growth")
        return r.growth;
      return r.mailbox;
    };
    std::stable_sort(out.begin(), out.end(), [&](const row& x, const row& y) {
      return key(x) > key(y);
    });
    return out;
  }
};

std::string fmt(double x, int digits = 0) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

std::string pad(std::string x, size_t n, bool right = false) {
  if (x.size() > n)
    x.resize(n);
  auto fill = std::string(n - x.size(), ' ');
  return right ? fill + x : x + fill;
}

/// The supervision pane: each supervisor (strategy, restarts in its
/// period), then its children (status, restarts), nested supervisors
/// indented under their entry.
void render_tree(std::ostringstream& out, const json& sup, int& lines_left) {
  std::function<void(const json&, int)> walk = [&](const json& s, int depth) {
    if (lines_left-- <= 0)
      return;
    out << std::string(2 + 2 * depth, ' ')
        << s.value("name", std::string{"?"}) << " ("
        << s.value("strategy", std::string{}) << ", "
        << s.value("restarts_in_period", 0) << " restarts in "
        << s.value("period_ms", 0) / 1000 << " s)\n";
    for (auto& c : s.value("children", json::array())) {
      if (lines_left-- <= 0)
        return;
      out << std::string(4 + 2 * depth, ' ') << c.value("id", std::string{})
          << "  " << c.value("status", std::string{}) << "  restarts "
          << c.value("restarts", 0) << '\n';
      if (c.contains("tree") && c["tree"].is_object())
        walk(c["tree"], depth + 2);
    }
  };
  for (auto& s : sup.value("trees", json::array()))
    walk(s, 0);
}

std::string frame(view& v, const std::string& node, const json& actors,
                  const json& sup, const std::string& error, int height,
                  bool typing, const std::string& typed) {
  std::ostringstream out;
  auto rs = v.rows(actors);
  out << "caflens top — " << node << "  actors " << actors.value("count", 0)
      << "  messages waiting " << actors.value("total_mailbox_depth", 0)
      << "  every " << fmt(v.interval.count() / 1000.0, 1) << " s\n";
  out << "sort: " << v.sort << "  filter: "
      << (v.filter.empty() ? "-" : v.filter)
      << "   [q]uit [s]ort [/]filter [t]ree [+/-] interval\n";
  if (!error.empty())
    out << "! " << error << '\n';
  out << '\n'
      << pad("ID", 7, true) << "  " << pad("NAME", 22) << pad("KIND", 16)
      << pad("MAILBOX", 9, true) << pad("GROWTH/S", 10, true)
      << pad("MSGS/S", 10, true) << pad("HANDLER_US", 12, true)
      << pad("STATE_B", 10, true) << "\n";
  int tree_lines = v.tree ? std::max(4, height / 3) : 0;
  int budget = std::max(3, height - 6 - tree_lines);
  for (auto& r : rs) {
    if (budget-- <= 0)
      break;
    out << pad(std::to_string(r.id), 7, true) << "  "
        << pad(r.name + (r.busy ? "*" : ""), 22) << pad(r.kind, 16)
        << pad(fmt(r.mailbox), 9, true) << pad(fmt(r.growth), 10, true)
        << pad(fmt(r.rate), 10, true) << pad(fmt(r.handler_us, 1), 12, true)
        << pad(fmt(r.memory), 10, true) << '\n';
  }
  if (v.tree) {
    out << "\nsupervision\n";
    render_tree(out, sup, tree_lines);
  }
  if (typing)
    out << "\nfilter: " << typed << "_";
  return out.str();
}

} // namespace

int run_top(const top_options& opts) {
  auto attached = attached_lens::start("top", {opts.node}, opts.tls);
  if (!attached) {
    std::cerr << "caflens top: " << to_string(attached.error()) << '\n';
    return exit_code::failure;
  }
  auto* lens = &(*attached)->lens();
  if ((*attached)->connected() == 0) {
    auto peers = lens->cluster();
    std::cerr << "caflens top: " << opts.node << ": "
              << (peers.empty() ? std::string{"not connected"}
                                : std::string{to_string(peers[0].state)}
                                    + (peers[0].error.empty()
                                         ? ""
                                         : ": " + peers[0].error))
              << '\n';
    return exit_code::failure;
  }
  auto node = lens->cluster().at(0).name;
  auto look = [&](const char* skill, json& out, std::string& err) {
    auto snap = lens->snapshot_of(node, skill);
    if (!snap) {
      err = render_error(snap.error());
      return;
    }
    out = json::parse(snap->data, nullptr, false);
    if (!out.is_object()) {
      err = std::string{skill} + ": the node sent no JSON object";
      out = json::object();
    }
  };
  view v;
  v.sort = opts.sort;
  v.filter = opts.filter;
  v.interval = opts.interval;
  json actors = json::object();
  json sup = json::object();
  std::string err;
  if (opts.json || opts.once || !::isatty(STDOUT_FILENO)
      || !::isatty(STDIN_FILENO)) {
    look("actors", actors, err);
    if (!opts.json && err.empty()) {
      // Two looks an interval apart: the frame shows rates.
      v.rows(actors);
      std::this_thread::sleep_for(v.interval);
      look("actors", actors, err);
    }
    look("supervision", sup, err);
    int rc = err.empty() ? exit_code::ok : exit_code::failure;
    if (opts.json) {
      std::cout << json{{"caflens_cli", json_version},
                        {"command", "top"},
                        {"data",
                         {{"node", node},
                          {"actors", actors},
                          {"supervision", sup}}}}
                     .dump(2)
                << '\n';
    } else {
      std::cout << frame(v, node, actors, sup, err, 40, false, "");
    }
    return rc;
  }
  interrupted = false;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  {
    terminal term;
    bool typing = false;
    std::string typed;
    auto next = std::chrono::steady_clock::now();
    bool quit = false;
    while (!quit && !interrupted) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next) {
        err.clear();
        look("actors", actors, err);
        if (v.tree)
          look("supervision", sup, err);
        next = now + v.interval;
      }
      auto [height, width] = terminal::size();
      (void) width;
      std::cout << "\x1b[H\x1b[2J"
                << frame(v, node, actors, sup, err, height, typing, typed)
                << std::flush;
      // Keys until the next refresh.
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next - std::chrono::steady_clock::now());
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, wait.count())))
          <= 0)
        continue;
      char c = 0;
      while (::read(STDIN_FILENO, &c, 1) == 1) {
        if (typing) {
          if (c == '\n' || c == '\r') {
            v.filter = typed;
            typing = false;
          } else if (c == 27) {
            v.filter.clear();
            typing = false;
          } else if (c == 127 || c == 8) {
            if (!typed.empty())
              typed.pop_back();
          } else if (c >= 32) {
            typed += c;
          }
          continue;
        }
        switch (c) {
          case 'q':
            quit = true;
            break;
          case 's': {
            auto& ks = sort_keys();
            auto i = std::find(ks.begin(), ks.end(), v.sort);
            v.sort = (i == ks.end() || i + 1 == ks.end()) ? ks.front()
                                                          : *(i + 1);
            break;
          }
          case '/':
            typing = true;
            typed = v.filter;
            break;
          case 't':
            v.tree = !v.tree;
            break;
          case '+':
            v.interval = std::min<std::chrono::milliseconds>(
              v.interval + 500ms, 60s);
            break;
          case '-':
            v.interval = std::max<std::chrono::milliseconds>(
              v.interval - 500ms, 500ms);
            break;
          default:
            break;
        }
      }
    }
  }
  return exit_code::ok;
}

} // namespace caflens::cli
