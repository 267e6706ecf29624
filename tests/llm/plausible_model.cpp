#include "plausible_model.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include <httplib.h>

using json = nlohmann::json;

namespace {

// -- the request, protocol-neutral ---------------------------------------------

struct seen_call {
  std::string id;
  std::string name;
  json args;
};

struct seen_result {
  std::string content;
  bool is_error = false;
};

struct request_view {
  bool anthropic = true;
  std::string model;
  std::string system;
  std::vector<std::string> tools;
  json schemas = json::object(); // tool name -> input schema
  std::string forced;            // tool_choice
  std::vector<seen_call> calls;  // in order
  std::map<std::string, seen_result> results;
  std::string last_user_text;
  std::string first_user_text;
  std::vector<std::string> violations;
};

std::string text_of(const json& content) {
  if (content.is_string())
    return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (auto& b : content)
      if (b.is_object() && b.value("type", "") == "text")
        out += b.value("text", "");
  return out;
}

request_view parse_anthropic(const json& body) {
  request_view v;
  v.anthropic = true;
  v.model = body.value("model", "");
  if (body.contains("system"))
    v.system = text_of(body["system"]);
  for (auto& t : body.value("tools", json::array())) {
    v.tools.push_back(t.value("name", ""));
    v.schemas[t.value("name", "")] = t.value("input_schema", json::object());
  }
  if (auto tc = body.value("tool_choice", json::object());
      tc.is_object() && tc.value("type", "") == "tool")
    v.forced = tc.value("name", "");
  std::set<std::string> ids;
  for (auto& m : body.value("messages", json::array())) {
    auto role = m.value("role", "");
    auto& content = m["content"];
    if (role == "assistant") {
      if (content.is_array())
        for (auto& b : content)
          if (b.value("type", "") == "tool_use") {
            v.calls.push_back({b.value("id", ""), b.value("name", ""),
                               b.value("input", json::object())});
            ids.insert(b.value("id", ""));
          }
      continue;
    }
    bool had_text = false;
    if (content.is_array()) {
      for (auto& b : content) {
        if (b.value("type", "") == "tool_result") {
          auto id = b.value("tool_use_id", "");
          if (ids.count(id) == 0)
            v.violations.push_back("tool_result " + id + " answers no call");
          v.results[id] = {text_of(b.value("content", json{})),
                           b.value("is_error", false)};
        } else if (b.value("type", "") == "text") {
          had_text = true;
        }
      }
    } else {
      had_text = true;
    }
    if (had_text) {
      v.last_user_text = text_of(content);
      if (v.first_user_text.empty())
        v.first_user_text = v.last_user_text;
    }
  }
  return v;
}

request_view parse_openai(const json& body) {
  request_view v;
  v.anthropic = false;
  v.model = body.value("model", "");
  for (auto& t : body.value("tools", json::array())) {
    auto f = t.value("function", json::object());
    v.tools.push_back(f.value("name", ""));
    v.schemas[f.value("name", "")] = f.value("parameters", json::object());
  }
  if (auto tc = body.value("tool_choice", json{}); tc.is_object())
    v.forced = tc.value("function", json::object()).value("name", "");
  std::set<std::string> ids;
  for (auto& m : body.value("messages", json::array())) {
    auto role = m.value("role", "");
    if (role == "system") {
      v.system += text_of(m.value("content", json{}));
    } else if (role == "assistant") {
      for (auto& c : m.value("tool_calls", json::array())) {
        auto f = c.value("function", json::object());
        auto args = json::parse(f.value("arguments", "{}"), nullptr, false);
        v.calls.push_back({c.value("id", ""), f.value("name", ""),
                           args.is_discarded() ? json{} : args});
        ids.insert(c.value("id", ""));
      }
    } else if (role == "tool") {
      auto id = m.value("tool_call_id", "");
      if (ids.count(id) == 0)
        v.violations.push_back("tool message " + id + " answers no call");
      auto text = text_of(m.value("content", json{}));
      v.results[id] = {text, text.rfind("Error", 0) == 0};
    } else if (role == "user") {
      v.last_user_text = text_of(m.value("content", json{}));
      if (v.first_user_text.empty())
        v.first_user_text = v.last_user_text;
    }
  }
  return v;
}

bool offers(const request_view& v, const std::string& tool) {
  return std::find(v.tools.begin(), v.tools.end(), tool) != v.tools.end();
}

/// The parsed result of a call (null when absent, an error or not JSON).
json result_of(const request_view& v, const seen_call& c) {
  auto i = v.results.find(c.id);
  if (i == v.results.end() || i->second.is_error)
    return nullptr;
  auto j = json::parse(i->second.content, nullptr, false);
  return j.is_discarded() ? json{} : j;
}

const seen_call* last_call(const request_view& v, const std::string& name) {
  for (auto i = v.calls.rbegin(); i != v.calls.rend(); ++i)
    if (i->name == name)
      return &*i;
  return nullptr;
}

size_t count_calls(const request_view& v, const std::string& name) {
  return static_cast<size_t>(
    std::count_if(v.calls.begin(), v.calls.end(),
                   [&](auto& c) { return c.name == name; }));
}

// -- decisions ---------------------------------------------------------------

struct decision {
  std::string text;
  std::vector<std::pair<std::string, json>> calls;

