#include "caflens/actors/rule_brain.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "caflens/actors/actors_errc.hpp"

namespace caflens {

using json = nlohmann::json;

// -- patterns -----------------------------------------------------------------

namespace {

struct pattern_def {
  failure_pattern pattern;
  /// Types that join the pattern only when one of its own types is present.
  std::vector<std::string> supporting;
  std::string title;
};

const std::vector<pattern_def>& table() {
  static const auto& xs = *new std::vector<pattern_def>{
    {{"scheduler_starvation",
      {"blocked_handler", "scheduler_starvation", "thread_hog"},
      10,
      "{culprits} blocks a scheduler thread inside one handler, starving "
      "every actor that shares the thread pool"},
     {"cpu_saturated"},
     "Scheduler starvation"},
    {{"unresponsive",
      {"unresponsive"},
      20,
      "{culprits} stopped processing while messages wait — typically a "
      "request cycle or an actor awaiting a reply that never comes"},
     {},
     "Unresponsive actors"},
    {{"restart_intensity",
      {"restart_intensity_exceeded", "restart_intensity_near_limit"},
      25,
      "{culprits}: a child kept crashing until its supervisor reached (or "
      "nearly reached) its restart intensity; a supervisor that reaches it "
      "gives up and shuts down its whole subtree"},
     {},
     "Supervisor at its restart intensity"},
    {{"crash_loop",
      {"crash_loop"},
      30,
      "{culprits} keeps crashing and being restarted by its supervisor; the "
      "exit reason points at the fault"},
     {"restart_intensity_near_limit"},
     "Crash loop"},
    {{"memory_leak",
      {"state_growth"},
      40,
      "{culprits} keeps growing its state without releasing it"},
     {"rss_growth"},
     "Memory leak"},
    {{"slow_consumer",
      {"mailbox_growth", "mailbox_backlog", "unanswered_requests",
       "reply_backlog", "peer_outlier"},
      50,
      "a slow consumer behind a fast producer: {culprits} receives more "
      "messages than it handles, so its mailbox grows"},
     {},
     "Slow consumer"},
    {{"error_burst",
      {"error_burst"},
      60,
      "a burst of errors logged by {culprits}"},
     {},
     "Error burst"},
    {{"latency_regression",
      {"latency_regression"},
      70,
      "the latency of {culprits} regressed against its baseline"},
     {},
     "Latency regression"},
    {{"memory_growth",
      {"rss_growth", "system_memory_low"},
      80,
      "process or system memory is growing or short"},
     {},
     "Memory growth"},
    {{"resource_exhaustion",
      {"fd_exhaustion", "cpu_saturated"},
      85,
      "the process is running out of an OS resource"},
     {},
     "Resource exhaustion"},
    {{"anomaly",
      {"anomaly"},
      90,
      "a metric left its learned baseline"},
     {},
     "Anomaly"},
    {{"node_lost",
      {"node_lost"},
      93,
      "{culprits} left the cluster during the investigation (it died, froze "
      "or lost its link); what its operators would have inspected is "
      "missing"},
     {},
     "Node lost"},
    {{"operator_crashed",
      {"operator_crashed"},
      95,
      "a caflens operator crashed; its area was not fully inspected"},
     {},
     "Operator crashed"},
  };
  return xs;
}

/// What registered skills declared: finding types (with patterns of their
/// own when they name no built-in one) and routing keywords.
struct skill_registry {
  std::mutex mtx;
  std::map<std::string, std::vector<std::string>> keywords; // by skill
  std::map<std::string, const pattern_def*> types;          // by type
  std::deque<pattern_def> own;                               // stable
};

skill_registry& registry() {
  static auto* instance = new skill_registry; // never destroyed
  return *instance;
}

const pattern_def* builtin_pattern(const std::string& id) {
  for (auto& d : table())
    if (d.pattern.id == id)
      return &d;
  return nullptr;
}

const pattern_def* def_for(const std::string& type, bool primary_only) {
  for (auto& d : table())
    for (auto& t : d.pattern.anomaly_types)
      if (t == type)
        return &d;
  {
    auto& reg = registry();
    std::lock_guard<std::mutex> guard{reg.mtx};
    if (auto i = reg.types.find(type); i != reg.types.end())
      return i->second;
  }
  if (!primary_only)
    for (auto& d : table())
      for (auto& t : d.supporting)
        if (t == type)
          return &d;
  return nullptr;
}

/// The number that orders evidence of one pattern: the first of these keys
/// present (the coordinator's culprit order and the operators' notification
/// budget use the same).
double magnitude_of(const json& evidence) {
  if (!evidence.is_object())
    return 0;
  for (auto key : {"growth_per_s", "growth_bytes_per_s", "busy_ms",
                   "idle_ms", "exits_in_window", "restarts",
                   "errors_in_window", "ratio", "peer_ratio",
                   "unanswered_requests", "pending_replies", "mailbox_depth",
                   "state_bytes"})
    if (auto i = evidence.find(key); i != evidence.end() && i->is_number())
      return i->get<double>();
  return 0;
}

double magnitude(const notification& n) {
  return magnitude_of(json::parse(n.context, nullptr, false));
}

std::string replace_all(std::string text, const std::string& what,
                        const std::string& with) {
  for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos;
       pos += with.size())
    text.replace(pos, what.size(), with);
  return text;
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : sep) + x;
  return out;
}

} // namespace

