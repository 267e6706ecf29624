#include "caflens/actors/types.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "caflens/actors/actors_errc.hpp"

namespace caflens {

using json = nlohmann::json;

bool parse_severity(std::string_view x, severity& out) {
  if (x == "info")
    out = severity::info;
  else if (x == "warning")
    out = severity::warning;
  else if (x == "critical")
    out = severity::critical;
  else
    return false;
  return true;
}

std::string_view to_string(operator_state x) noexcept {
  switch (x) {
    case operator_state::healthy:
      return "healthy";
    case operator_state::observing:
      return "observing";
    case operator_state::warning:
      return "warning";
    case operator_state::critical:
      return "critical";
  }
  return "healthy";
}

bool parse_operator_state(std::string_view x, operator_state& out) {
  for (auto s : {operator_state::healthy, operator_state::observing,
                 operator_state::warning, operator_state::critical})
    if (to_string(s) == x) {
      out = s;
      return true;
    }
  return false;
}

std::string to_string(operator_event x) {
  switch (x) {
    case operator_event::crashed:
      return "crashed";
    case operator_event::restarted:
      return "restarted";
    case operator_event::given_up:
      return "given_up";
  }
  return "crashed";
}

std::string_view to_string(correlation x) noexcept {
  switch (x) {
    case correlation::temporal:
      return "temporal";
    case correlation::causal:
      return "causal";
    case correlation::symptomatic:
      return "symptomatic";
  }
  return "temporal";
}

bool parse_correlation(std::string_view x, correlation& out) {
  for (auto c :
       {correlation::temporal, correlation::causal, correlation::symptomatic})
    if (to_string(c) == x) {
      out = c;
      return true;
    }
  return false;
}

const insight* investigation_result::top(severity min) const noexcept {
  for (auto& x : insights)
    if (x.severity >= min)
      return &x;
  return nullptr;
}

// -- to_json ------------------------------------------------------------------

namespace {

json parse_or_string(const std::string& text) {
  if (text.empty())
    return json::object();
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    return text;
  return j;
}

} // namespace

json to_json(const notification& x) {
  return {{"id", x.id},
          {"skill", x.skill},
          {"anomaly_type", x.anomaly_type},
          {"severity", std::string{skills::to_string(x.severity)}},
          {"context", parse_or_string(x.context)},
          {"observation", x.observation},
          {"hypothesis", x.hypothesis},
          {"snapshot_ids", x.snapshot_ids},
          {"actors", x.actors},
          {"detected_at", x.detected_at},
          {"node", x.node},
          {"trace_id", x.trace_id},
          {"status", x.status}};
}

json to_json(const culprit& x) {
  json j{{"kind", x.kind}, {"name", x.name}};
  if (x.id != 0)
    j["id"] = x.id;
  if (!x.node.empty())
    j["node"] = x.node;
  return j;
}

json to_json(const insight& x) {
  json details = json::array();
  for (auto& c : x.culprit_details)
    details.push_back(to_json(c));
  return {{"id", x.id},
          {"pattern", x.pattern},
          {"severity", std::string{skills::to_string(x.severity)}},
          {"culprits", x.culprits},
          {"culprit_details", details},
          {"summary", x.summary},
          {"root_cause", x.root_cause},
          {"confidence", x.confidence},
          {"grounded", x.grounded},
          {"correlation", std::string{to_string(x.correlation)}},
          {"notification_ids", x.notification_ids},
          {"matched_observations", x.matched_observations},
          {"created_at", x.created_at},
          {"trace_id", x.trace_id},
          {"nodes", x.nodes}};
}

json to_json(const snapshot& x) {
  return {{"id", x.id},           {"skill", x.skill},
          {"captured_at", x.captured_at}, {"data", parse_or_string(x.data)},
          {"node", x.node},       {"trace_id", x.trace_id}};
}

json to_json(const operator_result& x) {
  return {{"skill", x.skill},
          {"node", x.node},
          {"state", std::string{to_string(x.state)}},
          {"summary", x.summary},
          {"notification_ids", x.notification_ids},
          {"snapshot_ids", x.snapshot_ids},
          {"iterations", x.iterations},
          {"stop_reason", x.stop_reason},
          {"error", x.error},
          {"restarts", x.restarts},
          {"input_tokens", x.input_tokens},
          {"output_tokens", x.output_tokens},
          {"cost_usd", x.cost_usd},
          {"llm_calls", x.llm_calls},
          {"llm_retries", x.llm_retries},
          {"duration_us", x.duration_us}};
}

json to_json(const investigation_result& x) {
  json insights = json::array();
  for (auto& i : x.insights)
    insights.push_back(to_json(i));
  json notes = json::array();
  for (auto& n : x.notifications)
    notes.push_back(to_json(n));
  json ops = json::array();
  for (auto& o : x.operators)
    ops.push_back(to_json(o));
  return {{"trace_id", x.trace_id},
          {"reason", x.reason},
          {"trigger", x.trigger},
          {"brain", x.brain},
          {"node", x.node},
          {"partial", x.partial},
          {"errors", x.errors},
          {"summary", x.summary},
          {"insights", std::move(insights)},
          {"notifications", std::move(notes)},
          {"operators", std::move(ops)},
          {"iterations", x.iterations},
          {"input_tokens", x.input_tokens},
          {"output_tokens", x.output_tokens},
          {"cost_usd", x.cost_usd},
          {"llm_calls", x.llm_calls},
          {"llm_retries", x.llm_retries},
          {"started_at", x.started_at},
          {"finished_at", x.finished_at},
          {"duration_ms", x.finished_at - x.started_at},
          {"actions", [&] {
             json xs = json::array();
             for (auto& a : x.actions)
               xs.push_back(to_json(a));
             return xs;
           }()}};
}

// -- from_json ----------------------------------------------------------------

namespace {

/// Reads optional fields with type checks; collects the first problem.
class reader {
public:
  reader(const json& x, const char* what) : x_(x), what_(what) {
    if (!x.is_object())
      fail(std::string{what} + " must be a JSON object");
  }