  static decision say(std::string x) {
    decision d;
    d.text = std::move(x);
    return d;
  }

  static decision call(std::string name, json args) {
    decision d;
    d.calls.emplace_back(std::move(name), std::move(args));
    return d;
  }
};

int rank_of_severity(const std::string& s) {
  return s == "critical" ? 2 : s == "warning" ? 1 : 0;
}

decision operator_policy(const request_view& v, const model_faults& f) {
  std::vector<const seen_call*> looks;
  for (auto& c : v.calls)
    if (c.name == "take_snapshot" && result_of(v, c).is_object())
      looks.push_back(&c);
  if (looks.empty()) {
    if (count_calls(v, "take_snapshot") >= 3)
      return decision::say("No snapshot could be taken.");
    return decision::call("take_snapshot", json::object());
  }
  auto latest = result_of(v, *looks.back());
  auto plan = latest.value("plan", json::object());
  auto want = plan.is_object() ? plan.value("looks", 1) : 1;
  auto interval = plan.is_object() ? plan.value("interval_ms", 500) : 500;
  auto& last = v.calls.back();
  if (f.operator_never_done)
    return decision::call("wait", {{"ms", 5000}});
  auto take_or_wait = [&](int64_t ms) {
    if (last.name == "wait")
      return decision::call("take_snapshot", json::object());
    return decision::call("wait",
                          {{"ms", std::clamp<int64_t>(ms, 1, 60000)}});
  };
  if (static_cast<int>(looks.size()) < want)
    return take_or_wait(interval);
  auto findings = latest.value("findings", json::array());
  // One notification per confirmed finding (type and first actor).
  std::set<std::string> sent;
  for (auto& c : v.calls)
    if (c.name == "send_notification") {
      auto actors = c.args.value("actors", json::array());
      sent.insert(c.args.value("type", "") + "|"
                  + (actors.empty() ? "" : actors[0].dump()));
    }
  auto sid = latest.value("snapshot_id", "");
  decision d;
  std::string worst = "healthy";
  int64_t recheck = 0;
  for (auto& x : findings) {
    auto ev = x.value("evidence", json::object());
    if (ev.is_object() && ev.contains("recheck_ms")) {
      // A suspect: look again when it would be confirmed.
      recheck = std::max(recheck, ev.value("recheck_ms", int64_t{0}));
      continue;
    }
    auto sev = x.value("severity", "warning");
    if (rank_of_severity(sev) == 2 || (worst == "healthy" && sev == "warning"))
      worst = sev;
    else if (worst == "healthy")
      worst = "observing";
    auto actors = x.value("actors", json::array());
    auto key = x.value("type", "") + "|"
               + (actors.empty() ? "" : actors[0].dump());
    if (sent.count(key) > 0 || d.calls.size() >= 3)
      continue;
    sent.insert(key);
    json ctx = ev.is_object() ? ev : json{{"evidence", ev}};
    d.calls.emplace_back(
      "send_notification",
      json{{"type", x.value("type", "")},
           {"severity", sev},
           {"context", ctx},
           {"observation", x.value("observation", "")},
           {"hypothesis", "the detector's finding"},
           {"snapshot_ids", {sid}},
           {"actors", actors}});
  }
  if (!d.calls.empty())
    return d;
  // Suspects left: look again as they ask, for up to 4 s of rechecks.
  int64_t waited = 0;
  for (auto& c : v.calls)
    if (c.name == "wait")
      waited += c.args.value("ms", int64_t{0});
  auto planned = static_cast<int64_t>(std::max(want, 1) - 1) * interval;
  if (recheck > 0 && waited - planned < 4000)
    return take_or_wait(std::min<int64_t>(recheck, 4000));
  if (offers(v, "set_state") && count_calls(v, "set_state") == 0)
    return decision::call("set_state",
                          {{"state", worst},
                           {"reason", std::to_string(sent.size())
                                        + " finding(s) reported"}});
  return decision::say(std::to_string(sent.size())
                       + " anomalies reported from snapshot " + sid + ".");
}

struct pattern_row {
  std::string id;
  int rank = 100;
};

/// "- id (rank N): type, type. Cause: ..." lines of the system prompt.
std::map<std::string, pattern_row> pattern_table(const std::string& system) {
  std::map<std::string, pattern_row> out;
  static const std::regex line{R"(^- ([A-Za-z0-9_.-]+) \(rank (\d+)\): ([^\n]*))",
                               std::regex::multiline};
  for (auto i = std::sregex_iterator(system.begin(), system.end(), line);
       i != std::sregex_iterator(); ++i) {
    pattern_row row{(*i)[1], std::stoi((*i)[2])};
    auto types = (*i)[3].str();
    if (auto at = types.find(". Cause:"); at != std::string::npos)
      types.resize(at);
    std::stringstream ss{types};
    std::string t;
    while (std::getline(ss, t, ',')) {
      t.erase(0, t.find_first_not_of(' '));
      t.erase(t.find_last_not_of(" .") + 1);
      if (!t.empty())
        out[t] = row;
    }
  }
  return out;
}

/// Lower-case words of at least four letters.
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (auto c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      if (w.size() >= 4)
        out.push_back(w);
      w.clear();
    }
  }
  return out;
}

