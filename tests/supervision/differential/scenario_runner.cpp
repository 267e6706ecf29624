// Runs supervision scenarios (*.scn, see README.md) against caflens'
// supervisor on CAF's deterministic test coordinator (virtual time) and prints
// the same trace format as otp_driver.escript prints for Erlang/OTP.
//
//   caflens-supervision-scenarios [--out DIR] [--expected DIR] FILE.scn...
//
// With --expected, each trace is compared with DIR/<name>.trace (runs of exits
// of simple_one_for_one children, which OTP stops in parallel, are compared
// as sets) and the program prints "N passed, M failed"; it fails when any
// scenario differs or none ran.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scheduler/test_coordinator.hpp"
#include "caf/send.hpp"

#include "caflens/supervision/all.hpp"

namespace {

using namespace caflens::supervision;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using strings = std::vector<std::string>;

constexpr int settle_ms = 50; // as otp_driver.escript

// -- scenario files -----------------------------------------------------------

struct node {
  std::string kind; // sup, child, dyn
  std::string path;
  std::map<std::string, std::string> attrs;

  std::string attr(const std::string& key, const std::string& fallback) const {
    auto i = attrs.find(key);
    return i != attrs.end() ? i->second : fallback;
  }
};

struct scenario {
  std::string name;
  std::vector<node> nodes;
  std::vector<strings> steps;
};

strings split_ws(const std::string& line) {
  strings result;
  std::istringstream in{line};
  std::string tok;
  while (in >> tok)
    result.push_back(tok);
  return result;
}

std::map<std::string, std::string> parse_attrs(const strings& toks,
                                               size_t first) {
  std::map<std::string, std::string> result;
  for (auto i = first; i < toks.size(); ++i) {
    auto pos = toks[i].find('=');
    if (pos != std::string::npos)
      result[toks[i].substr(0, pos)] = toks[i].substr(pos + 1);
  }
  return result;
}

bool load(const std::string& file, scenario& out) {
  std::ifstream in{file};
  if (!in)
    return false;
  auto base = file.substr(file.find_last_of('/') + 1);
  out.name = base.substr(0, base.rfind(".scn"));
  std::string line;
  while (std::getline(in, line)) {
    if (auto pos = line.find('#'); pos != std::string::npos)
      line.erase(pos);
    auto toks = split_ws(line);
    if (toks.empty())
      continue;
    if (toks[0] == "sup" || toks[0] == "child" || toks[0] == "dyn")
      out.nodes.push_back(node{toks[0], toks.at(1), parse_attrs(toks, 2)});
    else
      out.steps.push_back(toks);
  }
  return !out.nodes.empty();
}

std::string parent_of(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? std::string{} : path.substr(0, pos);
}

std::string basename_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// -- reasons ------------------------------------------------------------------

std::string crash_text(const caf::error& reason) {
  if (reason.category() == caf::atom("system") &&
      reason.code() == static_cast<uint8_t>(caf::sec::runtime_error) &&
      reason.context().match_elements<std::string>())
    return reason.context().get_as<std::string>(0);
  return caflens::render_error(reason);
}

std::string fmt(const caf::error& reason) {
  return reason_text(reason, crash_text);
}

caf::error parse_reason(const std::string& token) {
  if (token == "normal")
    return caf::error{};
  if (token == "shutdown")
    return caf::exit_reason::user_shutdown;
  if (token.rfind("shutdown:", 0) == 0)
    return shutdown_reason(token.substr(9));
  return caf::make_error(caf::sec::runtime_error, token);
}

/// An API error as the trace shows it; `name_of` names an actor (the
/// already running child of `already_started`).
std::string api_error(const caf::error& err,
                      const std::function<std::string(caf::actor_id)>& name_of) {
  if (auto f = start_error_of(err))
    return "error:" + fmt(f->reason) + ":child=" + f->id + "," + f->type;
  if (err.category() == supervision_errc_category
      && static_cast<supervision_errc>(err.code())
           == supervision_errc::already_started) {
    auto& ctx = err.context();
    if (ctx.size() == 2 && ctx.match_element<caf::actor>(1))
      if (auto a = ctx.get_as<caf::actor>(1))
        return "error:already_started:" + name_of(a.id());
  }
  if (err.category() == supervision_errc_category)
    switch (static_cast<supervision_errc>(err.code())) {
      case supervision_errc::not_found:
      case supervision_errc::already_present:
      case supervision_errc::already_started:
      case supervision_errc::running:
      case supervision_errc::restarting:
      case supervision_errc::simple_one_for_one:
        return "error:" + to_string(static_cast<supervision_errc>(err.code()));
      default:
        break;
    }
  return "error:" + fmt(err);
}

// -- workers ------------------------------------------------------------------

enum class on_shutdown { comply, hang, slow };

caf::behavior worker_impl(caf::event_based_actor* self, on_shutdown mode,
                          int64_t slow_ms) {
  if (mode != on_shutdown::comply)
    self->set_exit_handler([self, mode, slow_ms](caf::exit_msg& x) {
      if (mode == on_shutdown::slow)
        self->delayed_send(self, std::chrono::milliseconds{slow_ms},
                           crash_atom::value, x.reason);
    });
  return {
    [self](crash_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

// -- the run ------------------------------------------------------------------

struct config : caf::actor_system_config {
  config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
    caflens::supervision::add_message_types(*this);
  }
};

class runner;

/// Logs start errors of supervisor children (workers log their own).
class trace_observer : public child_observer {
public:
  explicit trace_observer(strings* trace)
    : trace_(trace) {}

  void child_started(const child_event&, const caf::actor&) override {}

  void child_exited(const child_event&, caf::actor_id,
                    const caf::error&) override {}

  void child_start_failed(const child_event& ev,
                          const caf::error& reason) override {
    if (ev.type == child_type::supervisor)
      trace_->push_back("start_error " + std::string{ev.supervisor} + "/" +
                        std::string{ev.child_id} + " " + fmt(reason));
  }

private:
  strings* trace_;
};

class runner {
public:
  explicit runner(const scenario& scn)
    : scn_(scn)
    , sys_(cfg_)
    , sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler()))
    , observer_(std::make_shared<trace_observer>(&trace_)) {
    for (auto& n : scn_.nodes)
      nodes_[n.path] = n;
  }

  strings run() {
    auto& top = scn_.nodes.front();
    trace_.push_back("start " + top.path);
    // Init runs inside the spawn (start attempts that take time pump the
    // clock from within): steps begin once it returned, as start_link does.
    auto sup = spawn_supervisor(sys_, flags_for(top), children_of(top.path));
    if (!sup) {
      trace_.push_back("spawn error " + caflens::render_error(sup.error()));
      return trace_;
    }
    track(top.path, *sup);
    sched_.run();
    steps_enabled_ = true;
    due_ = now() + std::chrono::milliseconds{settle_ms};
    // An hour of virtual time is far beyond any scenario: a call that never
    // returns (OTP's driver would hang) ends the run with a line saying so.
    pump(now() + std::chrono::hours{1}, true);
    if (next_step_ < scn_.steps.size() || awaiting_)
      trace_.push_back("stuck: no reply to step " + std::to_string(next_step_));
    pump(due_ + std::chrono::milliseconds{settle_ms});
    auto result = trace_;
    // Tear down outside the trace.
    steps_enabled_ = false;
    for (auto& kvp : actors_)
      caf::anon_send_exit(kvp.second, caf::exit_reason::kill);
    pump(now() + std::chrono::hours{24});
    return result;
  }

  /// Names of simple_one_for_one supervisors (for normalization).
  std::set<std::string> simple_sups() const {
    std::set<std::string> result;
    for (auto& n : scn_.nodes)
      if (n.kind == "sup" && n.attr("strategy", "") == "simple_one_for_one")
        result.insert(n.path);
    return result;
  }

private:
  // -- time -------------------------------------------------------------------

  // The driver is time-driven, as otp_driver.escript runs on real time:
  // each step is due `settle_ms` after the previous one ended (a call ends
  // when its reply arrives: OTP's driver calls synchronously; `wait N` ends N
  // ms later). `pump` advances virtual time to `target`, running actors,
  // timers and due steps in time order. A start attempt that takes time
  // (`delay_ms`) pumps from inside the blocked supervisor, so steps, exits
  // and timers inside that time happen while it is busy and its mailbox
  // fills, as in OTP.

  using time_point = caf::actor_clock::time_point;

  time_point now() {
    return sched_.clock().current_time;
  }

  bool steps_pending() const {
    return steps_enabled_ && !awaiting_ && next_step_ < scn_.steps.size();
  }

  void pump(time_point target, bool until_done = false) {
    auto& clk = sched_.clock();
    for (;;) {
      sched_.run();
      if (until_done && !awaiting_ && next_step_ >= scn_.steps.size())
        return;
      if (steps_pending() && due_ <= now()) {
        auto& s = scn_.steps[next_step_++];
        due_ = now() + std::chrono::milliseconds{settle_ms};
        step(s);
        continue;
      }
      auto next = time_point::max();
      if (!clk.schedule().empty())
        next = clk.schedule().begin()->first;
      if (steps_pending())
        next = std::min(next, due_);
      if (next > target)
        break;
      if (next > now())
        clk.current_time = next;
      if (!clk.schedule().empty() && clk.schedule().begin()->first <= now())
        clk.trigger_timeout();
    }
    if (target > now())
      clk.current_time = target;
    sched_.run();
  }

  /// A start attempt that takes `ms` of (virtual) time.
  void block_for(int64_t ms) {
    if (ms > 0)
      pump(now() + std::chrono::milliseconds{ms});
  }

  /// A call step's reply arrived: the next step is due a settle later.
  void replied() {
    awaiting_ = false;
    due_ = now() + std::chrono::milliseconds{settle_ms};
  }

  // -- tree -------------------------------------------------------------------

  const node* find_node(const std::string& path) const {
    auto i = nodes_.find(path);
    return i != nodes_.end() ? &i->second : nullptr;
  }

  std::string sup_of(const std::string& path) const {
    auto p = parent_of(path);
    if (auto n = find_node(p); n && n->kind == "dyn")
      return parent_of(p);
    return p;
  }

  supervisor_flags flags_for(const node& n) {
    supervisor_flags f;
    f.name = n.path;
    auto s = n.attr("strategy", "one_for_one");
    f.strategy = s == "one_for_all"          ? strategy::one_for_all
                 : s == "rest_for_one"       ? strategy::rest_for_one
                 : s == "simple_one_for_one" ? strategy::simple_one_for_one
                                             : strategy::one_for_one;
    f.intensity = static_cast<uint32_t>(std::stoul(n.attr("intensity", "1")));
    f.period = std::chrono::seconds{std::stol(n.attr("period", "5"))};
    f.window = restart_window::seconds; // OTP's arithmetic
    auto a = n.attr("auto_shutdown", "never");
    f.auto_shutdown = a == "any_significant"   ? auto_shutdown::any_significant
                      : a == "all_significant" ? auto_shutdown::all_significant
                                               : auto_shutdown::never;
    f.observer = observer_;
    return f;
  }

  child_spec spec_for(const node& n) {
    child_spec spec;
    spec.id = basename_of(n.path);
    auto r = n.attr("restart", "permanent");
    spec.restart = r == "transient"   ? restart_type::transient
                   : r == "temporary" ? restart_type::temporary
                                      : restart_type::permanent;
    spec.type = n.kind == "sup" ? child_type::supervisor : child_type::worker;
    auto sd = n.attr("shutdown", n.kind == "sup" ? "infinity" : "5000");
    spec.shutdown =
      sd == "brutal_kill" ? shutdown_policy::brutal_kill()
      : sd == "infinity"
        ? shutdown_policy::infinity()
        : shutdown_policy::timeout(static_cast<uint32_t>(std::stoul(sd)));
    spec.significant = n.attr("significant", "false") == "true";
    if (n.kind == "sup") {
      auto path = n.path;
      spec.start = [this, path](caf::actor_system& sys,
                                const caf::message&) -> start_result {
        auto& me = nodes_.at(path);
        trace_.push_back("start " + path);
        auto sup = spawn_supervisor(sys, flags_for(me), children_of(path));
        if (sup)
          track(path, *sup);
        return sup;
      };
    } else {
      auto path = n.path;
      spec.start = [this, path](caf::actor_system& sys,
                                const caf::message& args) -> start_result {
        return start_worker(sys, path, args);
      };
    }
    return spec;
  }

  std::vector<child_spec> children_of(const std::string& sup) {
    std::vector<child_spec> result;
    for (auto& n : scn_.nodes)
      if (parent_of(n.path) == sup)
        result.push_back(spec_for(n));
    return result;
  }

  start_result start_worker(caf::actor_system& sys, const std::string& tpath,
                            const caf::message& args) {
    auto& n = nodes_.at(tpath);
    auto path = tpath;
    if (args.match_elements<std::string>())
      path += "/" + args.get_as<std::string>(0);
    // The attempt blocks the supervisor for delay_ms, then decides.
    block_for(std::stoll(n.attr("delay_ms", "0")));
    // A dynamic instance may script its own starts (start_dyn ... starts=).
    auto script = n.attr("starts", "o");
    if (auto i = instance_starts_.find(path); i != instance_starts_.end())
      script = i->second;
    auto count = ++start_counts_[path];
    auto outcome = script[std::min(count, script.size()) - 1];
    if (outcome == 'i') {
      trace_.push_back("ignore " + path);
      return ignore;
    }
    if (outcome == 'e') {
      trace_.push_back("start_error " + path + " boom");
      return caf::make_error(caf::sec::runtime_error, std::string{"boom"});
    }
    auto m = n.attr("on_shutdown", "comply");
    auto mode = m == "hang"   ? on_shutdown::hang
                : m == "slow" ? on_shutdown::slow
                              : on_shutdown::comply;
    auto slow_ms = std::stoll(n.attr("slow_ms", "50"));
    auto child = sys.spawn(worker_impl, mode, slow_ms);
    track(path, child);
    trace_.push_back("start " + path);
    return child;
  }

  void track(const std::string& path, const caf::actor& x) {
    actors_[path] = x;
    names_[x.id()] = path;
    auto* trace = &trace_;
    x->attach_functor([trace, path](const caf::error& reason) {
      trace->push_back("exit " + path + " " + fmt(reason));
    });
  }

  caf::actor actor_of(const std::string& path) const {
    auto i = actors_.find(path);
    return i != actors_.end() ? i->second : caf::actor{};
  }

  // -- steps ------------------------------------------------------------------

  template <class T, class Request, class Format>
  void call(const std::string& op, const std::string& arg, caf::actor sup,
            Request req, Format format) {
    auto* trace = &trace_;
    auto* names = &names_;
    auto prefix = "call " + op + " " + arg + " -> ";
    awaiting_ = true;
    sys_.spawn([=, this](caf::event_based_actor* self) {
      self->request(sup, caf::infinite, req)
        .then(
          [=, this](T& x) {
            trace->push_back(prefix + format(x));
            replied();
          },
          [=, this](caf::error& err) {
            replied();
            trace->push_back(prefix
                             + api_error(err, [names](caf::actor_id id) {
                                 auto i = names->find(id);
                                 return i != names->end() ? i->second
                                                          : std::string{"?"};
                               }));
          });
    });
  }

  /// The template (dyn node) of a simple_one_for_one supervisor.
  std::string tpath_of_dyn(const std::string& sup) const {
    for (auto& [path, n] : nodes_)
      if (n.kind == "dyn" && parent_of(path) == sup)
        return path;
    return sup + "/?";
  }

  bool is_simple(const std::string& sup) const {
    auto n = find_node(sup);
    return n && n->attr("strategy", "") == "simple_one_for_one";
  }

  void step(const strings& s) {
    auto& cmd = s.at(0);
    auto start_fmt = [](caf::actor& x) {
      return x ? std::string{"ok"} : std::string{"ok:ignored"};
    };
    auto ok_fmt = [](caf::ok_atom&) { return std::string{"ok"}; };
    if (cmd == "crash") {
      auto a = actor_of(s.at(1));
      if (!a)
        return;
      if (s.at(2) == "kill")
        caf::anon_send_exit(a, caf::exit_reason::kill);
      else
        caf::anon_send(a, crash_atom::value, parse_reason(s.at(2)));
    } else if (cmd == "wait") {
      due_ += std::chrono::milliseconds{std::stoi(s.at(1))};
    } else if (cmd == "stop") {
      caf::anon_send_exit(actor_of(scn_.nodes.front().path),
                          caf::exit_reason::user_shutdown);
    } else if (cmd == "start_child") {
      auto path = s.at(1) + "/" + s.at(2);
      nodes_[path] = node{"child", path, parse_attrs(s, 3)};
      call<caf::actor>(cmd, path, actor_of(s.at(1)),
                       start_child{spec_for(nodes_[path])}, start_fmt);
    } else if (cmd == "start_dyn") {
      auto attrs = parse_attrs(s, 3);
      if (auto i = attrs.find("starts"); i != attrs.end())
        instance_starts_[tpath_of_dyn(s.at(1)) + "/" + s.at(2)] = i->second;
      call<caf::actor>(cmd, s.at(1) + "/" + s.at(2), actor_of(s.at(1)),
                       start_dynamic_child{caf::make_message(s.at(2))},
                       start_fmt);
    } else if (cmd == "terminate_child" || cmd == "delete_child" ||
               cmd == "restart_child" || cmd == "get_childspec") {
      auto& path = s.at(1);
      auto sup = sup_of(path);
      auto id = basename_of(path);
      caf::actor child;
      if (is_simple(sup))
        child = actor_of(path);
      if (cmd == "terminate_child")
        call<caf::ok_atom>(cmd, path, actor_of(sup), terminate_child{id, child},
                           ok_fmt);
      else if (cmd == "delete_child")
        call<caf::ok_atom>(cmd, path, actor_of(sup), delete_child{id}, ok_fmt);
      else if (cmd == "restart_child")
        call<caf::actor>(cmd, path, actor_of(sup), restart_child{id},
                         start_fmt);
      else
        call<child_spec>(cmd, path, actor_of(sup), get_childspec{id, child},
                         [](child_spec& x) {
                           return "restart=" + to_string(x.restart) +
                                  ",shutdown=" + to_string(x.shutdown) +
                                  ",type=" + to_string(x.type) +
                                  ",significant=" +
                                  (x.significant ? "true" : "false");
                         });
    } else if (cmd == "which_children") {
      auto sup = s.at(1);
      call<std::vector<child_info>>(
        cmd, sup, actor_of(sup), which_children{},
        [this, sup, simple = is_simple(sup)](std::vector<child_info>& xs) {
          strings names;
          for (auto& x : xs) {
            auto name = x.id;
            if (x.actor) {
              auto i = names_.find(x.actor.id());
              if (i != names_.end())
                name = i->second.substr(sup.size() + 1);
            }
            names.push_back(name + ":" + to_string(x.status));
          }
          // In OTP's order (newest first); the order of dynamic
          // children is a map's or a set's in OTP: compared as a set.
          if (simple)
            std::sort(names.begin(), names.end());
          std::string result;
          for (auto& n : names)
            result += (result.empty() ? "" : ",") + n;
          return result;
        });
    } else if (cmd == "count_children") {
      call<child_counts>(
        cmd, s.at(1), actor_of(s.at(1)), count_children{}, [](child_counts& x) {
          return "specs=" + std::to_string(x.specs) +
                 ",active=" + std::to_string(x.active) +
                 ",supervisors=" + std::to_string(x.supervisors) +
                 ",workers=" + std::to_string(x.workers);
        });
    } else {
      trace_.push_back("unknown step " + cmd);
    }
  }

  // -- member variables -------------------------------------------------------

  const scenario& scn_;
  config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  strings trace_;
  std::shared_ptr<trace_observer> observer_;
  std::map<std::string, node> nodes_;
  /// Start scripts of single dynamic instances (template path/arg).
  std::map<std::string, std::string> instance_starts_;
  std::map<std::string, caf::actor> actors_;
  std::map<caf::actor_id, std::string> names_;
  std::map<std::string, size_t> start_counts_;
  // The driver's progress through the steps.
  bool steps_enabled_ = false;
  bool awaiting_ = false;
  size_t next_step_ = 0;
  time_point due_;
};

// -- comparison ---------------------------------------------------------------

/// OTP stops simple_one_for_one children in parallel: sort each run of their
/// exits. A failed init's start_error and exit may come in either order.
strings normalize(strings xs, const std::set<std::string>& simple) {
  auto dynamic_exit = [&](const std::string& line) {
    if (line.rfind("exit ", 0) != 0)
      return false;
    auto path = line.substr(5, line.find(' ', 5) - 5);
    auto p = parent_of(parent_of(path));
    return simple.count(p) > 0;
  };
  for (size_t i = 0; i < xs.size();) {
    if (!dynamic_exit(xs[i])) {
      ++i;
      continue;
    }
    auto j = i;
    while (j < xs.size() && dynamic_exit(xs[j]))
      ++j;
    std::sort(xs.begin() + static_cast<ptrdiff_t>(i),
              xs.begin() + static_cast<ptrdiff_t>(j));
    i = j;
  }
  // A supervisor whose init fails acknowledges the failure to its parent
  // (whose start function logs start_error) before it exits: in OTP the two
  // race. Exit first.
  auto path_of = [](const std::string& line, const char* prefix) {
    std::string p = prefix;
    if (line.rfind(p, 0) != 0)
      return std::string{};
    return line.substr(p.size(), line.find(' ', p.size()) - p.size());
  };
  for (size_t i = 0; i + 1 < xs.size(); ++i) {
    auto p = path_of(xs[i], "start_error ");
    if (!p.empty() && p == path_of(xs[i + 1], "exit "))
      std::swap(xs[i], xs[i + 1]);
  }
  return xs;
}

strings read_lines(const std::string& file, bool& ok) {
  strings result;
  std::ifstream in{file};
  ok = static_cast<bool>(in);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      result.push_back(line);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  std::string expected_dir;
  strings files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc)
      out_dir = argv[++i];
    else if (arg == "--expected" && i + 1 < argc)
      expected_dir = argv[++i];
    else
      files.push_back(arg);
  }
  if (files.empty()) {
    std::cerr << "usage: caflens-supervision-scenarios [--out DIR] "
                 "[--expected DIR] FILE.scn...\n";
    return 2;
  }
  size_t passed = 0;
  size_t failed = 0;
  for (auto& file : files) {
    scenario scn;
    if (!load(file, scn)) {
      std::cout << "FAIL " << file << ": cannot read the scenario\n";
      ++failed;
      continue;
    }
    strings trace;
    std::set<std::string> simple;
    {
      runner r{scn};
      trace = r.run();
      simple = r.simple_sups();
    }
    if (!out_dir.empty()) {
      std::ofstream out{out_dir + "/" + scn.name + ".trace"};
      for (auto& line : trace)
        out << line << '\n';
    }
    if (expected_dir.empty()) {
      std::cout << "== " << scn.name << '\n';
      for (auto& line : trace)
        std::cout << line << '\n';
      continue;
    }
    bool ok = false;
    auto expected = read_lines(expected_dir + "/" + scn.name + ".trace", ok);
    if (!ok) {
      std::cout << "FAIL " << scn.name << ": no expected trace\n";
      ++failed;
      continue;
    }
    auto lhs = normalize(trace, simple);
    auto rhs = normalize(expected, simple);
    if (lhs == rhs) {
      std::cout << "PASS " << scn.name << '\n';
      ++passed;
      continue;
    }
    ++failed;
    std::cout << "FAIL " << scn.name << "\n  caflens | OTP\n";
    for (size_t i = 0; i < std::max(lhs.size(), rhs.size()); ++i) {
      auto l = i < lhs.size() ? lhs[i] : "";
      auto r = i < rhs.size() ? rhs[i] : "";
      std::cout << (l == r ? "    " : "  ! ") << l << " | " << r << '\n';
    }
  }
  if (!expected_dir.empty())
    std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 && (expected_dir.empty() || passed > 0) ? 0 : 1;
}
