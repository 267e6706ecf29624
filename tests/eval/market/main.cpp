// caflens-market: the market-data fan-out service of the eval suite with one
// scenario (a fault or a control), investigated by caflens.
//
//   caflens-market --scenario NAME [--json] [--quiet] [--runs-hint N]
//   caflens-market --list
#include <cstdlib>
#include <iostream>
#include <string>

#include "market.hpp"

namespace {

int usage(const std::string& what) {
  std::cerr << "caflens-market: " << what
            << "\nusage: caflens-market --scenario NAME [--json] [--quiet] "
               "[--runs-hint N] | --list\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  std::string name;
  market::run_options opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& opt) -> std::string {
      if (a.rfind(opt + "=", 0) == 0)
        return a.substr(opt.size() + 1);
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (a == "-h" || a == "--help") {
      usage("help");
      return 0;
    }
    if (a == "--list") {
      for (auto& s : market::all_scenarios())
        std::cout << s.name << (s.control ? "  (control)  " : "  ")
                  << s.description << '\n';
      return 0;
    }
    if (a == "--json")
      opts.json = true;
    else if (a == "--quiet" || a == "-q")
      opts.quiet = true;
    else if (a == "--scenario" || a.rfind("--scenario=", 0) == 0)
      name = value("--scenario");
    else if (a == "--runs-hint" || a.rfind("--runs-hint=", 0) == 0)
      opts.runs_hint = std::max(1, std::atoi(value("--runs-hint").c_str()));
    else
      return usage("unknown argument '" + a + "'");
  }
  if (name.empty())
    return usage("--scenario is required");
  auto* sc = market::find_scenario(name);
  if (sc == nullptr)
    return usage("unknown scenario '" + name + "' (see --list)");
  return market::run_scenario(*sc, opts);
}