/// The skills a reader of the task picks: those the prompt says fit almost
/// every reason, plus those whose description shares a word (its first five
/// letters) with the reason; every skill when none does.
json pick_skills(const std::string& task, const json& offered) {
  std::string reason;
  std::map<std::string, std::string> described;
  std::stringstream ss{task};
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind("Investigation reason:", 0) == 0
        || line.rfind("Context:", 0) == 0)
      reason += line + " ";
    if (line.rfind("- ", 0) == 0)
      if (auto colon = line.find(':'); colon != std::string::npos)
        described[line.substr(2, colon - 2)] = line.substr(colon + 1);
  }
  std::set<std::string> stems;
  for (auto& w : words_of(reason))
    if (w != "investigation" && w != "reason" && w != "context")
      stems.insert(w.substr(0, 5));
  json picked = json::array();
  bool matched = false;
  for (auto& s : offered) {
    auto name = s.get<std::string>();
    bool core = name == "actors" || name == "crashes" || name == "supervision"
                || name == "memory";
    bool fits = false;
    for (auto& w : words_of(name + " " + described[name]))
      fits = fits || stems.count(w.substr(0, 5)) > 0;
    matched = matched || fits;
    if (core || fits)
      picked.push_back(s);
  }
  return matched ? picked : offered;
}

