// `caflens shell HOST:PORT`: a Lua REPL on a running node's skill callbacks,
// through its sandbox (lens::execute). Line editing and history with
// Debian's libedit on a terminal; lines from stdin, or one chunk with -e,
// otherwise.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <editline/readline.h>
#include <nlohmann/json.hpp>

#include "caflens/sandbox/sandbox_errc.hpp"
#include "caflens/telemetry/error.hpp"

#include "commands.hpp"

namespace caflens::cli {

namespace {

using nlohmann::json;

bool is_syntax_error(const caf::error& err) {
  return err.category() == sandbox::sandbox_errc_category
         && err.code()
              == static_cast<uint8_t>(sandbox::sandbox_errc::syntax_error);
}

std::string error_text(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return render_error(err);
}

/// Lua says "<eof>" when a chunk ends too early: more lines may follow.
bool incomplete(const caf::error& err) {
  return is_syntax_error(err)
         && error_text(err).find("<eof>") != std::string::npos;
}

/// The functions a program may call there: every global function but Lua's
/// own libraries.
constexpr const char* list_callbacks = R"lua(
local std = {assert=1, error=1, ipairs=1, next=1, pairs=1, pcall=1,
  print=1, rawequal=1, rawget=1, rawlen=1, rawset=1, select=1,
  setmetatable=1, getmetatable=1, tonumber=1, tostring=1, type=1,
  xpcall=1}
local xs = {}
for k, v in pairs(_G) do
  if type(v) == "function" and not std[k] then xs[#xs + 1] = k end
end
table.sort(xs)
return xs
)lua";

class repl {
public:
  repl(caflens::lens& lens, std::string node, bool json_out)
    : lens_(lens), node_(std::move(node)), json_(json_out) {
  }

  /// Runs one chunk: as an expression first (`return <chunk>`), as
  /// statements when that does not parse. 0 on success, 1 on error; -1
  /// when the chunk is incomplete (and `allow_more`).
  int run(const std::string& chunk, bool allow_more) {
    auto r = lens_.execute(node_, "return " + chunk);
    if (!r && is_syntax_error(r.error()))
      r = lens_.execute(node_, chunk);
    if (!r) {
      if (allow_more && incomplete(r.error()))
        return -1;
      if (json_)
        std::cout << json{{"caflens_cli", 1},
                          {"command", "shell"},
                          {"error", error_text(r.error())}}
                       .dump()
                  << std::endl;
      else
        std::cout << "error: " << error_text(r.error()) << std::endl;
      return 1;
    }
    if (json_) {
      std::cout << json{{"caflens_cli", 1},
                        {"command", "shell"},
                        {"data",
                         {{"value", r->value},
                          {"output", r->output},
                          {"output_truncated", r->output_truncated},
                          {"instructions", r->instructions},
                          {"callback_calls", r->callback_calls}}}}
                     .dump()
                << std::endl;
      return 0;
    }
    std::cout << r->output;
    if (!r->output.empty() && r->output.back() != '\n')
      std::cout << '\n';
    if (r->output_truncated)
      std::cout << "(output truncated)\n";
    if (!r->value.is_null())
      std::cout << r->value.dump(2) << '\n';
    std::cout << std::flush;
    return 0;
  }

  void help() {
    std::cout << "Lua 5.4 in the sandbox of node '" << node_
              << "' (limits: instructions,\nmemory, wall time). Each entry "
                 "runs on its own: locals do not carry over.\nAn expression "
                 "prints its value as JSON. Commands: .help, .quit (or "
                 "Ctrl-D).\nFunctions:";
    auto r = lens_.execute(node_, list_callbacks);
    if (r && r->value.is_array()) {
      size_t col = 80;
      for (auto& f : r->value) {
        auto name = f.get<std::string>();
        if (col + name.size() + 1 > 76) {
          std::cout << "\n ";
          col = 1;
        }
        std::cout << ' ' << name;
        col += name.size() + 1;
      }
      std::cout << '\n';
    } else {
      std::cout << " (cannot list: "
                << (r ? std::string{"no list"} : error_text(r.error()))
                << ")\n";
    }
    std::cout << "Example: actors_top(5)   logs_recent(10, \"error\")   "
                 "supervision_trees()\n"
              << std::flush;
  }

private:
  caflens::lens& lens_;
  std::string node_;
  bool json_;
};

std::string history_file() {
  if (auto* f = std::getenv("CAFLENS_SHELL_HISTORY"))
    return f;
  if (auto* home = std::getenv("HOME"))
    return std::string{home} + "/.caflens_shell_history";
  return {};
}

int interactive(repl& r, const std::string& node) {
  auto hist = history_file();
  using_history();
  stifle_history(1000);
  if (!hist.empty())
    read_history(hist.c_str());
  std::cout << "caflens shell on node '" << node
            << "' — .help lists the functions, .quit or Ctrl-D leaves"
            << std::endl;
  std::string prompt = "caflens@" + node + "> ";
  std::string pending;
  for (;;) {
    char* raw = readline(pending.empty() ? prompt.c_str() : ">> ");
    if (raw == nullptr) {
      std::cout << '\n';
      break;
    }
    std::string line{raw};
    std::free(raw);
    if (pending.empty()) {
      auto b = line.find_first_not_of(" \t");
      if (b == std::string::npos)
        continue;
      auto cmd = line.substr(b);
      while (!cmd.empty() && (cmd.back() == ' ' || cmd.back() == '\t'))
        cmd.pop_back();
      if (cmd == ".quit" || cmd == ".exit")
        break;
      if (cmd == ".help") {
        add_history(line.c_str());
        r.help();
        continue;
      }
    }
    pending += pending.empty() ? line : "\n" + line;
    if (r.run(pending, true) == -1)
      continue;
    add_history(pending.c_str());
    pending.clear();
  }
  if (!hist.empty())
    write_history(hist.c_str());
  // Errors were shown where they happened; leaving is a success.
  return exit_code::ok;
}

} // namespace

int run_shell(const shell_options& opts) {
  auto attached = attached_lens::start("shell", {opts.node}, opts.tls);
  if (!attached) {
    std::cerr << "caflens shell: " << to_string(attached.error()) << '\n';
    return exit_code::failure;
  }
  auto& lens = (*attached)->lens();
  std::string node;
  for (auto& n : lens.cluster())
    if (n.state == node_state::connected)
      node = n.name;
    else
      std::cerr << "caflens shell: " << n.address << ' '
                << to_string(n.state)
                << (n.error.empty() ? "" : ": " + n.error) << '\n';
  if (node.empty()) {
    std::cerr << "caflens shell: no node connected\n";
    return exit_code::failure;
  }
  repl r{lens, node, opts.json};
  if (!opts.code.empty())
    return r.run(opts.code, false) == 0 ? exit_code::ok : exit_code::failure;
  if (isatty(STDIN_FILENO) && !opts.json)
    return interactive(r, node);
  // A script on stdin: each line is an entry (an incomplete one takes the
  // next lines); the exit code is the last entry's.
  int rc = 0;
  std::string pending, line;
  while (std::getline(std::cin, line)) {
    if (pending.empty()
        && line.find_first_not_of(" \t") == std::string::npos)
      continue;
    pending += pending.empty() ? line : "\n" + line;
    auto res = r.run(pending, true);
    if (res == -1)
      continue;
    rc = res;
    pending.clear();
  }
  if (!pending.empty())
    rc = r.run(pending, false);
  return rc == 0 ? exit_code::ok : exit_code::failure;
}

} // namespace caflens::cli
