// caflens-eval: the scoring harness of the eval suite.
//
//   caflens-eval [--binary PATH] [--app NAME=PATH]...
//                --scenarios FILE [--only NAME]... [--logs DIR]
//                [--timeout SECONDS] [--runs N] [--jobs J]
//
// Runs every scenario of the table N times (default 1), J processes at a
// time (default 1), each in a fresh process with the rule brain
// (CAFLENS_BRAIN=rule), and scores the investigation result it prints as
// JSON on stdout.
//
// A row names its application with "app" (default "demo"): the demo runs as
// `<--binary> demo --scenario NAME --json`, any other app as
// `<path of --app NAME=PATH> --scenario NAME --json --runs-hint J`.
//
// What a row expects (every insight looked at is of severity warning or
// worse; the top insight is the first of them, the result orders insights
// most severe and most likely first):
//   "pattern": P        the top insight has pattern P (null: no insight at
//                       all, the control's expectation);
//   "culprits": [...]   ... and its first culprit is one of these;
//   "culprits_all": [...] ... and every one of these is among its culprits;
//   "insights": [{"pattern", "culprits", "culprits_all", "symptomatic"}]
//                       compound faults: each expected insight matches a
//                       distinct insight of the result (anywhere in the
//                       list); "symptomatic": true/false checks whether the
//                       result marks it a symptom of another insight;
//   "known_gap": "why"  caflens's diagnosis is known to be wrong here: the
//                       scenario is reported as "known gap" and does not
//                       fail the run (a known gap that passes every run is
//                       reported as passed, so that the mark can go; a run
//                       that yields no result at all still fails).
// A run whose result reports a failed detector or a crashed operator fails
// whatever its insights: part of the system went unseen.
// A scenario passes only when all its runs pass.
//
// Prints a table, precision and recall per pattern (over all runs: the
// expected label of a run is its row's top pattern, "(none)" for controls;
// the predicted label the top insight's pattern), the number of known gaps,
// and closes with "N passed, M failed"; exits 1 when anything failed.
//
// --sanitized: the application runs under a sanitizer (ASan from
// scripts/test.sh --sanitize, whose memory overhead the memory detectors
// rightly see; TSan from scripts/tsan.sh, whose slowdown backs the
// pipeline up), so a wrong diagnosis is reported but not counted; a run
// without a result (a sanitizer report aborts it) and protocol violations
// still fail.
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

constexpr const char* none_label = "(none)";

struct expectation {
  std::string pattern;
  std::vector<std::string> culprits;
  std::vector<std::string> culprits_all;
  std::optional<bool> symptomatic;
};

struct scenario {
  std::string name;
  std::string app = "demo";
  /// Empty: no warning-or-worse insight expected at the top (and none at
  /// all when `insights` is empty too).
  std::string pattern;
  std::vector<std::string> culprits;
  std::vector<std::string> culprits_all;
  std::vector<expectation> insights;
  std::string known_gap;

  /// The label precision and recall count this scenario under.
  std::string expected_label() const {
    if (!pattern.empty())
      return pattern;
    if (!insights.empty())
      return insights.front().pattern;
    return none_label;
  }
};

struct outcome {
  bool passed = false;
  bool ran = false;
  std::string got;
  std::string predicted = none_label;
  std::string note;
  double seconds = 0;
  int64_t investigation_ms = -1;
  /// Tokens the investigation's model calls reported (LLM mode).
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

/// How the applications reason: the rule brain (default), or a model server
/// speaking `protocol` at `base_url`.
struct brain_mode {
  std::string protocol;
  std::string base_url;
  /// Streamed replies (CAFLENS_LLM_STREAM=1).
  bool stream = false;

  bool llm() const {
    return !base_url.empty();
  }