decision coordinator_policy(const request_view& v, const model_faults& f) {
  // A model that never finishes: thinks where it would answer.
  auto finish = [&](std::string text) {
    if (f.coordinator_never_done)
      return decision::call("think", {{"thought", "let me think more"}});
    return decision::say(std::move(text));
  };
  auto* invoke = last_call(v, "invoke_operators");
  if (invoke == nullptr) {
    auto schema = v.schemas.value("invoke_operators", json::object());
    auto items = schema["properties"]["skills"]["items"];
    auto offered = items.value("enum", json::array());
    if (offered.empty())
      return decision::say("There is no skill to invoke.");
    return decision::call("invoke_operators",
                          {{"skills", pick_skills(v.first_user_text,
                                                  offered)}});
  }
  auto& last = v.calls.back();
  if (last.name == "invoke_operators")
    return decision::call("wait", {{"ms", 60000}});
  if (last.name == "wait")
    return decision::call("get_operator_statuses", json::object());
  if (last.name == "get_operator_statuses") {
    auto xs = result_of(v, last);
    bool running = false;
    if (xs.is_array())
      for (auto& x : xs)
        running = running || x.value("running", false);
    if (running)
      return decision::call("wait", {{"ms", 60000}});
    return decision::call("get_notifications", {{"status", "all"}});
  }
  auto* got = last_call(v, "get_notifications");
  if (got == nullptr)
    return decision::call("get_notifications", {{"status", "all"}});
  if (last.name == "get_notifications") {
    auto xs = result_of(v, last);
    if (xs.is_object())
      xs = xs.value("items", json::array());
    if (!xs.is_array() || xs.empty())
      return finish("No operator reported an anomaly.");
    auto table = pattern_table(v.system);
    struct group {
      std::string pattern;
      int rank = 100;
      int worst = 0;
      std::vector<json> notes;
    };
    std::map<std::string, group> groups;
    for (auto& n : xs) {
      auto type = n.value("anomaly_type", "");
      auto i = table.find(type);
      auto pattern = i != table.end() ? i->second.id : type;
      auto& g = groups[pattern];
      g.pattern = pattern;
      g.rank = i != table.end() ? i->second.rank : 100;
      g.worst = std::max(g.worst, rank_of_severity(n.value("severity", "")));
      g.notes.push_back(n);
    }
    std::vector<group*> order;
    for (auto& [k, g] : groups)
      order.push_back(&g);
    std::stable_sort(order.begin(), order.end(), [](auto* x, auto* y) {
      return x->rank != y->rank ? x->rank < y->rank : x->worst > y->worst;
    });
    // Each group's culprits (in severity order) first, so that a cause can
    // cite its symptoms' notifications as corroboration (as the prompt's
    // example does).
    auto culprits_of = [](group& g) {
      std::stable_sort(g.notes.begin(), g.notes.end(),
                       [](const json& x, const json& y) {
                         return rank_of_severity(x.value("severity", ""))
                                > rank_of_severity(y.value("severity", ""));
                       });
      std::set<std::string> xs;
      for (auto& n : g.notes)
        for (auto& a : n.value("actors", json::array()))
          if (a.is_string())
            xs.insert(a.get<std::string>());
      return xs;
    };
    std::map<const group*, std::set<std::string>> names_of;
    for (auto* g : order)
      names_of[g] = culprits_of(*g);
    decision d;
    std::set<std::string> blamed;
    for (auto* g : order) {
      json culprits = json::array(), ids = json::array(),
           seen_obs = json::array();
      std::set<std::string> skills, names;
      bool symptom = false;
      for (auto& n : g->notes) {
        ids.push_back(n.value("id", ""));
        skills.insert(n.value("skill", ""));
        if (seen_obs.size() < 3)
          seen_obs.push_back(n.value("observation", ""));
        for (auto& a : n.value("actors", json::array()))
          if (a.is_string() && names.size() < 5
              && names.insert(a.get<std::string>()).second) {
            culprits.push_back(a);
            if (blamed.count(a.get<std::string>()) > 0)
              symptom = true;
          }
      }
      // Later (symptom) groups about the same culprits corroborate a cause.
      if (!symptom)
        for (auto* h : order) {
          if (h->rank <= g->rank)
            continue;
          auto& theirs = names_of[h];
          bool shared = std::any_of(names.begin(), names.end(),
                                    [&](auto& x) { return theirs.count(x); });
          if (!shared)
            continue;
          for (auto& n : h->notes) {
            ids.push_back(n.value("id", ""));
            skills.insert(n.value("skill", ""));
          }
        }
      // Nothing to blame, behind an insight that blames someone: its
      // symptom (process memory growing behind a backlog). Notifications
      // that speak of an actor blamed before (errors of its callers): its
      // symptoms too.
      if (names.empty() && !blamed.empty())
        symptom = true;
      for (auto& n : g->notes) {
        auto text = n.value("observation", "") + " "
                    + n.value("context", json::object()).dump();
        for (auto& b : blamed)
          if (names.count(b) == 0 && text.find(b) != std::string::npos)
            symptom = true;
      }
      for (auto& n : names)
        blamed.insert(n);
      auto first = g->notes.front().value("observation", "");
      d.calls.emplace_back(
        "produce_insight",
        json{{"pattern", g->pattern},
             {"culprits", culprits},
             {"notification_ids", ids},
             {"correlation", symptom ? "symptomatic" : "causal"},
             {"summary", g->pattern + ": " + first},
             {"matched_observations", seen_obs},
             {"grounded", skills.size() >= 2},
             {"root_cause", first},
             {"confidence", skills.size() >= 2 ? "high" : "medium"}});
    }
    return d;
  }
  // After the insights: finish.
  size_t made = 0;
  for (auto& c : v.calls)
    if (c.name == "produce_insight" && result_of(v, c).is_object())
      ++made;
  return finish("The investigation produced " + std::to_string(made)
                + " insight(s).");
}

