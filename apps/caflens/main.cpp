// caflens: the command line of caflens.
//
//   caflens demo [--scenario NAME] [--nodes N] [--json]
//   caflens investigate --node HOST:PORT ... REASON
//   caflens node [--listen HOST:PORT] [--scenario NAME]
//
// A table of subcommands; `caflens --help` lists them, `caflens <cmd>
// --help` explains one. Unknown subcommands and options exit with 2.
#include <cstdio>
#include <iostream>

#include "commands.hpp"

namespace caflens::cli {

const std::vector<command>& commands() {
  static const std::vector<command> xs{
    {"demo",
     "run the demo upload pipeline with an injected fault and investigate it",
     demo_main},
    {"investigate",
     "investigate running caflens nodes (--node HOST:PORT ...) and print "
     "the report",
     investigate_main},
    {"node",
     "run the demo pipeline as a cluster node whose agent listens for "
     "coordinators",
     node_main},
  };
  return xs;
}

int usage_error(std::string_view cmd, const std::string& what) {
  std::cerr << "caflens";
  if (!cmd.empty())
    std::cerr << ' ' << cmd;
  std::cerr << ": " << what << "\nTry 'caflens" << (cmd.empty() ? "" : " ")
            << cmd << " --help'.\n";
  return 2;
}

namespace {

void print_help(std::ostream& out) {
  out << "caflens: runtime intelligence for CAF actor applications\n\n"
         "usage: caflens <command> [options]\n\n"
         "commands:\n";
  for (auto& c : commands()) {
    std::string name{c.name};
    name.resize(std::max<size_t>(name.size(), 12), ' ');
    out << "  " << name << "  " << c.summary << '\n';
  }
  out << "\nRun 'caflens <command> --help' for the options of a command.\n"
         "Investigations use the offline rule brain unless an LLM is "
         "configured\n(ANTHROPIC_API_KEY, OPENAI_API_KEY, CAFLENS_LLM_*; "
         "CAFLENS_BRAIN=rule forces\nthe rule brain).\n";
}

} // namespace

} // namespace caflens::cli

int main(int argc, char** argv) {
  using namespace caflens::cli;
  std::vector<std::string> args{argv + std::min(argc, 1), argv + argc};
  if (args.empty()) {
    print_help(std::cerr);
    return 2;
  }
  auto& name = args.front();
  if (name == "--help" || name == "-h" || name == "help") {
    print_help(std::cout);
    return 0;
  }
  for (auto& c : commands())
    if (c.name == name)
      return c.run({args.begin() + 1, args.end()});
  if (!name.empty() && name.front() == '-')
    return usage_error({}, "unknown option '" + name + "'");
  std::string known;
  for (auto& c : commands())
    known += (known.empty() ? "" : ", ") + std::string{c.name};
  return usage_error({}, "unknown command '" + name + "' (commands: " + known +
                           ")");
}