  std::string env() const {
    if (!llm())
      return "CAFLENS_BRAIN=rule ";
    return "env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY CAFLENS_BRAIN=llm "
           "CAFLENS_LLM_PROVIDER=" + protocol
           + " CAFLENS_LLM_BASE_URL=" + base_url
           + " CAFLENS_LLM_MODEL=plausible CAFLENS_LLM_API_KEY_ENV= "
           + (stream ? "CAFLENS_LLM_STREAM=1 " : "");
  }

  std::string expected_brain() const {
    return llm() ? "llm" : "rule";
  }
};

brain_mode mode;

std::string quote(const std::string& x) {
  std::string out = "'";
  for (auto c : x)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : sep) + x;
  return out;
}

bool warning_or_worse(const json& insight) {
  auto s = insight.value("severity", std::string{"info"});
  return s == "warning" || s == "critical";
}

std::vector<std::string> strings(const json& xs) {
  std::vector<std::string> out;
  if (xs.is_array())
    for (auto& x : xs)
      if (x.is_string())
        out.push_back(x.get<std::string>());
  return out;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::string describe(const json& insight) {
  auto out = insight.value("pattern", std::string{}) + " [" +
             join(strings(insight.value("culprits", json::array())), ",") +
             "]";
  if (insight.value("correlation", std::string{}) == "symptomatic")
    out += "*";
  return out;
}

std::string describe(const expectation& e) {
  std::string out = e.pattern;
  std::vector<std::string> names = e.culprits;
  for (auto& c : e.culprits_all)
    if (!contains(names, c))
      names.push_back("&" + c);
  if (!names.empty())
    out += " [" + join(names, "|") + "]";
  if (e.symptomatic)
    out += *e.symptomatic ? "*" : "!*";
  return out;
}

/// Why `insight` does not meet `e` (empty: it does).
std::string mismatch(const json& insight, const expectation& e) {
  if (insight.value("pattern", std::string{}) != e.pattern)
    return "wrong pattern";
  auto culprits = strings(insight.value("culprits", json::array()));
  if (!e.culprits.empty() &&
      (culprits.empty() || !contains(e.culprits, culprits.front())))
    return "wrong culprit";
  for (auto& c : e.culprits_all)
    if (!contains(culprits, c))
      return "culprit " + c + " missing";
  if (e.symptomatic) {
    bool symptom =
      insight.value("correlation", std::string{}) == "symptomatic";
    if (symptom != *e.symptomatic)
      return *e.symptomatic ? "not marked symptomatic"
                            : "wrongly marked symptomatic";
  }
  return {};
}

/// Scores the insights of one investigation result against its row.
void score_insights(const scenario& sc, const json& result, outcome& out) {
  // A local copy: the pointers below point into it.
  auto all = result.value("insights", json::array());
  std::vector<const json*> insights;
  for (auto& i : all)
    if (warning_or_worse(i))
      insights.push_back(&i);
  out.predicted = none_label;
  if (insights.empty()) {
    out.got = "(nothing warning or worse)";
  } else {
    out.predicted = insights.front()->value("pattern", std::string{});
    out.got = describe(*insights.front());
    if (!sc.insights.empty())
      for (size_t i = 1; i < insights.size() && i < 4; ++i)
        out.got += " + " + describe(*insights[i]);
  }
  if (sc.pattern.empty() && sc.insights.empty()) {
    out.passed = insights.empty();
    if (!out.passed)
      out.note = "the control must yield nothing warning or worse";
    return;
  }
  if (!sc.pattern.empty()) {
    if (insights.empty()) {
      out.note = "expected " + sc.pattern;
      return;
    }
    expectation top{sc.pattern, sc.culprits, sc.culprits_all, std::nullopt};
    if (auto why = mismatch(*insights.front(), top); !why.empty()) {
      out.note = why;
      return;
    }
  }
  // Each expected insight takes a distinct insight of the result.
  std::vector<bool> used(insights.size(), false);
  for (auto& e : sc.insights) {
    std::string why = "no " + e.pattern + " insight";
    bool found = false;
    for (size_t i = 0; i < insights.size() && !found; ++i) {
      if (used[i])
        continue;
      auto m = mismatch(*insights[i], e);
      if (m.empty()) {
        used[i] = found = true;
      } else if (insights[i]->value("pattern", std::string{}) == e.pattern) {
        why = e.pattern + ": " + m;
      }
    }
    if (!found) {
      out.note = why;
      return;
    }
  }
  out.passed = true;
}

/// Scores one investigation result against its row.
void score(const scenario& sc, const json& result, outcome& out) {
  score_insights(sc, result, out);
  // A detector or operator that failed leaves part of the system unseen: the
  // verdict (even a quiet control's) is not to be trusted.
  for (auto& n : result.value("notifications", json::array())) {
    auto type = n.value("anomaly_type", std::string{});
    if (type == "detector_failed" || type == "operator_crashed") {
      out.passed = false;
      out.note = type + " (" + n.value("skill", std::string{}) + "): " +
                 n.value("observation", std::string{}).substr(0, 80);
      return;
    }
  }
}

struct app_binaries {
  std::map<std::string, std::string> paths;
};

outcome run(const app_binaries& apps, const scenario& sc, int run_index,
            int runs, int jobs, const std::string& log_dir, int timeout_s) {
  outcome out;
  auto i = apps.paths.find(sc.app);
  if (i == apps.paths.end() || i->second.empty()) {
    out.note = "no binary for app '" + sc.app + "' (--binary / --app)";
    out.predicted = "(error)";
    return out;
  }
  auto stem = log_dir + "/eval-" + (sc.app == "demo" ? "" : sc.app + "-") +
              sc.name + (runs > 1 ? ".r" + std::to_string(run_index) : "");
  auto log = stem + ".log";
  auto args = sc.app == "demo"
                ? " demo --scenario " + quote(sc.name) + " --json"
                : " --scenario " + quote(sc.name) + " --json --runs-hint " +
                    std::to_string(jobs);
  auto command = mode.env() + "timeout " + std::to_string(timeout_s) +
                 " " + quote(i->second) + args + " 2>" + quote(log);
  auto t0 = std::chrono::steady_clock::now();
  std::string text;
  out.predicted = "(error)";
  if (auto* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
      text.append(buf, n);
    auto status = pclose(pipe);
    out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
        .count();
    if (status != 0) {
      auto code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      out.note = sc.app + " exited with " + std::to_string(code) +
                 (code == 124 ? " (timeout)" : "") + "; see " + log;
      return out;
    }
  } else {
    out.note = "cannot run " + i->second;
    return out;
  }
  std::ofstream{stem + ".json"} << text;
  auto result = json::parse(text, nullptr, false);
  if (!result.is_object()) {
    out.note = "no JSON on stdout; see " + log;
    return out;
  }
  out.ran = true;
  out.investigation_ms = result.value("finished_at", int64_t{0}) -
                         result.value("started_at", int64_t{0});
  out.input_tokens = result.value("input_tokens", int64_t{0});
  out.output_tokens = result.value("output_tokens", int64_t{0});
  score(sc, result, out);
  // A run that reasoned with another brain than asked for (a model that
  // failed and handed over to the rule engine) is no pass of this mode.
  if (auto brain = result.value("brain", std::string{});
      brain != mode.expected_brain()) {
    out.passed = false;
    out.note = "brain '" + brain + "', expected '" + mode.expected_brain()
               + "'";
  }
  return out;
}

/// `x` padded to `n` columns, or followed by one space when it is longer.
std::string pad(std::string x, size_t n) {
  if (x.size() < n)
    x.resize(n, ' ');
  else
    x += ' ';
  return x;
}

int usage(const std::string& what) {
  std::cerr << "caflens-eval: " << what
            << "\nusage: caflens-eval [--binary PATH] [--app NAME=PATH]... "
               "--scenarios FILE [--only NAME]... [--logs DIR] "
               "[--timeout SECONDS] [--runs N] [--jobs J] "
               "[--model-server PATH [--protocol anthropic|openai] [--stream]] "
               "[--sanitized]\n";
  return 2;
}

expectation parse_expectation(const json& row) {
  expectation e;
  if (row.contains("pattern") && row["pattern"].is_string())
    e.pattern = row["pattern"].get<std::string>();
  e.culprits = strings(row.value("culprits", json::array()));
  e.culprits_all = strings(row.value("culprits_all", json::array()));
  if (row.contains("symptomatic") && row["symptomatic"].is_boolean())
    e.symptomatic = row["symptomatic"].get<bool>();
  return e;
}

/// A model server child process: its port from its first stdout line, its
/// statistics from the last when stopped (SIGTERM).
struct model_process {
  pid_t pid = -1;
  int port = 0;
  FILE* out = nullptr;

  static std::optional<model_process> start(const std::string& path) {
    int fds[2];
    if (pipe(fds) != 0)
      return std::nullopt;
    auto pid = fork();
    if (pid < 0)
      return std::nullopt;
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    model_process p;
    p.pid = pid;
    p.out = fdopen(fds[0], "r");
    char line[64] = {0};
    if (p.out == nullptr || fgets(line, sizeof(line), p.out) == nullptr
        || (p.port = std::atoi(line)) <= 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return std::nullopt;
    }
    return p;
  }

  std::string stop() {
    kill(pid, SIGTERM);
    std::string text;
    char buf[4096];
    while (fgets(buf, sizeof(buf), out) != nullptr)
      text += buf;
    fclose(out);
    waitpid(pid, nullptr, 0);
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    return text;
  }
};

} // namespace