/// The coordinator is offered invoke_operators, or used it (a final-answer
/// request offers only done).
bool is_coordinator(const request_view& v) {
  if (offers(v, "invoke_operators"))
    return true;
  for (auto& c : v.calls)
    if (c.name == "invoke_operators" || c.name == "get_notifications")
      return true;
  return false;
}

decision decide(const request_view& v, const model_faults& f) {
  bool coordinator = is_coordinator(v);
  // A forced tool or an explicit request for the final answer.
  auto final_asked = !v.forced.empty()
                     || v.last_user_text.find("final answer")
                          != std::string::npos;
  if (final_asked && !(coordinator && f.coordinator_never_done)) {
    auto summary = std::string{"Final answer after "}
                   + std::to_string(v.calls.size()) + " tool calls.";
    if (!v.forced.empty())
      return decision::call(v.forced, {{"summary", summary}});
    return decision::say(summary);
  }
  if (coordinator)
    return coordinator_policy(v, f);
  if (offers(v, "take_snapshot"))
    return operator_policy(v, f);
  return decision::say("I have no tool for this.");
}

// -- encoding ------------------------------------------------------------------

std::string encode(const request_view& v, const decision& d, int n,
                   size_t request_bytes, bool malformed) {
  auto id = [&](size_t i) {
    return (v.anthropic ? "toolu_pm_" : "call_pm_") + std::to_string(n) + "_"
           + std::to_string(i);
  };
  auto in_tokens = static_cast<int64_t>(request_bytes / 4);
  int64_t out_tokens = 0;
  if (v.anthropic) {
    json content = json::array();
    if (!d.text.empty())
      content.push_back({{"type", "text"}, {"text", d.text}});
    for (size_t i = 0; i < d.calls.size(); ++i) {
      auto& [name, args] = d.calls[i];
      json input = args;
      std::string tool = name;
      if (malformed)
        tool = n % 2 == 0 ? "summon_daemon" : name;
      if (malformed && n % 2 == 1)
        input = json{{"type", 42}}; // schema violations
      content.push_back(
        {{"type", "tool_use"}, {"id", id(i)}, {"name", tool}, {"input", input}});
    }
    out_tokens = static_cast<int64_t>(content.dump().size() / 4) + 1;
    json body{{"id", "msg_pm_" + std::to_string(n)},
              {"type", "message"},
              {"role", "assistant"},
              {"model", v.model},
              {"content", content},
              {"stop_reason", d.calls.empty() ? "end_turn" : "tool_use"},
              {"stop_sequence", nullptr},
              {"usage",
               {{"input_tokens", in_tokens}, {"output_tokens", out_tokens}}}};
    return body.dump();
  }
  json msg{{"role", "assistant"}, {"content", nullptr}};
  if (!d.text.empty())
    msg["content"] = d.text;
  if (!d.calls.empty()) {
    json calls = json::array();
    for (size_t i = 0; i < d.calls.size(); ++i) {
      auto& [name, args] = d.calls[i];
      std::string tool = name;
      std::string text = args.dump();
      if (malformed) {
        if (n % 2 == 0)
          tool = "summon_daemon";
        else
          text = "{\"type\": 42,"; // not JSON
      }
      calls.push_back({{"id", id(i)},
                       {"type", "function"},
                       {"function", {{"name", tool}, {"arguments", text}}}});
    }
    msg["tool_calls"] = calls;
  }
  out_tokens = static_cast<int64_t>(msg.dump().size() / 4) + 1;
  json body{{"id", "chatcmpl-pm-" + std::to_string(n)},
            {"object", "chat.completion"},
            {"created", 1764460800},
            {"model", v.model},
            {"choices",
             {{{"index", 0},
               {"message", msg},
               {"finish_reason", d.calls.empty() ? "stop" : "tool_calls"}}}},
            {"usage",
             {{"prompt_tokens", in_tokens},
              {"completion_tokens", out_tokens},
              {"total_tokens", in_tokens + out_tokens}}}};
  return body.dump();
}