std::string evidence_source(const notification& n) {
  auto ctx = json::parse(n.context, nullptr, false);
  if (ctx.is_object())
    if (auto i = ctx.find("source"); i != ctx.end() && i->is_string())
      return i->get<std::string>();
  // The process table's counters and busy/idle times, whichever skill read
  // them.
  static const auto& table_types = *new std::set<std::string>{
    "blocked_handler", "scheduler_starvation", "thread_hog", "unresponsive",
    "mailbox_growth", "mailbox_backlog", "suspect_blocked_handler",
    "suspect_unresponsive", "peer_outlier", "reply_backlog",
    "unanswered_requests"};
  if (table_types.count(n.anomaly_type) > 0)
    return "process_table";
  return n.skill;
}

void register_skill(const skills::skill& sk) {
  auto& reg = registry();
  auto types = sk.finding_types();
  auto words = sk.keywords();
  std::lock_guard<std::mutex> guard{reg.mtx};
  for (auto& w : words) {
    std::string lower;
    for (auto c : w)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    w = std::move(lower);
  }
  reg.keywords[sk.name()] = std::move(words);
  for (auto& ft : types) {
    if (ft.type.empty() || ft.pattern.empty())
      continue;
    if (auto* d = builtin_pattern(ft.pattern)) {
      reg.types[ft.type] = d;
      continue;
    }
    // A pattern of the skill's own.
    const pattern_def* mine = nullptr;
    for (auto& d : reg.own)
      if (d.pattern.id == ft.pattern)
        mine = &d;
    if (mine == nullptr) {
      pattern_def d;
      d.pattern.id = ft.pattern;
      d.pattern.rank = ft.rank;
      d.pattern.root_cause = ft.root_cause.empty()
                               ? ft.description + " ({culprits})"
                               : ft.root_cause;
      d.title = ft.pattern;
      reg.own.push_back(std::move(d));
      mine = &reg.own.back();
    }
    const_cast<pattern_def*>(mine)->pattern.anomaly_types.push_back(ft.type);
    reg.types[ft.type] = mine;
  }
}

const std::vector<failure_pattern>& failure_patterns() {
  static const auto& xs = *new std::vector<failure_pattern>([] {
    std::vector<failure_pattern> out;
    for (auto& d : table())
      out.push_back(d.pattern);
    return out;
  }());
  return xs;
}

std::vector<failure_pattern> known_patterns() {
  std::vector<failure_pattern> out = failure_patterns();
  auto& reg = registry();
  std::lock_guard<std::mutex> guard{reg.mtx};
  for (auto& d : reg.own)
    out.push_back(d.pattern);
  for (auto& [type, d] : reg.types)
    for (auto& p : out)
      if (p.id == d->pattern.id
          && std::find(p.anomaly_types.begin(), p.anomaly_types.end(), type)
               == p.anomaly_types.end())
        p.anomaly_types.push_back(type);
  std::stable_sort(out.begin(), out.end(),
                   [](auto& x, auto& y) { return x.rank < y.rank; });
  return out;
}

