// caflens: the command line of caflens, parsed with CLI11 (the only file
// that includes it). `caflens --help` lists the commands, `caflens <cmd>
// --help` explains one; a bad command line is one line on stderr and exit
// code 2.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "caflens/actors/cluster.hpp"

#include "commands.hpp"

namespace {

using namespace caflens;
using namespace caflens::cli;

std::vector<std::string> scenario_names() {
  std::vector<std::string> xs;
  for (auto s : demo::all_scenarios())
    xs.emplace_back(demo::to_string(s));
  return xs;
}

/// HOST:PORT with a port (0 allowed when `any_port`).
CLI::Validator address(bool any_port) {
  return CLI::Validator(
    [any_port](std::string& x) -> std::string {
      std::string host;
      uint16_t port = 0;
      if (!parse_address(x, host, port) || (port == 0 && !any_port))
        return "takes HOST:PORT, not '" + x + "'";
      return {};
    },
    "HOST:PORT");
}

void add_tls(CLI::App* cmd, tls_files& tls) {
  cmd->add_option("--tls-cert", tls.cert,
                  "TLS through CAF's OpenSSL module: this node's certificate")
    ->check(CLI::ExistingFile)
    ->group("TLS");
  cmd->add_option("--tls-key", tls.key, "its private key")
    ->check(CLI::ExistingFile)
    ->group("TLS");
  cmd->add_option("--tls-ca", tls.ca,
                  "the CA that signed the peers' certificates (verified)")
    ->check(CLI::ExistingFile)
    ->group("TLS");
}

demo::scenario to_scenario(const std::string& x) {
  demo::scenario s = demo::scenario::healthy;
  demo::parse_scenario(x, s);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"caflens: runtime intelligence for CAF actor applications",
               "caflens"};
  app.require_subcommand(1, 1);
  app.footer(
    "Run 'caflens <command> --help' for the options of a command.\n"
    "Investigations use the offline rule brain unless an LLM is configured\n"
    "(ANTHROPIC_API_KEY, OPENAI_API_KEY, CAFLENS_LLM_*; CAFLENS_BRAIN=rule\n"
    "forces the rule brain).\n\n"
    "Exit codes: 0 success, 1 failure (no node connected, an investigation\n"
    "or a store failed), 2 usage error, 3 not found.\n"
    "--json output: {\"caflens_cli\": 1, \"command\": ..., \"data\": ...}.");
  std::function<int()> run;

  // -- demo ------------------------------------------------------------------
  demo_options demo;
  std::string demo_scenario = "slow_consumer";
  bool list = false;
  auto* d = app.add_subcommand(
    "demo",
    "run the demo upload pipeline with an injected fault; its alert rules "
    "start an investigation whose report is printed");
  d->footer(
    "Runs a CAF upload pipeline (producers -> dispatcher -> a supervised\n"
    "worker pool -> store -> catalog/billing), injects one fault and lets\n"
    "the lens's alert rules (queue depth, stage p99, error rate, restarts,\n"
    "RSS, catalog freshness) start an investigation; a scheduled check for\n"
    "'healthy'. Progress goes to stderr, the report (or JSON) to stdout.");
  d->add_option("--scenario", demo_scenario, "the fault to inject")
    ->check(CLI::IsMember(scenario_names()))
    ->capture_default_str();
  d->add_option("--nodes", demo.nodes,
                "run N node processes on loopback, the fault on the second; "
                "this process investigates them all")
    ->check(CLI::Range(1, 5))
    ->capture_default_str();
  d->add_option("--store", demo.store,
                "keep the investigation in this SQLite file (then: caflens "
                "history --store FILE)");
  d->add_flag("--dashboard", demo.dashboard,
              "serve the live dashboard on the demo and keep it running "
              "after the report (Ctrl-C stops it)");
  d->add_option("--dashboard-listen", demo.dashboard_listen,
                "the dashboard's address (HOST:PORT; port 0 picks one)")
    ->capture_default_str();
  d->add_option("--dashboard-token", demo.dashboard_token,
                "the token the dashboard requires (needed off loopback; "
                "default: CAFLENS_DASHBOARD_TOKEN)");
  d->add_flag("--json", demo.json, "print the investigation result as JSON");
  d->add_flag("-q,--quiet", demo.quiet, "no progress lines on stderr");
  d->add_flag("--list", list, "list the scenarios and exit");
  d->callback([&] {
    run = [&] {
      if (list) {
        print_scenarios();
        return 0;
      }
      demo.scenario = to_scenario(demo_scenario);
      if (demo.dashboard_token.empty())
        if (auto* t = std::getenv("CAFLENS_DASHBOARD_TOKEN"))
          demo.dashboard_token = t;
      if (demo.nodes > 1 && demo.dashboard) {
        std::cerr << "caflens demo: --dashboard runs with one node (see "
                     "'caflens serve' for a cluster)\n";
        return static_cast<int>(exit_code::usage);
      }
      if (demo.nodes > 1)
        return run_cluster_demo(demo.scenario, demo.nodes, demo.json,
                                demo.quiet);
      return run_demo(demo);
    };
  });