// -- streaming ----------------------------------------------------------------

std::vector<std::string> pieces(const std::string& x, size_t width) {
  std::vector<std::string> result;
  for (size_t i = 0; i < x.size(); i += width)
    result.push_back(x.substr(i, width));
  return result;
}

std::string sse(const std::string& event, const json& data) {
  auto line = "data: " + data.dump() + "\n\n";
  return event.empty() ? line : "event: " + event + "\n" + line;
}

/// A reply body (non-streaming shape) as the events of its stream.
std::vector<std::string> to_stream(bool anthropic, const json& reply,
                                   bool include_usage) {
  std::vector<std::string> out;
  if (anthropic) {
    auto start = reply;
    start["content"] = json::array();
    start["stop_reason"] = nullptr;
    start["usage"]["output_tokens"] = 1;
    out.push_back(sse("message_start",
                      {{"type", "message_start"}, {"message", start}}));
    out.push_back(sse("ping", {{"type", "ping"}}));
    int index = 0;
    for (auto& block : reply["content"]) {
      auto type = block["type"].get<std::string>();
      json first = block;
      if (type == "text")
        first["text"] = "";
      else
        first["input"] = json::object();
      out.push_back(sse("content_block_start", {{"type", "content_block_start"},
                                                {"index", index},
                                                {"content_block", first}}));
      if (type == "text")
        for (auto& p : pieces(block["text"].get<std::string>(), 24))
          out.push_back(sse("content_block_delta",
                            {{"type", "content_block_delta"},
                             {"index", index},
                             {"delta", {{"type", "text_delta"}, {"text", p}}}}));
      else
        for (auto& p : pieces(block["input"].dump(), 16))
          out.push_back(
            sse("content_block_delta",
                {{"type", "content_block_delta"},
                 {"index", index},
                 {"delta", {{"type", "input_json_delta"},
                            {"partial_json", p}}}}));
      out.push_back(sse("content_block_stop",
                        {{"type", "content_block_stop"}, {"index", index}}));
      ++index;
    }
    out.push_back(sse("message_delta",
                      {{"type", "message_delta"},
                       {"delta", {{"stop_reason", reply["stop_reason"]},
                                  {"stop_sequence", nullptr}}},
                       {"usage", {{"output_tokens",
                                   reply["usage"]["output_tokens"]}}}}));
    out.push_back(sse("message_stop", {{"type", "message_stop"}}));
    return out;
  }
  json head{{"id", reply["id"]},
            {"object", "chat.completion.chunk"},
            {"created", reply["created"]},
            {"model", reply["model"]}};
  auto chunk = [&](json delta, json finish) {
    auto c = head;
    c["choices"] = json::array(
      {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}});
    return sse("", c);
  };
  auto& choice = reply["choices"][0];
  auto& msg = choice["message"];
  out.push_back(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  if (msg["content"].is_string())
    for (auto& p : pieces(msg["content"].get<std::string>(), 24))
      out.push_back(chunk({{"content", p}}, nullptr));
  if (msg.contains("tool_calls")) {
    int index = 0;
    for (auto& call : msg["tool_calls"]) {
      out.push_back(chunk(
        {{"tool_calls",
          json::array({{{"index", index},
                        {"id", call["id"]},
                        {"type", "function"},
                        {"function", {{"name", call["function"]["name"]},
                                      {"arguments", ""}}}}})}},
        nullptr));
      for (auto& p :
           pieces(call["function"]["arguments"].get<std::string>(), 16))
        out.push_back(chunk(
          {{"tool_calls", json::array({{{"index", index},
                                        {"function", {{"arguments", p}}}}})}},
          nullptr));
      ++index;
    }
  }
  out.push_back(chunk(json::object(), choice["finish_reason"]));
  if (include_usage) {
    auto c = head;
    c["choices"] = json::array();
    c["usage"] = reply["usage"];
    out.push_back(sse("", c));
  }
  out.push_back("data: [DONE]\n\n");
  return out;
}