const failure_pattern* pattern_for(const std::string& anomaly_type) {
  auto* d = def_for(anomaly_type, false);
  return d ? &d->pattern : nullptr;
}

std::vector<json> correlate(const std::vector<notification>& notes,
                            const std::vector<std::string>& nodes_seen) {
  // Patterns whose own types are present.
  std::set<const pattern_def*> present;
  for (auto& n : notes)
    if (auto* d = def_for(n.anomaly_type, true))
      present.insert(d);
  struct group {
    const pattern_def* def = nullptr;
    std::string id;
    int rank = 100;
    std::string title;
    std::string root;
    std::vector<const notification*> notes;
  };
  std::map<std::string, group> groups;
  for (auto& n : notes) {
    const pattern_def* d = nullptr;
    // A supporting type joins a present pattern, else stands on its own.
    for (auto& p : table())
      if (present.count(&p)
          && std::find(p.supporting.begin(), p.supporting.end(),
                       n.anomaly_type)
               != p.supporting.end())
        d = &p;
    if (d == nullptr)
      d = def_for(n.anomaly_type, true);
    std::string id = d ? d->pattern.id : n.anomaly_type;
    auto& g = groups[id];
    if (g.notes.empty()) {
      g.def = d;
      g.id = id;
      g.rank = d ? d->pattern.rank : 100;
      g.title = d ? d->title : id;
      g.root = d ? d->pattern.root_cause : id + " in {culprits}";
    }
    g.notes.push_back(&n);
  }
  std::vector<group*> ordered;
  for (auto& [id, g] : groups)
    ordered.push_back(&g);
  auto worst = [](const group& g) {
    auto s = severity::info;
    for (auto* n : g.notes)
      s = std::max(s, n->severity);
    return s;
  };
  std::stable_sort(ordered.begin(), ordered.end(),
                   [&](const group* x, const group* y) {
                     auto wx = worst(*x) >= severity::warning;
                     auto wy = worst(*y) >= severity::warning;
                     if (wx != wy)
                       return wx;
                     if (x->rank != y->rank)
                       return x->rank < y->rank;
                     if (worst(*x) != worst(*y))
                       return worst(*x) > worst(*y);
                     return x->notes.size() > y->notes.size();
                   });
  // Several nodes: culprits are named with their node ("ledger@node-b"),
  // the same pattern on several nodes is one cluster-wide insight, and a
  // pattern on one node names it.
  std::set<std::string> all_nodes{nodes_seen.begin(), nodes_seen.end()};
  for (auto& n : notes)
    if (!n.node.empty())
      all_nodes.insert(n.node);
  bool cluster = all_nodes.size() > 1;
  auto qualify = [&](const std::string& name, const std::string& node) {
    return cluster && !node.empty() && name != node ? name + "@" + node
                                                    : name;
  };
  struct earlier_insight {
    std::string pattern;
    /// Culprits as named, and without their node.
    std::vector<std::string> names;
    std::vector<std::string> plain;
    std::set<std::string> nodes;
  };
  std::vector<json> out;
  std::vector<earlier_insight> earlier;
  for (auto* g : ordered) {
    // Primary notifications first, then by severity and magnitude.
    // Types listed first in the pattern are the stronger evidence (a
    // growing mailbox over a merely deep one); supporting types come last.
    auto type_rank = [&](const notification* n) {
      if (g->def == nullptr)
        return size_t{0};
      auto& ts = g->def->pattern.anomaly_types;
      auto i = std::find(ts.begin(), ts.end(), n->anomaly_type);
      return i == ts.end() ? ts.size() : size_t(i - ts.begin());
    };
    // Each context is parsed once, not per comparison.
    std::map<const notification*, double> size_of;
    for (auto* n : g->notes)
      size_of[n] = magnitude(*n);
    auto ns = g->notes;
    std::stable_sort(ns.begin(), ns.end(), [&](auto* x, auto* y) {
      if (type_rank(x) != type_rank(y))
        return type_rank(x) < type_rank(y);
      if (x->severity != y->severity)
        return x->severity > y->severity;
      return size_of[x] > size_of[y];
    });
    std::vector<std::string> culprits, plain, ids, observations;
    std::set<std::string> skills, nodes;
    auto add_culprit = [&](const std::string& name, const std::string& node) {
      auto q = qualify(name, node);
      if (std::find(culprits.begin(), culprits.end(), q) == culprits.end())
        culprits.push_back(q);
      if (std::find(plain.begin(), plain.end(), name) == plain.end())
        plain.push_back(name);
    };
    for (auto* n : ns) {
      if (!n->actors.empty())
        add_culprit(n->actors.front(), n->node);
      ids.push_back(n->id);
      skills.insert(evidence_source(*n));
      if (!n->node.empty())
        nodes.insert(n->node);
      if (observations.size() < 5 && !n->observation.empty())
        observations.push_back(n->observation);
    }
    for (auto* n : ns)
      for (auto& a : n->actors)
        add_culprit(a, n->node);
    // Grounded: independent sources agree (two skills reading the same
    // counters are one source). Causal would need evidence of order; the
    // rule brain claims none.
    bool grounded = skills.size() >= 2;
    std::string correlation = "temporal";
    // Cluster-wide: the actors by name, then every node they were seen on.
    bool wide = cluster && nodes.size() > 1;
    auto who = culprits.empty() ? std::string{"the application"}
                                : join(wide ? plain : culprits, ", ");
    auto root = replace_all(g->root, "{culprits}", who);
    std::vector<std::string> node_list{nodes.begin(), nodes.end()};
    if (wide)
      root += " — on " + std::to_string(nodes.size()) + " nodes ("
              + join(node_list, ", ")
              + "): cluster-wide, so look for what they share (code, "
                "configuration, load, a common dependency)";
    else if (cluster && !nodes.empty())
      root += " (on node " + *nodes.begin() + " only)";
    // A symptom of an earlier (root-cause) insight that names a culprit of
    // it.
    // Also a symptom: errors or latencies whose messages name a culprit of
    // an earlier insight ("persist of book-AAPL timed out: journal did not
    // answer"), and memory growth without a culprit of its own while
    // mailboxes grow (the waiting messages hold the memory).
    std::string texts;
    for (auto* n : ns)
      texts += n->observation + "\n" + n->context + "\n";
    auto names_word = [&](const std::string& name) {
      if (name.size() < 3)
        return false;
      for (size_t pos = 0; (pos = texts.find(name, pos)) != std::string::npos;
           pos += name.size()) {
        auto before = pos == 0 ? ' ' : texts[pos - 1];
        auto after = pos + name.size() < texts.size()
                       ? texts[pos + name.size()]
                       : ' ';
        auto word = [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_'
                 || c == '-';
        };
        if (!word(before) && !word(after))
          return true;
      }
      return false;
    };
    bool mentions_only = g->id == "error_burst"
                         || g->id == "latency_regression";
    for (auto& e : earlier) {
      bool shared = false;
      for (auto& c : culprits)
        if (std::find(e.names.begin(), e.names.end(), c) != e.names.end())
          shared = true;
      // Across nodes: the same actor, or errors and latencies on one node
      // that name the culprit of another (a producer on node A waiting on
      // the slow consumer of node B).
      if (!shared && cluster)
        for (auto& c : plain)
          if (std::find(e.plain.begin(), e.plain.end(), c) != e.plain.end())
            shared = true;
      if (!shared && mentions_only)
        for (auto& c : e.plain)
          if (names_word(c))
            shared = true;
      if (!shared && g->id == "memory_growth" && culprits.empty()
          && e.pattern == "slow_consumer")
        shared = true;
      if (shared) {
        correlation = "symptomatic";
        root += " — a symptom of the " + e.pattern;
        bool elsewhere = cluster && !e.nodes.empty() && e.nodes != nodes;
        if (elsewhere)
          root += " on " + join(std::vector<std::string>{e.nodes.begin(),
                                                         e.nodes.end()},
                                ", ");
        root += " above";
        break;
      }
    }
    auto sev = worst(*g);
    std::string summary = g->title;
    if (!culprits.empty())
      summary += " in " + (wide ? plain.front() : culprits.front());
    if (wide)
      summary += " on " + std::to_string(nodes.size()) + " nodes ("
                 + join(node_list, ", ") + ")";
    if (!observations.empty())
      summary += ": " + observations.front();
    json args{{"pattern", g->id},
              {"culprits", culprits},
              {"notification_ids", ids},
              {"correlation", correlation},
              {"summary", summary},
              {"matched_observations", observations},
              {"grounded", grounded},
              {"root_cause", root},
              {"confidence", grounded ? "high"
                             : sev >= severity::warning ? "medium"
                                                        : "low"},
              {"severity", std::string{skills::to_string(sev)}}};
    out.push_back(std::move(args));
    earlier.push_back({g->id, culprits, plain, nodes});
  }
  return out;
}