  // -- investigate -------------------------------------------------------------
  investigate_cli_options inv;
  auto* i = app.add_subcommand(
    "investigate",
    "investigate running caflens nodes (--node HOST:PORT ...) and print the "
    "report");
  i->footer(
    "Connects to running caflens nodes (their node agents), runs one\n"
    "investigation across all of them and prints the report (or JSON). The\n"
    "cluster token comes from CAFLENS_CLUSTER_TOKEN.");
  i->add_option("--node", inv.nodes, "a node agent (repeat for more)")
    ->required()
    ->check(address(false))
    ->take_all();
  i->add_option("reason", inv.reason, "why (the investigation's reason)")
    ->required();
  i->add_flag("--json", inv.json, "print the result as JSON");
  i->add_flag("-q,--quiet", inv.quiet,
              "no progress lines on stderr (the nodes' states included)");
  i->add_option("--deadline-ms", inv.deadline_ms,
                "the investigation's deadline")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  i->add_option("--skills", inv.skills, "only these skills (a,b)")
    ->delimiter(',');
  add_tls(i, inv.tls);
  i->callback([&] { run = [&] { return run_investigate(inv); }; });

  // -- node ------------------------------------------------------------------------
  node_options node;
  std::string node_scenario = "healthy";
  auto* n = app.add_subcommand(
    "node",
    "run the demo pipeline as a cluster node whose agent listens for "
    "coordinators");
  n->footer(
    "Runs the demo upload pipeline with a lens whose node agent listens for\n"
    "coordinators (caflens investigate --node, caflens demo --nodes). Prints\n"
    "\"listening HOST:PORT\" on stdout once it listens, then runs until\n"
    "SIGTERM or SIGINT. The cluster token comes from CAFLENS_CLUSTER_TOKEN\n"
    "(never from the command line, where ps shows it).");
  n->add_option("--listen", node.listen, "where to listen (port 0: any free)")
    ->check(address(true))
    ->capture_default_str();
  n->add_option("--name", node.name, "the node's name (default node-<pid>)");
  n->add_option("--scenario", node_scenario, "the fault to inject")
    ->check(CLI::IsMember(scenario_names()))
    ->capture_default_str();
  n->add_option("--inject-after-ms", node.inject_after_ms, "when")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  n->add_flag("!--no-app", node.app,
              "no pipeline: the lens alone (benchmarks)");
  n->add_option("--idle-actors", node.idle_actors,
                "also N idle tracked actors (benchmarks)")
    ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}));
  add_tls(n, node.tls);
  n->callback([&] {
    run = [&] {
      node.scenario = to_scenario(node_scenario);
      return run_node(node);
    };
  });

  // -- top -----------------------------------------------------------------------
  top_options top;
  int64_t top_interval_ms = 1000;
  auto* t = app.add_subcommand(
    "top", "a live view of a running node's actors and supervision trees");
  t->footer(
    "Keys: q quit, s next sort key, / filter (Enter applies, Esc clears),\n"
    "t supervision pane, + and - the interval. Without a terminal (or with\n"
    "--once) one frame is printed. The cluster token comes from\n"
    "CAFLENS_CLUSTER_TOKEN.");
  t->add_option("node", top.node, "the node's agent")
    ->required()
    ->check(address(false));
  t->add_option("--interval-ms", top_interval_ms, "refresh interval")
    ->check(CLI::Range(int64_t{500}, int64_t{60'000}))
    ->capture_default_str();
  t->add_option("--sort", top.sort, "sort key")
    ->check(CLI::IsMember({"mailbox", "rate", "handler", "memory", "growth"}))
    ->capture_default_str();
  t->add_option("--filter", top.filter,
                "only actors whose name or kind contains this");
  t->add_flag("--once", top.once, "print one frame and exit");
  t->add_flag("--json", top.json, "print the node's actors and trees once");
  add_tls(t, top.tls);
  t->callback([&] {
    run = [&] {
      top.interval = std::chrono::milliseconds{top_interval_ms};
      return run_top(top);
    };
  });

  // -- shell ---------------------------------------------------------------------
  shell_options shell;
  auto* sh = app.add_subcommand(
    "shell", "a Lua REPL on a running node's skill callbacks (sandboxed)");
  sh->footer(
    "Each entry runs in the node's sandbox (instruction, memory and time\n"
    "limits) with every skill's callbacks as functions: actors_top(n),\n"
    "actor_state(name), logs_recent(n, level), supervision_trees(), ...\n"
    "An expression prints its value as JSON. On a terminal: line editing\n"
    "and history (CAFLENS_SHELL_HISTORY, default ~/.caflens_shell_history);\n"
    "otherwise each line of stdin is an entry. The cluster token comes from\n"
    "CAFLENS_CLUSTER_TOKEN.");
  sh->add_option("node", shell.node, "the node's agent (HOST:PORT)")
    ->required()
    ->check(address(false));
  sh->add_option("-e,--execute", shell.code, "run this chunk and exit");
  sh->add_flag("--json", shell.json,
               "print each result as a JSON line (value, output)");
  add_tls(sh, shell.tls);
  sh->callback([&] { run = [&] { return run_shell(shell); }; });

  // -- serve ---------------------------------------------------------------------
  serve_options serve;
  auto* sv = app.add_subcommand(
    "serve", "serve the live dashboard of running nodes from this process");
  sv->footer(
    "Connects to the node agents given and serves their dashboard until\n"
    "SIGINT or SIGTERM. 127.0.0.1 unless --listen says otherwise; any\n"
    "other address needs --token (or CAFLENS_DASHBOARD_TOKEN). The cluster\n"
    "token comes from CAFLENS_CLUSTER_TOKEN.");
  sv->add_option("node", serve.nodes, "node agents (HOST:PORT ...)")
    ->required()
    ->check(address(false));
  sv->add_option("--listen", serve.listen,
                 "the dashboard's address (HOST:PORT; port 0 picks one)")
    ->capture_default_str();
  sv->add_option("--token", serve.token,
                 "the token the dashboard requires (needed off loopback)");
  add_tls(sv, serve.tls);
  sv->callback([&] {
    run = [&] {
      if (serve.token.empty())
        if (auto* t = std::getenv("CAFLENS_DASHBOARD_TOKEN"))
          serve.token = t;
      return run_serve(serve);
    };
  });

  // -- nodes ---------------------------------------------------------------------
  std::vector<std::string> nodes_list;
  bool nodes_json = false;
  tls_files nodes_tls;
  auto* ns = app.add_subcommand(
    "nodes", "connect to caflens nodes and show each one's state, version, "
             "skills and round trip");
  ns->add_option("node", nodes_list, "node agents (HOST:PORT ...)")
    ->required()
    ->check(address(false));
  ns->add_flag("--json", nodes_json, "print the cluster view as JSON");
  add_tls(ns, nodes_tls);
  ns->callback([&] {
    run = [&] { return run_nodes(nodes_list, nodes_json, nodes_tls); };
  });

  // -- events --------------------------------------------------------------------
  bool events_json = false;
  std::string events_prefix;
  auto* e = app.add_subcommand(
    "events", "list the telemetry catalogue: every event caflens emits");
  e->add_option("prefix", events_prefix,
                "only events whose name starts with this (caflens.store)");
  e->add_flag("--json", events_json, "print the catalogue as JSON");
  e->callback([&] {
    run = [&] { return run_events(events_json, events_prefix); };
  });

  // -- history, show ---------------------------------------------------------------
  history_options hist;
  auto* h = app.add_subcommand(
    "history", "list past investigations from a caflens store, newest first");
  h->add_option("--store", hist.store,
                "the SQLite file (default: CAFLENS_STORE)");
  h->add_option("--pattern", hist.pattern,
                "only investigations with an insight of this pattern");
  h->add_option("--culprit", hist.culprit,
                "only investigations whose insights name this culprit");
  h->add_option("--severity", hist.min_severity,
                "only investigations with an insight at least this severe")
    ->check(CLI::IsMember({"info", "warning", "critical"}));
  h->add_option("--since-ms", hist.since_ms,
                "only investigations of the last MS milliseconds")
    ->check(CLI::PositiveNumber);
  h->add_option("--limit", hist.limit, "at most this many")
    ->check(CLI::Range(1, 10'000))
    ->capture_default_str();
  h->add_flag("--json", hist.json, "print the list as JSON");
  h->callback([&] { run = [&] { return run_history(hist); }; });

  std::string show_trace;
  std::string show_store;
  bool show_json = false;
  auto* s = app.add_subcommand(
    "show", "show one stored investigation: report, operators, timeline");
  s->add_option("trace_id", show_trace, "its trace id")->required();
  s->add_option("--store", show_store,
                "the SQLite file (default: CAFLENS_STORE)");
  s->add_flag("--json", show_json, "print everything stored as JSON");
  s->callback([&] {
    run = [&] { return run_show(show_trace, show_store, show_json); };
  });

  // An unknown command is named (CLI11 would only say one is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string name = argv[1];
    bool known = false;
    std::string all;
    for (auto* sub : app.get_subcommands({})) {
      known |= sub->get_name() == name;
      all += (all.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "caflens: unknown command '" << name << "' (commands: "
                << all << ")\nTry 'caflens --help'.\n";
      return exit_code::usage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    // The help of the command it was asked of.
    std::cout << app.help();
    return exit_code::ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_code::ok;
  } catch (const CLI::ParseError& err) {
    std::string cmd;
    for (auto* sub : app.get_subcommands())
      cmd = sub->get_name();
    std::string what = err.what();
    if (what.empty())
      what = "bad command line";
    std::cerr << "caflens" << (cmd.empty() ? "" : " " + cmd) << ": " << what
              << "\nTry 'caflens" << (cmd.empty() ? "" : " " + cmd)
              << " --help'.\n";
    return exit_code::usage;
  }
  return run ? run() : exit_code::usage;
}
