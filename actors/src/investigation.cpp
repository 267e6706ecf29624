#include "investigation.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "caflens/actors/rule_brain.hpp"
#include "caflens/skills/process_table.hpp"

#include "engine.hpp"

namespace caflens::actors {

using json = nlohmann::json;

operator_result op_entry::stand_in(const std::string& stop_reason) const {
  operator_result r;
  r.skill = skill;
  r.node = node;
  r.state = state;
  r.iterations = iteration;
  r.notification_ids = notification_ids;
  // Still running when the coordinator finished: cancelled (or stopped by
  // what stopped the investigation).
  r.stop_reason = crashes > 0                          ? "crashed"
                  : running && stop_reason == "done" ? "cancelled"
                                                       : stop_reason;
  return r;
}

void request_entry::fail(const caf::error& err) {
  for (auto& w : waiters)
    w.rp.deliver(err);
  waiters.clear();
}

// -- queries ------------------------------------------------------------------

op_entry* investigation::find_op(uint64_t run_id) {
  auto i = ops.find(run_id);
  return i == ops.end() ? nullptr : &i->second;
}

op_entry* investigation::running_op(const std::string& skill,
                                     const std::string& node) {
  for (auto& [id, op] : ops)
    if (op.skill == skill && op.running && (node.empty() || op.node == node))
      return &op;
  return nullptr;
}

bool investigation::any_running() const {
  return std::any_of(ops.begin(), ops.end(),
                     [](auto& kv) { return kv.second.running; });
}

std::vector<std::string> investigation::running_skills() const {
  std::vector<std::string> result;
  for (auto& [id, op] : ops)
    if (op.running)
      result.push_back(op.skill);
  return result;
}

bool investigation::has_evidence() const {
  if (!notes.empty() || !insights.empty())
    return true;
  return std::any_of(ops.begin(), ops.end(), [](auto& kv) {
    return kv.second.result || !kv.second.notification_ids.empty();
  });
}

notification* investigation::find_note(const std::string& id) {
  for (auto& n : notes)
    if (n.id == id)
      return &n;
  return nullptr;
}

std::vector<std::string> investigation::unknown_notes(const json& ids) {
  std::vector<std::string> unknown;
  for (auto& id : ids)
    if (!id.is_string() || find_note(id.get<std::string>()) == nullptr)
      unknown.push_back(id.is_string() ? id.get<std::string>() : id.dump());
  return unknown;
}

// -- what operators report ----------------------------------------------------

void investigation::add_notification(op_entry& op, notification n) {
  op.notification_ids.push_back(n.id);
  n.status = "unread";
  notes.push_back(std::move(n));
}

void investigation::complete(op_entry& op, operator_result r) {
  op.running = false;
  op.state = r.state;
  op.iteration = r.iterations;
  if (!r.error.empty())
    errors.push_back("operator " + op.skill + ": " + r.error);
  op.result = std::move(r);
}

bool investigation::crashed(op_entry& op, const std::string& reason,
                            int max_restarts, const investigation_env& env) {
  ++op.crashes;
  bool give_up = op.crashes > max_restarts;
  notification n;
  n.id = env.next_id("n");
  n.skill = op.skill;
  n.anomaly_type = "operator_crashed";
  n.severity = severity::warning;
  n.observation = "the " + op.skill + " operator crashed (" + reason + ")"
                  + (give_up ? "; given up after " + std::to_string(op.crashes)
                                 + " crashes"
                             : "; restarted by its supervisor");
  n.context = json{{"reason", reason}, {"crashes", op.crashes}}.dump();
  n.detected_at = unix_ms();
  n.node = op.node;
  n.trace_id = entry.trace_id;
  op.notification_ids.push_back(n.id);
  notes.push_back(std::move(n));
  errors.push_back("operator " + op.skill + " crashed: " + reason);
  if (!give_up)
    return false;
  op.running = false;
  auto r = op.stand_in("crashed");
  r.error = reason;
  r.restarts = op.crashes - 1;
  op.result = std::move(r);
  return true;
}

void investigation::start_failed(op_entry& op, const std::string& why) {
  op.running = false;
  operator_result r;
  r.skill = op.skill;
  r.node = op.node;
  r.stop_reason = "start_failed";
  r.error = why;
  op.result = r;
  errors.push_back("operator " + op.skill + " failed to start: " + why);
}

namespace {

/// "2026-11-30T17:02:03.123Z".
std::string format_time(int64_t unix_ms) {
  auto secs = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

} // namespace

std::vector<std::string>
investigation::node_lost(const std::string& node, const std::string& why,
                         int64_t at, const investigation_env& env) {
  std::vector<std::string> skills;
  std::vector<std::string> note_ids;
  for (auto& [id, op] : ops) {
    if (!op.running || op.node != node)
      continue;
    op.running = false;
    auto r = op.stand_in("node_lost");
    r.stop_reason = "node_lost";
    r.error = "node '" + node + "' lost: " + why;
    op.result = std::move(r);
    skills.push_back(op.skill);
  }
  if (skills.empty())
    return skills;
  auto when = format_time(at);
  std::string listed;
  for (auto& s : skills)
    listed += (listed.empty() ? "" : ", ") + s;
  notification n;
  n.id = env.next_id("n");
  n.skill = "cluster";
  n.anomaly_type = "node_lost";
  n.severity = severity::warning;
  n.observation = "node " + node + " was lost at " + when + " (" + why
                  + "); its " + listed + " operator(s) did not finish";
  n.context = json{{"node", node},
                   {"reason", why},
                   {"lost_at", at},
                   {"missing_skills", skills}}
                .dump();
  n.actors = {node};
  n.detected_at = at;
  n.node = node;
  n.trace_id = entry.trace_id;
  notes.push_back(std::move(n));
  errors.push_back("node '" + node + "' lost at " + when + " (" + why
                   + "): skills " + listed + " missing");
  return skills;
}

// -- the coordinator's bookkeeping tools --------------------------------------

tool_outcome investigation::notifications(const std::string& status,
                                          int64_t limit,
                                          int64_t offset) const {
  json all = json::array();
  for (auto& n : notes) {
    if (status != "all" && n.status != status)
      continue;
    auto j = to_json(n);
    j.erase("trace_id");
    all.push_back(std::move(j));
  }
  if (limit <= 0 && offset <= 0)
    return tool_outcome::structured(std::move(all));
  // A page: whole notifications, with how many are left.
  auto total = static_cast<int64_t>(all.size());
  auto first = std::min(std::max<int64_t>(offset, 0), total);
  auto last = limit > 0 ? std::min(total, first + limit) : total;
  json page = json::array();
  for (auto i = first; i < last; ++i)
    page.push_back(std::move(all[static_cast<size_t>(i)]));
  return tool_outcome::structured(json{{"items", std::move(page)},
                                       {"total", total},
                                       {"offset", first},
                                       {"more", total - last}});
}

tool_outcome investigation::update_statuses(const json& args) {
  auto ids = args.value("notification_ids", json::array());
  auto status = args.value("status", std::string{});
  if (auto unknown = unknown_notes(ids); !unknown.empty())
    return tool_outcome::error("unknown notification ids: " + join(unknown));
  std::vector<std::string> names;
  for (auto& id : ids) {
    find_note(id.get<std::string>())->status = status;
    names.push_back(id.get<std::string>());
  }
  return tool_outcome::ok(
    json{{"updated", names.size()}, {"status", status}}.dump());
}

tool_outcome investigation::operator_statuses() const {
  json xs = json::array();
  for (auto& [id, op] : ops) {
    xs.push_back({{"skill", op.skill},
                  {"node", op.node},
                  {"running", op.running},
                  {"state", std::string{to_string(op.state)}},
                  {"iteration", op.iteration},
                  {"notifications", op.notification_ids.size()},
                  {"crashes", op.crashes},
                  {"stop_reason", op.result ? op.result->stop_reason : ""}});
    // What a finished operator concluded, in its own words.
    if (op.result) {
      xs.back()["summary"] = op.result->summary;
      if (!op.result->error.empty())
        xs.back()["error"] = op.result->error;
    }
  }
  return tool_outcome::structured(std::move(xs));
}

namespace {

/// "ledger@node-b" as {"ledger", "node-b"} when node-b is a node of the
/// evidence; any other name (even one with an "@") has no node.
std::pair<std::string, std::string>
split_culprit(const std::string& x, const std::vector<notification>& notes) {
  auto at = x.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == x.size())
    return {x, {}};
  auto node = x.substr(at + 1);
  for (auto& n : notes)
    if (n.node == node)
      return {x.substr(0, at), std::move(node)};
  return {x, {}};
}

} // namespace

culprit investigation::resolve_culprit(const std::string& name,
                                       const json& ids,
                                       const investigation_env& env) {
  // The skills that named it in the cited notifications (a metric's
  // series, a log source), else the process table (a live actor or
  // supervisor, with its id), else the notifications' context.
  // "name@node": the actor of that node (several nodes in the evidence).
  culprit c;
  auto [plain, at] = split_culprit(name, notes);
  c.name = plain;
  c.node = at;
  std::set<std::string> skills;
  bool named_supervisor = false;
  for (auto& id : ids) {
    auto* n = find_note(id.get<std::string>());
    if (n == nullptr || (!at.empty() && n->node != at))
      continue;
    if (std::find(n->actors.begin(), n->actors.end(), plain)
        != n->actors.end()) {
      skills.insert(n->skill);
      if (c.node.empty())
        c.node = n->node;
    }
    auto ctx = json::parse(n->context, nullptr, false);
    if (ctx.is_object() && ctx.value("supervisor", std::string{}) == plain)
      named_supervisor = true;
    if (!n->node.empty() && n->node == plain) {
      c.kind = "node";
      c.node = plain;
    }
  }
  if (c.node.empty())
    c.node = env.node;
  auto& name_ = plain;
  if (c.kind == "node")
    return c;
  auto only = [&](const char* skill) {
    return !skills.empty()
           && std::all_of(skills.begin(), skills.end(),
                          [&](auto& x) { return x == skill; });
  };
  if (only("telemetry")) {
    c.kind = "metric_series";
    return c;
  }
  if (only("logs")) {
    c.kind = "log_source";
    return c;
  }
  // The process table knows this node's actors only.
  if (env.processes != nullptr && c.node == env.node)
    if (auto a = env.processes->find(name_)) {
      c.kind = a->kind == "supervisor" || named_supervisor ? "supervisor"
                                                           : "actor";
      c.id = a->id;
      return c;
    }
  if (named_supervisor)
    c.kind = "supervisor";
  else if (!skills.empty())
    c.kind = "actor"; // named by an operator, no longer alive
  return c;
}

tool_outcome investigation::produce_insight(const json& args,
                                            const investigation_env& env) {
  auto ids = args.value("notification_ids", json::array());
  if (auto unknown = unknown_notes(ids); !unknown.empty())
    return tool_outcome::error("unknown notification ids: " + join(unknown)
                               + " (see get_notifications)");
  insight x;
  x.pattern = args.value("pattern", std::string{});
  if (x.pattern.empty())
    return tool_outcome::error("pattern must not be empty");
  for (auto& c : args.value("culprits", json::array()))
    if (c.is_string())
      x.culprits.push_back(c.get<std::string>());
  // A culprit must come from the evidence: named by a cited notification
  // (its actors, observation, context or node).
  std::vector<std::string> uncited;
  for (auto& culprit_name : x.culprits) {
    auto [name, at] = split_culprit(culprit_name, notes);
    bool named = false;
    for (auto& id : ids) {
      auto* n = find_note(id.get<std::string>());
      if (!at.empty() && n->node != at)
        continue;
      if (std::find(n->actors.begin(), n->actors.end(), name)
            != n->actors.end()
          || n->observation.find(name) != std::string::npos
          || n->context.find(name) != std::string::npos || n->node == name)
        named = true;
    }
    if (!named)
      uncited.push_back(culprit_name);
  }
  if (!uncited.empty())
    return tool_outcome::error(
      "culprits not named by any cited notification: " + join(uncited)
      + "; cite the notifications that name them (get_notifications) or "
        "leave them out");
  x.id = env.next_id("i");
  std::set<std::string> sources;
  auto worst = severity::info;
  std::set<std::string> nodes;
  for (auto& id : ids) {
    auto* n = find_note(id.get<std::string>());
    x.notification_ids.push_back(n->id);
    sources.insert(evidence_source(*n));
    worst = std::max(worst, n->severity);
    if (!n->node.empty())
      nodes.insert(n->node);
  }
  x.nodes.assign(nodes.begin(), nodes.end());
  parse_correlation(args.value("correlation", std::string{"temporal"}),
                    x.correlation);
  x.summary = args.value("summary", std::string{});
  for (auto& o : args.value("matched_observations", json::array()))
    if (o.is_string())
      x.matched_observations.push_back(o.get<std::string>());
  for (auto& name : x.culprits)
    x.culprit_details.push_back(resolve_culprit(name, ids, env));
  bool claimed = args.value("grounded", false);
  x.grounded = claimed && sources.size() >= 2;
  x.root_cause = args.value("root_cause", std::string{});
  x.confidence = args.value("confidence", std::string{"medium"});
  x.severity = worst;
  if (auto i = args.find("severity"); i != args.end() && i->is_string())
    parse_severity(i->get<std::string>(), x.severity);
  x.created_at = unix_ms();
  x.trace_id = entry.trace_id;
  json reply{{"insight_id", x.id}, {"grounded", x.grounded}};
  if (claimed && !x.grounded)
    reply["note"] = "grounded set to false: its notifications come from "
                    "one data source only";
  insights.push_back(std::move(x));
  return tool_outcome::ok(reply.dump());
}

// -- the result ---------------------------------------------------------------

investigation_result investigation::result(const std::string& stop_reason,
                                           const std::string& node,
                                           std::string brain,
                                           std::string summary) {
  investigation_result res;
  res.trace_id = entry.trace_id;
  res.reason = entry.req.reason;
  res.trigger = entry.req.options.trigger;
  res.node = node;
  res.brain = std::move(brain);
  res.summary = std::move(summary);
  res.iterations = loop.iteration;
  res.started_at = started_at;
  bool partial = stop_reason != "done" || !loop.degraded.empty();
  for (auto& [id, op] : ops) {
    if (op.running)
      partial = true;
    auto r = op.result ? *op.result : op.stand_in(stop_reason);
    r.restarts = std::max(r.restarts, op.crashes);
    if (!r.error.empty() || r.stop_reason == "crashed")
      partial = true;
    res.input_tokens += r.input_tokens;
    res.output_tokens += r.output_tokens;
    res.cost_usd += r.cost_usd;
    res.llm_calls += r.llm_calls;
    res.llm_retries += r.llm_retries;
    res.operators.push_back(std::move(r));
  }
  auto own = loop.usage();
  res.input_tokens += own.input_tokens;
  res.output_tokens += own.output_tokens;
  res.cost_usd += own.cost_usd;
  res.llm_calls += own.calls;
  res.llm_retries += own.retries;
  res.partial = partial;
  res.errors = std::move(errors);
  if (stop_reason != "done" && stop_reason != "max_iterations"
      && stop_reason != "llm_error")
    res.errors.push_back(stop_reason);
  res.notifications = std::move(notes);
  res.insights = std::move(insights);
  // Warning-or-worse first; otherwise the brain's order (it puts root
  // causes before their symptoms).
  std::stable_sort(res.insights.begin(), res.insights.end(),
                   [](const insight& x, const insight& y) {
                     return (x.severity >= severity::warning)
                            > (y.severity >= severity::warning);
                   });
  res.finished_at = unix_ms();
  return res;
}

json investigation::status() const {
  json xs = json::array();
  for (auto& [id, op] : ops)
    xs.push_back({{"skill", op.skill},
                  {"running", op.running},
                  {"state", std::string{to_string(op.state)}},
                  {"iteration", op.iteration}});
  return {{"trace_id", entry.trace_id},
          {"reason", entry.req.reason},
          {"iteration", loop.iteration},
          {"notifications", notes.size()},
          {"insights", insights.size()},
          {"operators", std::move(xs)}};
}

} // namespace caflens::actors