// -- routing ------------------------------------------------------------------

const std::vector<std::string>& core_skills() {
  static const auto& xs = *new std::vector<std::string>{
    "actors", "crashes", "supervision", "memory"};
  return xs;
}

std::vector<std::string> route_skills(const std::string& reason,
                                      const std::vector<std::string>& available) {
  std::string text;
  for (auto c : reason)
    text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::string> picked;
  auto add = [&](const std::string& s) {
    if (std::find(available.begin(), available.end(), s) != available.end()
        && std::find(picked.begin(), picked.end(), s) == picked.end())
      picked.push_back(s);
  };
  // The cheap core set looks at every investigation: whatever the reason
  // says, a blocked actor, a crash loop or a leak is what a user most needs
  // to hear about.
  for (auto& s : core_skills())
    add(s);
  // The application's own skills know its domain: always asked.
  static const auto& builtin = *new std::set<std::string>{
    "actors", "memory", "scheduler", "crashes", "supervision",
    "logs",   "telemetry", "os",     "anomaly", "tracer"};
  for (auto& s : available)
    if (builtin.count(s) == 0)
      add(s);
  std::vector<std::string> tokens;
  std::string cur;
  for (auto c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      cur += c;
    } else if (!cur.empty()) {
      tokens.push_back(cur);
      cur.clear();
    }
  }
  // Hyphenated words count whole and by their parts ("fan-out", "out").
  for (size_t i = 0, n = tokens.size(); i < n; ++i) {
    // A copy: the push_backs below may move the tokens.
    auto t = tokens[i];
    if (t.find('-') == std::string::npos)
      continue;
    size_t start = 0;
    for (size_t pos; (pos = t.find('-', start)) != std::string::npos;
         start = pos + 1)
      if (pos > start)
        tokens.push_back(t.substr(start, pos - start));
    if (start < t.size())
      tokens.push_back(t.substr(start));
  }
  auto matches = [&](const std::string& w) {
    if (w.find(' ') != std::string::npos)
      return text.find(w) != std::string::npos;
    for (auto& t : tokens)
      if (t.compare(0, w.size(), w) == 0)
        return true;
    return false;
  };
  // Each skill's own keywords (`skill::keywords`, registered by the
  // engine) match the start of a word of the reason ("restart" matches
  // "restarts", "p9" matches "p95"); keywords with a space match anywhere.
  std::map<std::string, std::vector<std::string>> keywords;
  {
    auto& reg = registry();
    std::lock_guard<std::mutex> guard{reg.mtx};
    keywords = reg.keywords;
  }
  bool any = false;
  for (auto& s : available) {
    auto i = keywords.find(s);
    if (i == keywords.end())
      continue;
    for (auto& w : i->second)
      if (matches(w)) {
        any = true;
        add(s);
        break;
      }
  }
  // A reason in words we do not know, or pointing only to skills that are
  // not available: look everywhere.
  if (!any || picked.empty())
    for (auto& s : available)
      add(s);
  return picked;
}