std::string error_body(bool anthropic, int status) {
  if (status == 402 || status == 429) {
    if (anthropic)
      return R"({"type":"error","error":{"type":"billing_error","message":"Your credit balance is too low to access the Anthropic API."}})";
    return R"({"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})";
  }
  if (anthropic)
    return R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})";
  return R"({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})";
}

} // namespace

plausible_model::plausible_model(int port)
  : server_(std::make_unique<httplib::Server>()) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    bool anthropic = req.path == "/v1/messages";
    int n = 0;
    model_faults f;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      n = ++stats_.requests;
      f = faults_;
      stats_.request_bytes += req.body.size();
      stats_.max_request_bytes = std::max(stats_.max_request_bytes,
                                          req.body.size());
      if (body.is_discarded())
        stats_.violations.push_back("request " + std::to_string(n)
                                    + ": body is not JSON");
    }
    auto fail = [&](int status) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        ++stats_.faults_served;
      }
      res.status = status;
      res.set_content(error_body(anthropic, status), "application/json");
    };
    if (f.hang_from > 0 && n >= f.hang_from) {
      std::unique_lock<std::mutex> guard{mtx_};
      ++stats_.faults_served;
      stop_cv_.wait(guard, [this] { return stopping_; });
      res.status = 503;
      return;
    }
    if (n >= f.error_burst_from && n < f.error_burst_from + f.error_burst) {
      fail(f.error_status);
      return;
    }
    if (f.quota_from > 0 && n >= f.quota_from) {
      fail(anthropic ? 402 : 429);
      return;
    }
    if (f.delay_ms > 0) {
      std::unique_lock<std::mutex> guard{mtx_};
      stop_cv_.wait_for(guard, std::chrono::milliseconds{f.delay_ms},
                        [this] { return stopping_; });
    }
    if (body.is_discarded()) {
      res.status = 400;
      res.set_content(error_body(anthropic, 400), "application/json");
      return;
    }
    auto answer = reply(req.path, body);
    if (!body.value("stream", false)) {
      res.set_content(answer, "application/json");
      return;
    }
    auto usage = body.contains("stream_options")
                 && body["stream_options"].value("include_usage", false);
    auto events = std::make_shared<std::vector<std::string>>(
      to_stream(anthropic, json::parse(answer), usage));
    bool stall = f.stall_from > 0 && n >= f.stall_from
                 && (f.stall_count == 0 || n < f.stall_from + f.stall_count);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      ++stats_.streamed;
      if (stall)
        ++stats_.faults_served;
    }
    auto pause = std::chrono::milliseconds{f.stream_event_ms};
    res.set_chunked_content_provider(
      "text/event-stream",
      [this, events, stall, pause](size_t, httplib::DataSink& sink) {
        for (size_t i = 0; i < events->size(); ++i) {
          if (stall && i == 2) {
            std::unique_lock<std::mutex> guard{mtx_};
            stop_cv_.wait_for(guard, std::chrono::seconds{120},
                              [this] { return stopping_; });
            return false;
          }
          auto& e = (*events)[i];
          if (!sink.write(e.data(), e.size()))
            return false;
          if (pause.count() > 0 && i + 1 < events->size()) {
            std::unique_lock<std::mutex> guard{mtx_};
            if (stop_cv_.wait_for(guard, pause, [this] { return stopping_; }))
              return false;
          }
        }
        sink.done();
        return true;
      });
  };
  server_->Post("/v1/messages", handler);
  server_->Post("/v1/chat/completions", handler);
  server_->set_idle_interval(0, 50000);
  port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1")
                    : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
  if (port_ <= 0)
    throw std::runtime_error("plausible_model: cannot bind 127.0.0.1");
  thread_ = std::thread{[this] { server_->listen_after_bind(); }};
  while (!server_->is_running())
    std::this_thread::yield();
}

