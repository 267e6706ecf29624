// caflens-eval: the scoring harness of the eval suite.
//
//   caflens-eval --binary build/apps/caflens/caflens
//                --scenarios tests/eval/scenarios.json [--only NAME]...
//                [--logs DIR] [--timeout SECONDS]
//
// Runs `caflens demo --scenario <name> --json` once per scenario with the
// rule brain (CAFLENS_BRAIN=rule), each in a fresh process, and scores the
// investigation result: the top insight (first of severity warning or worse)
// must carry the expected pattern and, as its first culprit, one of the
// expected actors; a scenario without a pattern (the healthy control) must
// yield no warning-or-worse insight. Prints a table and closes with
// "N passed, M failed"; exits 1 when anything failed.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

struct scenario {
  std::string name;
  /// Empty: no warning-or-worse insight expected.
  std::string pattern;
  std::vector<std::string> culprits;
};

struct outcome {
  bool passed = false;
  std::string got;
  std::string note;
  double seconds = 0;
  int64_t investigation_ms = -1;
};

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

outcome run(const std::string& binary, const scenario& sc,
            const std::string& log_dir, int timeout_s) {
  outcome out;
  auto log = log_dir + "/eval-" + sc.name + ".log";
  auto command = "CAFLENS_BRAIN=rule timeout " + std::to_string(timeout_s) +
                 " " + quote(binary) + " demo --scenario " + quote(sc.name) +
                 " --json 2>" + quote(log);
  auto t0 = std::chrono::steady_clock::now();
  std::string text;
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
      out.note = "caflens exited with " + std::to_string(code) +
                 (code == 124 ? " (timeout)" : "") + "; see " + log;
      return out;
    }
  } else {
    out.note = "cannot run " + binary;
    return out;
  }
  std::ofstream{log_dir + "/eval-" + sc.name + ".json"} << text;
  auto result = json::parse(text, nullptr, false);
  if (!result.is_object()) {
    out.note = "no JSON on stdout; see " + log;
    return out;
  }
  out.investigation_ms = result.value("finished_at", int64_t{0}) -
                         result.value("started_at", int64_t{0});
  // The result orders insights most severe and most likely first.
  auto insights = result.value("insights", json::array());
  const json* top = nullptr;
  for (auto& i : insights)
    if (warning_or_worse(i)) {
      top = &i;
      break;
    }
  if (top == nullptr) {
    out.got = "(nothing warning or worse)";
    out.passed = sc.pattern.empty();
    if (!out.passed)
      out.note = "expected " + sc.pattern;
    return out;
  }
  auto pattern = top->value("pattern", std::string{});
  std::vector<std::string> culprits;
  for (auto& c : top->value("culprits", json::array()))
    if (c.is_string())
      culprits.push_back(c.get<std::string>());
  out.got = pattern + " [" + top->value("severity", std::string{}) + "] " +
            join(culprits, ",");
  if (sc.pattern.empty()) {
    out.note = "the control must yield nothing warning or worse";
    return out;
  }
  if (pattern != sc.pattern) {
    out.note = "wrong pattern";
    return out;
  }
  if (culprits.empty() || std::find(sc.culprits.begin(), sc.culprits.end(),
                                    culprits.front()) == sc.culprits.end()) {
    out.note = "wrong culprit";
    return out;
  }
  out.passed = true;
  return out;
}

std::string pad(std::string x, size_t n) {
  if (x.size() < n)
    x.resize(n, ' ');
  return x;
}

int usage(const std::string& what) {
  std::cerr << "caflens-eval: " << what
            << "\nusage: caflens-eval --binary PATH --scenarios FILE "
               "[--only NAME]... [--logs DIR] [--timeout SECONDS]\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  std::string binary, table_file, log_dir = ".";
  std::vector<std::string> only;
  int timeout_s = 60;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (a == "--binary")
      binary = value();
    else if (a == "--scenarios")
      table_file = value();
    else if (a == "--only")
      only.push_back(value());
    else if (a == "--logs")
      log_dir = value();
    else if (a == "--timeout")
      timeout_s = std::atoi(value().c_str());
    else
      return usage("unknown argument '" + a + "'");
  }
  if (binary.empty() || table_file.empty())
    return usage("--binary and --scenarios are required");
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
    if (row.contains("pattern") && row["pattern"].is_string())
      sc.pattern = row["pattern"].get<std::string>();
    for (auto& c : row.value("culprits", json::array()))
      sc.culprits.push_back(c.get<std::string>());
    if (only.empty() ||
        std::find(only.begin(), only.end(), sc.name) != only.end())
      scenarios.push_back(std::move(sc));
  }
  if (scenarios.empty())
    return usage("no scenario selected");
  std::cout << pad("scenario", 22) << pad("expected", 40)
            << pad("top insight", 44) << pad("invest.", 9) << pad("total", 8)
            << "result\n"
            << std::string(128, '-') << '\n'
            << std::flush;
  size_t passed = 0, failed = 0;
  double total = 0;
  for (auto& sc : scenarios) {
    auto r = run(binary, sc, log_dir, timeout_s);
    total += r.seconds;
    auto expected = sc.pattern.empty()
                      ? std::string{"(nothing warning or worse)"}
                      : sc.pattern + " " + join(sc.culprits, "|");
    char inv[32] = "-", tot[32];
    if (r.investigation_ms >= 0)
      std::snprintf(inv, sizeof(inv), "%lld ms",
                    static_cast<long long>(r.investigation_ms));
    std::snprintf(tot, sizeof(tot), "%.1f s", r.seconds);
    std::cout << pad(sc.name, 22) << pad(expected, 40) << pad(r.got, 44)
              << pad(inv, 9) << pad(tot, 8) << (r.passed ? "PASS" : "FAIL")
              << (r.note.empty() ? "" : " (" + r.note + ")") << '\n'
              << std::flush;
    (r.passed ? passed : failed)++;
  }
  std::cout << std::string(128, '-') << '\n';
  std::printf("total %.1f s\n", total);
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