// -- brains -------------------------------------------------------------------

namespace {

/// The last tool result in `conv` as JSON (null when absent or not JSON),
/// and whether it was an error.
json last_result(const llm::conversation& conv, bool* is_error = nullptr) {
  auto& ms = conv.messages();
  for (auto i = ms.rbegin(); i != ms.rend(); ++i)
    if (i->role == llm::role::tool) {
      if (is_error != nullptr)
        *is_error = i->is_error;
      if (i->is_error)
        return nullptr;
      // The complete structured result; the text may be bounded for a
      // model.
      if (i->data)
        return *i->data;
      auto j = json::parse(i->text, nullptr, false);
      return j.is_discarded() ? json{} : j;
    }
  return nullptr;
}

class rule_brain_base : public llm::brain {
public:
  std::string_view kind() const noexcept override {
    return "rule";
  }

protected:
  caf::expected<llm::tool_call> call(llm::conversation& conv,
                                     const llm::tool_set& tools,
                                     std::string name, json args) {
    if (tools.find(name) == nullptr && name != "done")
      return make_error(actors_errc::brain_failed,
                        "rule brain: tool '" + name + "' is not offered");
    llm::tool_call c;
    c.id = "rule_" + std::to_string(++calls_);
    c.name = std::move(name);
    c.arguments = std::move(args);
    conv.add(llm::message::make_assistant("", {c}));
    return c;
  }