  template <class T>
  void get(const char* key, T& out) {
    if (!err_.empty() || !x_.contains(key) || x_[key].is_null())
      return;
    try {
      out = x_[key].get<T>();
    } catch (const std::exception&) {
      fail(std::string{what_} + "." + key + " has the wrong type: "
           + x_[key].dump());
    }
  }

  void get_text(const char* key, std::string& out) {
    if (!err_.empty() || !x_.contains(key) || x_[key].is_null())
      return;
    out = x_[key].is_string() ? x_[key].get<std::string>() : x_[key].dump();
  }

  void get_severity(const char* key, severity& out) {
    std::string s;
    get(key, s);
    if (!s.empty() && !parse_severity(s, out))
      fail(std::string{what_} + "." + key + ": unknown severity '" + s + "'");
  }

  void fail(std::string text) {
    if (err_.empty())
      err_ = std::move(text);
  }

  caf::error error() const {
    if (err_.empty())
      return {};
    return make_error(actors_errc::invalid_request, err_);
  }

private:
  const json& x_;
  const char* what_;
  std::string err_;
};

} // namespace

caf::expected<notification> notification_from_json(const json& x) {
  notification n;
  reader r{x, "notification"};
  r.get("id", n.id);
  r.get("skill", n.skill);
  r.get("anomaly_type", n.anomaly_type);
  r.get_severity("severity", n.severity);
  r.get_text("context", n.context);
  r.get("observation", n.observation);
  r.get("hypothesis", n.hypothesis);
  r.get("snapshot_ids", n.snapshot_ids);
  r.get("actors", n.actors);
  r.get("detected_at", n.detected_at);
  r.get("node", n.node);
  r.get("trace_id", n.trace_id);
  r.get("status", n.status);
  if (auto err = r.error())
    return err;
  return n;
}

caf::expected<insight> insight_from_json(const json& x) {
  insight i;
  reader r{x, "insight"};
  r.get("id", i.id);
  r.get("pattern", i.pattern);
  r.get_severity("severity", i.severity);
  r.get("culprits", i.culprits);
  r.get("nodes", i.nodes);
  if (auto d = x.find("culprit_details"); x.is_object() && d != x.end()
                                          && d->is_array())
    for (auto& c : *d) {
      if (!c.is_object())
        continue;
      culprit k;
      k.kind = c.value("kind", std::string{"unknown"});
      k.name = c.value("name", std::string{});
      k.id = c.value("id", uint64_t{0});
      k.node = c.value("node", std::string{});
      i.culprit_details.push_back(std::move(k));
    }
  r.get("summary", i.summary);
  r.get("root_cause", i.root_cause);
  r.get("confidence", i.confidence);
  r.get("grounded", i.grounded);
  std::string corr;
  r.get("correlation", corr);
  if (!corr.empty() && !parse_correlation(corr, i.correlation))
    r.fail("insight.correlation: unknown value '" + corr + "'");
  r.get("notification_ids", i.notification_ids);
  r.get("matched_observations", i.matched_observations);
  r.get("created_at", i.created_at);
  r.get("trace_id", i.trace_id);
  if (auto err = r.error())
    return err;
  return i;
}

caf::expected<investigation_result>
investigation_result_from_json(const json& x) {
  investigation_result res;
  reader r{x, "investigation_result"};
  r.get("trace_id", res.trace_id);
  r.get("reason", res.reason);
  r.get("trigger", res.trigger);
  r.get("brain", res.brain);
  r.get("node", res.node);
  r.get("partial", res.partial);
  r.get("errors", res.errors);
  r.get("summary", res.summary);
  r.get("iterations", res.iterations);
  r.get("input_tokens", res.input_tokens);
  r.get("output_tokens", res.output_tokens);
  r.get("cost_usd", res.cost_usd);
  r.get("llm_calls", res.llm_calls);
  r.get("llm_retries", res.llm_retries);
  r.get("started_at", res.started_at);
  r.get("finished_at", res.finished_at);
  if (auto err = r.error())
    return err;
  for (auto& i : x.value("insights", json::array())) {
    auto v = insight_from_json(i);
    if (!v)
      return v.error();
    res.insights.push_back(std::move(*v));
  }
  for (auto& n : x.value("notifications", json::array())) {
    auto v = notification_from_json(n);
    if (!v)
      return v.error();
    res.notifications.push_back(std::move(*v));
  }
  for (auto& o : x.value("operators", json::array())) {
    operator_result op;
    reader ro{o, "operator_result"};
    ro.get("skill", op.skill);
    ro.get("node", op.node);
    std::string st;
    ro.get("state", st);
    if (!st.empty() && !parse_operator_state(st, op.state))
      ro.fail("operator_result.state: unknown value '" + st + "'");
    ro.get("summary", op.summary);
    ro.get("notification_ids", op.notification_ids);
    ro.get("snapshot_ids", op.snapshot_ids);
    ro.get("iterations", op.iterations);
    ro.get("stop_reason", op.stop_reason);
    ro.get("error", op.error);
    ro.get("restarts", op.restarts);
    ro.get("input_tokens", op.input_tokens);
    ro.get("output_tokens", op.output_tokens);
    ro.get("cost_usd", op.cost_usd);
    ro.get("llm_calls", op.llm_calls);
    ro.get("llm_retries", op.llm_retries);
    ro.get("duration_us", op.duration_us);
    if (auto err = ro.error())
      return err;
    res.operators.push_back(std::move(op));
  }
  for (auto& a : x.value("actions", json::array())) {
    action_record rec;
    reader ra{a, "action_record"};
    ra.get("id", rec.id);
    ra.get("action", rec.action);
    ra.get("reason", rec.reason);
    ra.get("trace_id", rec.trace_id);
    ra.get("insight_id", rec.insight_id);
    ra.get("by", rec.by);
    ra.get("approved_by", rec.approved_by);
    ra.get("at", rec.at);
    std::string st;
    ra.get("status", st);
    bool known = false;
    for (auto v : {action_status::proposed, action_status::approved,
                   action_status::rejected, action_status::denied,
                   action_status::executed, action_status::failed})
      if (to_string(v) == st) {
        rec.status = v;
        known = true;
      }
    if (!known)
      ra.fail("action_record.status: unknown value '" + st + "'");
    if (auto err = ra.error())
      return err;
    if (a.is_object()) {
      auto text = [](const json& v) {
        return v.is_string() ? v.get<std::string>() : v.dump();
      };
      rec.args = text(a.value("args", json::object()));
      rec.result = text(a.value("result", json("")));
    }
    res.actions.push_back(std::move(rec));
  }
  return res;
}

// -- report -------------------------------------------------------------------

std::string render_report(const investigation_result& x) {
  std::ostringstream out;
  out << "caflens investigation " << x.trace_id << "\n";
  out << "  reason:   " << x.reason << " (trigger: " << x.trigger
      << ", brain: " << x.brain << ")\n";
  out << "  duration: " << (x.finished_at - x.started_at) << " ms, "
      << x.operators.size() << " operators, " << x.notifications.size()
      << " notifications, " << x.iterations << " coordinator iterations";
  if (x.input_tokens + x.output_tokens > 0) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), ", %lld tokens, $%.4f",
                  static_cast<long long>(x.input_tokens + x.output_tokens),
                  x.cost_usd);
    out << buf;
  }
  out << "\n";
  if (x.partial)
    out << "  PARTIAL result\n";
  for (auto& e : x.errors)
    out << "  error: " << e << "\n";
  out << "\n";
  size_t shown = 0;
  for (auto& i : x.insights) {
    if (i.severity < severity::warning)
      continue;
    ++shown;
    out << shown << ". [" << skills::to_string(i.severity) << "] "
        << i.pattern;
    if (!i.culprits.empty()) {
      out << " — culprit";
      out << (i.culprits.size() > 1 ? "s " : " ");
      for (size_t k = 0; k < i.culprits.size(); ++k) {
        out << (k > 0 ? ", " : "") << i.culprits[k];
        if (k < i.culprit_details.size()
            && (i.culprit_details[k].name == i.culprits[k]
                || i.culprit_details[k].name + "@"
                       + i.culprit_details[k].node
                     == i.culprits[k])
            && i.culprit_details[k].kind != "unknown") {
          auto& d = i.culprit_details[k];
          out << " (" << d.kind;
          if (d.id != 0)
            out << " #" << d.id;
          if (!d.node.empty() && d.node != x.node
              && i.culprits[k] == d.name && d.kind != "node")
            out << " on " << d.node;
          out << ")";
        }
      }
    }
    out << "\n";
    out << "   " << i.summary << "\n";
    if (i.nodes.size() > 1) {
      out << "   cluster-wide, on nodes";
      for (size_t k = 0; k < i.nodes.size(); ++k)
        out << (k > 0 ? ", " : " ") << i.nodes[k];
      out << "\n";
    }
    if (!i.root_cause.empty())
      out << "   root cause: " << i.root_cause << "\n";
    out << "   confidence " << i.confidence << ", "
        << to_string(i.correlation)
        << (i.grounded ? ", grounded by independent operators"
                       : ", seen by one operator")
        << "\n";
    for (auto& o : i.matched_observations)
      out << "   - " << o << "\n";
    out << "\n";
  }
  if (shown == 0)
    out << "No warning-or-worse insights: the system looks healthy.\n\n";
  size_t infos = 0;
  for (auto& i : x.insights)
    if (i.severity < severity::warning)
      ++infos;
  if (infos > 0)
    out << "(" << infos << " informational insight"
        << (infos > 1 ? "s" : "") << " omitted; use --json)\n";
  for (auto& a : x.actions) {
    out << "Action " << a.id << ": " << a.action << " " << a.args << " — "
        << to_string(a.status);
    if (a.status == action_status::proposed)
      out << " (approve with lens.approve_action(\"" << a.id << "\"))";
    else if (!a.result.empty())
      out << ": " << a.result;
    out << "\n";
  }
  if (!x.summary.empty())
    out << "Summary: " << x.summary << "\n";
  return out.str();
}

} // namespace caflens