int main(int argc, char** argv) {
  std::string table_file, log_dir = ".";
  app_binaries apps;
  std::vector<std::string> only;
  int timeout_s = 60, runs = 1, jobs = 1;
  bool sanitized = false;
  std::string model_server;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (a == "--binary") {
      apps.paths["demo"] = value();
    } else if (a == "--app") {
      auto v = value();
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        return usage("--app takes NAME=PATH, got '" + v + "'");
      apps.paths[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--scenarios") {
      table_file = value();
    } else if (a == "--only") {
      only.push_back(value());
    } else if (a == "--logs") {
      log_dir = value();
    } else if (a == "--timeout") {
      timeout_s = std::atoi(value().c_str());
    } else if (a == "--runs") {
      runs = std::atoi(value().c_str());
    } else if (a == "--jobs") {
      jobs = std::atoi(value().c_str());
    } else if (a == "--model-server") {
      model_server = value();
    } else if (a == "--stream") {
      mode.stream = true;
    } else if (a == "--sanitized") {
      sanitized = true;
    } else if (a == "--protocol") {
      mode.protocol = value();
      if (mode.protocol != "anthropic" && mode.protocol != "openai")
        return usage("--protocol takes anthropic or openai, got '"
                     + mode.protocol + "'");
    } else {
      return usage("unknown argument '" + a + "'");
    }
  }
  if (apps.paths.empty() || table_file.empty())
    return usage("--scenarios and --binary or --app are required");
  if (runs < 1 || jobs < 1 || timeout_s < 1)
    return usage("--runs, --jobs and --timeout must be positive");
  // LLM mode: the applications ask a model server this harness runs.
  std::optional<model_process> server;
  if (!model_server.empty()) {
    if (mode.protocol.empty())
      mode.protocol = "anthropic";
    server = model_process::start(model_server);
    if (!server)
      return usage("cannot start the model server " + model_server);
    mode.base_url = "http://127.0.0.1:" + std::to_string(server->port)
                    + (mode.protocol == "openai" ? "/v1" : "");
    std::cerr << "model server on port " << server->port << " ("
              << mode.protocol << ")\n";
  }
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec)
    return usage("cannot create the log directory " + log_dir + ": " +
                 ec.message());
  std::ifstream in{table_file};
  auto table = json::parse(in, nullptr, false);
  if (!table.is_object() || !table.contains("scenarios"))
    return usage("cannot read the scenario table " + table_file);
  std::vector<scenario> scenarios;
  for (auto& row : table["scenarios"]) {
    scenario sc;
    sc.name = row.value("scenario", std::string{});
    sc.app = row.value("app", std::string{"demo"});
    auto top = parse_expectation(row);
    sc.pattern = top.pattern;
    sc.culprits = top.culprits;
    sc.culprits_all = top.culprits_all;
    for (auto& e : row.value("insights", json::array()))
      sc.insights.push_back(parse_expectation(e));
    sc.known_gap = row.value("known_gap", std::string{});
    if (only.empty() || contains(only, sc.name))
      scenarios.push_back(std::move(sc));
  }
  if (scenarios.empty())
    return usage("no scenario selected");
  // Every run of every scenario, dealt to `jobs` workers.
  std::vector<std::vector<outcome>> results(scenarios.size(),
                                            std::vector<outcome>(runs));
  std::vector<std::pair<size_t, int>> work;
  for (int r = 0; r < runs; ++r)
    for (size_t s = 0; s < scenarios.size(); ++s)
      work.emplace_back(s, r);
  std::atomic<size_t> next{0};
  std::mutex out_mtx;
  size_t done = 0;
  auto wall0 = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (;;) {
      auto k = next.fetch_add(1);
      if (k >= work.size())
        return;
      auto [s, r] = work[k];
      auto res = run(apps, scenarios[s], r + 1, runs, jobs, log_dir, timeout_s);
      std::lock_guard<std::mutex> guard{out_mtx};
      results[s][r] = res;
      ++done;
      std::cerr << "[" << done << "/" << work.size() << "] "
                << scenarios[s].name << " run " << r + 1 << ": "
                << (res.passed ? "pass" : "FAIL") << " (" << res.got
                << (res.note.empty() ? "" : "; " + res.note) << ")\n"
                << std::flush;
    }
  };
  std::vector<std::thread> workers;
  for (int j = 0; j < jobs; ++j)
    workers.emplace_back(worker);
  for (auto& w : workers)
    w.join();
  auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                            wall0)
                .count();
  // -- table ------------------------------------------------------------------
  std::cout << pad("scenario", 28) << pad("app", 8) << pad("expected", 48)
            << pad("got (top insight)", 48) << pad("runs", 6)
            << pad("invest.", 9) << pad("total", 8) << "result\n"
            << std::string(164, '-') << '\n';
  size_t passed = 0, failed = 0, gaps = 0;
  double total = 0;
  for (size_t s = 0; s < scenarios.size(); ++s) {
    auto& sc = scenarios[s];
    auto& rs = results[s];
    size_t ok = 0;
    double secs = 0;
    int64_t inv = 0, inv_n = 0;
    const outcome* shown = &rs.front();
    for (auto& r : rs) {
      total += r.seconds;
      secs += r.seconds;
      if (r.passed)
        ++ok;
      else if (shown->passed)
        shown = &r;
      if (r.investigation_ms >= 0) {
        inv += r.investigation_ms;
        ++inv_n;
      }
    }
    std::string expected;
    if (sc.pattern.empty() && sc.insights.empty()) {
      expected = "(nothing warning or worse)";
    } else {
      if (!sc.pattern.empty())
        expected = describe(
          expectation{sc.pattern, sc.culprits, sc.culprits_all, std::nullopt});
      for (auto& e : sc.insights)
        expected += (expected.empty() ? "" : " + ") + describe(e);
    }
    char inv_text[32] = "-", tot[32];
    if (inv_n > 0)
      std::snprintf(inv_text, sizeof(inv_text), "%lld ms",
                    static_cast<long long>(inv / inv_n));
    std::snprintf(tot, sizeof(tot), "%.1f s", secs / rs.size());
    bool all = ok == rs.size();
    // A run without a result (crash, timeout, no JSON) is a failure of the
    // application, which no known gap of the diagnosis excuses.
    bool broken = std::any_of(rs.begin(), rs.end(),
                              [](const outcome& r) { return !r.ran; });
    std::string verdict;
    if (broken) {
      for (auto& r : rs)
        if (!r.ran) {
          shown = &r;
          break;
        }
      verdict = "FAIL (" + shown->note + ")";
      ++failed;
    } else if (all) {
      verdict = "PASS";
      if (!sc.known_gap.empty())
        verdict += " (known gap no longer reproduces: drop its mark)";
      ++passed;
    } else if (!sc.known_gap.empty()) {
      verdict = "known gap (" + sc.known_gap + ")";
      ++gaps;
    } else if (sanitized) {
      verdict = "wrong under a sanitizer (not counted)"
                + (shown->note.empty() ? "" : " (" + shown->note + ")");
    } else {
      verdict = "FAIL" + (shown->note.empty() ? "" : " (" + shown->note + ")");
      ++failed;
    }
    std::cout << pad(sc.name, 28) << pad(sc.app, 8) << pad(expected, 48)
              << pad(shown->got, 48)
              << pad(std::to_string(ok) + "/" + std::to_string(rs.size()), 6)
              << pad(inv_text, 9) << pad(tot, 8) << verdict << '\n';
  }
  std::cout << std::string(164, '-') << '\n';
  // -- precision and recall per pattern ------------------------------------------
  std::map<std::string, std::array<size_t, 3>> counts; // tp, fp, fn
  for (size_t s = 0; s < scenarios.size(); ++s) {
    auto expected = scenarios[s].expected_label();
    for (auto& r : results[s]) {
      if (r.predicted == expected) {
        ++counts[expected][0];
      } else {
        ++counts[r.predicted][1];
        ++counts[expected][2];
      }
    }
  }
  std::cout << "precision and recall per pattern (top insight, over "
            << runs << (runs == 1 ? " run" : " runs") << " of each scenario)\n"
            << pad("  pattern", 26) << pad("expected", 10)
            << pad("predicted", 11) << pad("precision", 11) << "recall\n";
  for (auto& [label, c] : counts) {
    auto [tp, fp, fn] = c;
    auto ratio = [](size_t a, size_t b) {
      if (b == 0)
        return std::string{"-"};
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.2f", double(a) / double(b));
      return std::string{buf};
    };
    std::cout << pad("  " + label, 26) << pad(std::to_string(tp + fn), 10)
              << pad(std::to_string(tp + fp), 11) << pad(ratio(tp, tp + fp), 11)
              << ratio(tp, tp + fn) << '\n';
  }
  std::printf("total %.1f s of runs, %.1f s wall (%d runs, %d jobs)\n", total,
              wall, runs, jobs);
  std::cout << gaps << (gaps == 1 ? " known gap" : " known gaps")
            << " (diagnosis known to be wrong; not counted as failures)\n";
  if (mode.llm()) {
    // Tokens per investigation by scenario (the model's usage reports).
    std::cout << "tokens per investigation (mean over runs): input / output\n";
    for (size_t s = 0; s < scenarios.size(); ++s) {
      int64_t in = 0, out = 0;
      for (auto& r : results[s]) {
        in += r.input_tokens;
        out += r.output_tokens;
      }
      auto n = static_cast<int64_t>(results[s].size());
      std::cout << "  " << pad(scenarios[s].name, 28) << in / n << " / "
                << out / n << '\n';
    }
    if (server) {
      auto stats = server->stop();
      std::cout << "model server: " << stats << '\n';
      auto j = json::parse(stats, nullptr, false);
      if (j.is_object() && !j.value("violations", json::array()).empty()) {
        std::cout << "protocol violations: the run fails\n";
        ++failed;
      }
      if (mode.stream && j.is_object()
          && j.value("streamed", 0) != j.value("requests", -1)) {
        std::cout << "--stream: not every request was streamed\n";
        ++failed;
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