  /// The next planned call; `done` once the plan is used up.
  caf::expected<llm::tool_call> next(llm::conversation& conv,
                                     const llm::tool_set& tools) {
    if (queue_.empty())
      return call(conv, tools, "done", json::object());
    auto [name, args] = std::move(queue_.front());
    queue_.pop_front();
    return call(conv, tools, std::move(name), std::move(args));
  }

  int calls_ = 0;
  std::deque<std::pair<std::string, json>> queue_;
};

class operator_rule_brain final : public rule_brain_base {
public:
  operator_rule_brain(rule_brain_options opts, int32_t max_iterations)
    : opts_(opts),
      max_iterations_(max_iterations > 0 ? max_iterations : 25),
      plan_interval_(std::max<int64_t>(opts.sample_interval.count(), 1)) {
  }

  caf::expected<llm::tool_call> decide(llm::conversation& conv,
                                       const llm::tool_set& tools) override {
    switch (phase_) {
      case 0:
        phase_ = 1;
        return call(conv, tools, "take_snapshot", json::object());
      case 1: {
        absorb(last_result(conv));
        // The skill's sample plan: more looks, its interval apart (no
        // second look at all when the options turn sampling off).
        if (opts_.sample_interval.count() > 0 && looks_ < plan_looks_) {
          phase_ = 2;
          return call(conv, tools, "wait", {{"ms", plan_interval_}});
        }
        phase_ = 4;
        plan();
        return next(conv, tools);
      }
      case 2:
        phase_ = 3;
        return call(conv, tools, "take_snapshot", json::object());
      case 3: {
        absorb(last_result(conv));
        if (looks_ < plan_looks_) {
          phase_ = 2;
          return call(conv, tools, "wait", {{"ms", plan_interval_}});
        }
        // Suspects below their thresholds: look again when they would
        // cross them, within the recheck budget.
        int64_t recheck = 0;
        for (auto& f : findings_)
          if (auto ev = f.value("evidence", json::object());
              ev.is_object() && ev.contains("recheck_ms"))
            recheck = std::max(recheck, ev.value("recheck_ms", int64_t{0}));
        auto budget = opts_.max_recheck.count() - rechecked_ms_;
        if (recheck > 0 && budget > 0) {
          auto ms = std::clamp<int64_t>(recheck, 1, budget);
          rechecked_ms_ += ms;
          phase_ = 2;
          return call(conv, tools, "wait", {{"ms", ms}});
        }
        phase_ = 4;
        plan();
        return next(conv, tools);
      }
      default:
        return next(conv, tools);
    }
  }

private:
  void absorb(const json& result) {
    if (!result.is_object() || !result.contains("snapshot_id"))
      return;
    ++looks_;
    snapshot_id_ = result.value("snapshot_id", std::string{});
    findings_ = result.value("findings", json::array());
    if (auto p = result.value("plan", json::object()); p.is_object()) {
      plan_looks_ = std::clamp(p.value("looks", 2), 1, 10);
      plan_interval_ = std::clamp<int64_t>(
        p.value("interval_ms", opts_.sample_interval.count()), 1, 10'000);
    }
  }

  static double strength(const json& f) {
    return magnitude_of(f.value("evidence", json::object()));
  }

  void plan() {
    std::set<std::string> seen;
    auto worst = severity::info;
    size_t reported = 0;
    // The findings to report: one per type and first actor, no suspects.
    std::vector<json> xs;
    for (auto& f : findings_) {
      auto type = f.value("type", std::string{});
      auto actors = f.value("actors", json::array());
      auto key = type + "|" + (actors.empty() ? "" : actors[0].dump());
      if (type.empty() || !seen.insert(key).second)
        continue;
      // Unconfirmed suspects are no anomaly (yet).
      if (auto ev = f.value("evidence", json::object());
          ev.is_object() && ev.contains("recheck_ms"))
        continue;
      xs.push_back(f);
    }
    auto sev_of = [](const json& f) {
      severity sev = severity::warning;
      parse_severity(f.value("severity", std::string{"warning"}), sev);
      return sev;
    };
    // Strongest first, so that within the iteration budget the strongest
    // findings keep a notification of their own.
    std::stable_sort(xs.begin(), xs.end(), [&](const json& x, const json& y) {
      if (sev_of(x) != sev_of(y))
        return sev_of(x) > sev_of(y);
      return strength(x) > strength(y);
    });
    // Iterations left for notifications (set_state and done follow). A
    // large incident does not run out of them: beyond the budget, the rest
    // of each type goes into one notification naming every actor.
    auto left = max_iterations_ - calls_ - 2;
    std::map<std::string, std::vector<json>> rest;
    std::set<std::string> types;
    for (auto& f : xs)
      types.insert(f.value("type", std::string{}));
    auto own = xs.size();
    if (left > 0 && static_cast<int64_t>(xs.size()) > left)
      own = static_cast<size_t>(
        std::max<int64_t>(0, left - static_cast<int64_t>(types.size())));
    else if (left <= 0)
      own = 0;
    auto notify = [&](json args) {
      if (auto* p = pattern_for(args.value("type", std::string{})))
        args["hypothesis"] = "matches the " + p->id + " pattern";
      queue_.emplace_back("send_notification", std::move(args));
    };
    for (size_t i = 0; i < xs.size(); ++i) {
      auto& f = xs[i];
      auto sev = sev_of(f);
      worst = std::max(worst, sev);
      ++reported;
      if (i >= own) {
        rest[f.value("type", std::string{})].push_back(f);
        continue;
      }
      json args{{"type", f.value("type", std::string{})},
                {"severity", std::string{skills::to_string(sev)}},
                {"context", f.value("evidence", json::object())},
                {"observation", f.value("observation", std::string{})},
                {"snapshot_ids", json::array({snapshot_id_})},
                {"actors", f.value("actors", json::array())}};
      if (!args["context"].is_object())
        args["context"] = json{{"evidence", args["context"]}};
      notify(std::move(args));
    }
    for (auto& [type, fs] : rest) {
      auto sev = severity::info;
      json actors = json::array(), evidence = json::array();
      std::string text = std::to_string(fs.size()) + " more with " + type
                         + ": ";
      for (size_t i = 0; i < fs.size(); ++i) {
        sev = std::max(sev, sev_of(fs[i]));
        for (auto& a : fs[i].value("actors", json::array()))
          actors.push_back(a);
        if (evidence.size() < 20)
          evidence.push_back(fs[i].value("evidence", json::object()));
        if (i < 5)
          text += (i > 0 ? "; " : "") + fs[i].value("observation",
                                                    std::string{});
      }
      if (fs.size() > 5)
        text += "; ...";
      notify(json{{"type", type},
                  {"severity", std::string{skills::to_string(sev)}},
                  {"context", {{"count", fs.size()},
                               {"evidence", evidence}}},
                  {"observation", text},
                  {"snapshot_ids", json::array({snapshot_id_})},
                  {"actors", actors}});
    }
    std::string state = reported == 0               ? "healthy"
                        : worst == severity::critical ? "critical"
                        : worst == severity::warning  ? "warning"
                                                      : "observing";
    std::string reason = snapshot_id_.empty()
                           ? "no snapshot could be taken"
                           : std::to_string(reported)
                               + " finding(s) from the detectors";
    if (snapshot_id_.empty())
      state = "observing";
    queue_.emplace_back("set_state",
                        json{{"state", state}, {"reason", reason}});
    queue_.emplace_back("done", json{{"summary", reason}});
  }


  rule_brain_options opts_;
  int64_t max_iterations_ = 25;
  int phase_ = 0;
  int looks_ = 0;
  int plan_looks_ = 2;
  int64_t plan_interval_;
  int64_t rechecked_ms_ = 0;
  std::string snapshot_id_;
  json findings_ = json::array();
};

class coordinator_rule_brain final : public rule_brain_base {
public:
  coordinator_rule_brain(std::string reason, rule_brain_options opts)
    : reason_(std::move(reason)), opts_(opts) {
  }