plausible_model::~plausible_model() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  if (thread_.joinable())
    thread_.join();
}

std::string plausible_model::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string plausible_model::openai_base_url() const {
  return base_url() + "/v1";
}

void plausible_model::faults(model_faults x) {
  std::lock_guard<std::mutex> guard{mtx_};
  faults_ = x;
}

model_stats plausible_model::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

std::string plausible_model::reply(const std::string& path, const json& body) {
  auto anthropic = path == "/v1/messages";
  auto v = anthropic ? parse_anthropic(body) : parse_openai(body);
  model_faults f;
  int n = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    f = faults_;
    n = stats_.requests;
    bool coordinator = is_coordinator(v);
    ++(coordinator ? stats_.coordinator_requests : stats_.operator_requests);
    for (auto& x : v.violations)
      stats_.violations.push_back("request " + std::to_string(n) + ": " + x);
    if (anthropic && !body.contains("max_tokens"))
      stats_.violations.push_back("request " + std::to_string(n)
                                  + ": max_tokens missing");
  }
  auto d = decide(v, f);
  if (auto* dump = std::getenv("CAFLENS_MODEL_DUMP"); dump != nullptr) {
    std::lock_guard<std::mutex> guard{mtx_};
    std::ofstream{dump, std::ios::app} << body.dump() << '\n';
  }
  bool malformed = f.malformed_from > 0 && n >= f.malformed_from
                   && !d.calls.empty();
  return encode(v, d, n, body.dump().size(), malformed);
}