  caf::expected<llm::tool_call> decide(llm::conversation& conv,
                                       const llm::tool_set& tools) override {
    switch (phase_) {
      case 0: {
        phase_ = 1;
        std::vector<std::string> available;
        if (auto* t = tools.find("invoke_operators")) {
          auto schema = t->input_schema();
          auto items = schema["properties"]["skills"]["items"];
          for (auto& s : items.value("enum", json::array()))
            available.push_back(s.get<std::string>());
        }
        if (available.empty())
          return make_error(actors_errc::brain_failed,
                            "rule brain: no skills to invoke");
        return call(conv, tools, "invoke_operators",
                    {{"skills", route_skills(reason_, available)}});
      }
      case 1:
        phase_ = 2;
        return call(conv, tools, "get_operator_statuses", json::object());
      case 2: {
        auto statuses = last_result(conv);
        bool running = false;
        if (statuses.is_array())
          for (auto& s : statuses) {
            if (s.value("running", false))
              running = true;
            auto node = s.value("node", std::string{});
            if (!node.empty()
                && std::find(nodes_.begin(), nodes_.end(), node)
                     == nodes_.end())
              nodes_.push_back(std::move(node));
          }
        if (running) {
          phase_ = 1;
          return call(conv, tools, "wait",
                      {{"ms", std::clamp<int64_t>(opts_.operator_wait.count(),
                                                  1, 60'000)}});
        }
        phase_ = 3;
        return call(conv, tools, "get_notifications", {{"status", "unread"}});
      }
      case 3: {
        phase_ = 4;
        std::vector<notification> notes;
        auto xs = last_result(conv);
        if (xs.is_array())
          for (auto& x : xs)
            if (auto n = notification_from_json(x))
              notes.push_back(std::move(*n));
        std::vector<std::string> ids;
        for (auto& n : notes)
          ids.push_back(n.id);
        auto insights = correlate(notes, nodes_);
        for (auto& args : insights)
          queue_.emplace_back("produce_insight", std::move(args));
        if (!ids.empty())
          queue_.emplace_back("update_notification_statuses",
                              json{{"notification_ids", ids},
                                   {"status", "acknowledged"}});
        size_t serious = 0;
        for (auto& n : notes)
          if (n.severity >= severity::warning)
            ++serious;
        std::string summary
          = notes.empty()
              ? "No operator reported an anomaly."
              : std::to_string(notes.size()) + " notification(s), "
                  + std::to_string(serious) + " warning or worse, correlated "
                  + "into " + std::to_string(insights.size())
                  + " insight(s).";
        queue_.emplace_back("done", json{{"summary", summary}});
        return next(conv, tools);
      }
      default:
        return next(conv, tools);
    }
  }

private:

  std::string reason_;
  rule_brain_options opts_;
  /// The nodes its operators ran on (several: culprits name their node).
  std::vector<std::string> nodes_;
  int phase_ = 0;
};

} // namespace

std::unique_ptr<llm::brain> make_rule_brain(const brain_request& req,
                                            const rule_brain_options& opts) {
  if (req.role == "coordinator")
    return std::make_unique<coordinator_rule_brain>(
      req.hints.empty() ? req.reason : req.reason + "\n" + req.hints, opts);
  return std::make_unique<operator_rule_brain>(opts, req.max_iterations);
}

} // namespace caflens
