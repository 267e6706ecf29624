#include "caflens/skills/skill.hpp"

#include <algorithm>

#include "caflens/skills/skills_errc.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::skills {

skill::~skill() = default;

nlohmann::json skill::snapshot() {
  return bound_snapshot(collect_(), limits_.max_snapshot_bytes);
}

std::vector<finding> skill::detect(const nlohmann::json& current,
                                   const std::vector<nlohmann::json>& history) {
  try {
    return detect_(current, history);
  } catch (const std::exception& ex) {
    // Detectors are advisory: the snapshot stays valid.
    return {{"detector_failed", severity::info,
             std::string{"detector failed: "} + ex.what(), {},
             nlohmann::json::object()}};
  } catch (...) {
    return {{"detector_failed", severity::info,
             "detector failed: unknown exception", {},
             nlohmann::json::object()}};
  }
}

std::vector<nlohmann::json> skill::history() const {
  std::lock_guard<std::mutex> guard{history_mtx_};
  return {history_.begin(), history_.end()};
}

caf::expected<observation> skill::observe(std::string_view trace_id) {
  auto& bus = telemetry::bus::global();
  auto skill_name = name();
  auto t0 = telemetry::bus::monotonic_time();
  bus.execute(telemetry::event_name{"caflens", "skill", "snapshot", "start"},
              {{"system_time",
                static_cast<double>(telemetry::bus::system_time())},
               {"monotonic_time", static_cast<double>(t0)}},
              {{"skill", skill_name}, {"trace_id", trace_id}});
  observation out;
  std::string failure;
  try {
    out.data = snapshot();
  } catch (const std::exception& ex) {
    failure = ex.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    auto t1 = telemetry::bus::monotonic_time();
    bus.execute(
      telemetry::event_name{"caflens", "skill", "snapshot", "exception"},
      {{"duration", static_cast<double>(t1 - t0)},
       {"monotonic_time", static_cast<double>(t1)}},
      {{"skill", skill_name},
       {"trace_id", trace_id},
       {"kind", "exception"},
       {"reason", failure}});
    return make_error(skills_errc::unavailable,
                      "take_snapshot failed: " + failure);
  }
  // Earlier looks: at most 8, none older than 60 s (by the snapshot's own
  // clock when it carries one).
  std::vector<nlohmann::json> earlier;
  {
    constexpr size_t max_entries = 8;
    constexpr int64_t max_age_ns = 60'000'000'000;
    auto now = out.data.is_object()
                 ? out.data.value("captured_at_ns", int64_t{0})
                 : int64_t{0};
    std::lock_guard<std::mutex> guard{history_mtx_};
    while (!history_.empty()
           && (history_.size() >= max_entries
               || (now > 0
                   && now - history_.front().value("captured_at_ns", now)
                        > max_age_ns)))
      history_.pop_front();
    earlier.assign(history_.begin(), history_.end());
  }
  out.findings = detect(out.data, earlier);
  out.bytes = out.data.dump().size();
  {
    std::lock_guard<std::mutex> guard{history_mtx_};
    history_.push_back(out.data);
  }
  auto t1 = telemetry::bus::monotonic_time();
  bus.execute(telemetry::event_name{"caflens", "skill", "snapshot", "stop"},
              {{"duration", static_cast<double>(t1 - t0)},
               {"monotonic_time", static_cast<double>(t1)},
               {"entries", static_cast<double>(out.data.size())},
               {"bytes", static_cast<double>(out.bytes)}},
              {{"skill", skill_name}, {"trace_id", trace_id}});
  for (auto& f : out.findings) {
    std::string actors;
    for (auto& a : f.actors)
      actors += (actors.empty() ? "" : ",") + a;
    bus.execute(telemetry::event_name{"caflens", "skill", "finding"},
                {{"system_time",
                  static_cast<double>(telemetry::bus::system_time())}},
                {{"skill", skill_name},
                 {"type", f.type},
                 {"severity", to_string(f.level)},
                 {"actors", actors},
                 {"trace_id", trace_id}});
  }
  return out;
}

std::string_view to_string(severity x) noexcept {
  switch (x) {
    case severity::info:
      return "info";
    case severity::warning:
      return "warning";
    case severity::critical:
      return "critical";
  }
  return "unknown";
}

nlohmann::json to_json(const finding& x) {
  return {{"type", x.type},
          {"severity", std::string{to_string(x.level)}},
          {"observation", x.observation},
          {"actors", x.actors},
          {"evidence", x.evidence}};
}

namespace {

// Finds the longest array anywhere in `j`.
nlohmann::json* longest_array(nlohmann::json& j) {
  nlohmann::json* best = nullptr;
  auto visit = [&](auto& self, nlohmann::json& x) -> void {
    if (x.is_array()) {
      if (best == nullptr || x.size() > best->size())
        best = &x;
      for (auto& y : x)
        self(self, y);
    } else if (x.is_object()) {
      for (auto& [k, v] : x.items())
        self(self, v);
    }
  };
  visit(visit, j);
  return best;
}

} // namespace

nlohmann::json bound_snapshot(nlohmann::json snapshot, size_t max_bytes) {
  bool truncated = false;
  while (snapshot.dump().size() > max_bytes) {
    auto* arr = longest_array(snapshot);
    if (arr == nullptr || arr->empty()) {
      // Nothing left to shorten: keep only a note.
      return {{"truncated", true},
              {"error", "snapshot exceeds " + std::to_string(max_bytes)
                          + " bytes"}};
    }
    arr->erase(arr->begin() + static_cast<long>(arr->size() / 2),
               arr->end());
    truncated = true;
  }
  if (truncated && snapshot.is_object())
    snapshot["truncated"] = true;
  return snapshot;
}

bool documents(std::string_view doc, std::string_view path) noexcept {
  // Segment by segment; a "*" segment matches any one key.
  while (true) {
    auto d = doc.find('.');
    auto p = path.find('.');
    auto ds = doc.substr(0, d);
    auto ps = path.substr(0, p);
    if (ds != "*" && ds != ps) {
      // "*[]" matches "key[]".
      if (!(ds == "*[]" && ps.size() > 2 && ps.substr(ps.size() - 2) == "[]"))
        return false;
    }
    if (d == std::string_view::npos || p == std::string_view::npos)
      return d == p;
    doc.remove_prefix(d + 1);
    path.remove_prefix(p + 1);
  }
}

namespace {

void collect_paths(const nlohmann::json& x, const std::string& prefix,
                   std::vector<std::string>& out) {
  auto add = [&](std::string p) {
    if (std::find(out.begin(), out.end(), p) == out.end())
      out.push_back(std::move(p));
  };
  if (x.is_object()) {
    for (auto& [key, val] : x.items()) {
      auto p = prefix.empty() ? key : prefix + "." + key;
      add(p);
      collect_paths(val, p, out);
    }
  } else if (x.is_array()) {
    for (auto& e : x)
      if (e.is_object())
        collect_paths(e, prefix + "[]", out);
  }
}

} // namespace

std::vector<std::string> field_paths(const nlohmann::json& snapshot) {
  std::vector<std::string> result;
  collect_paths(snapshot, "", result);
  return result;
}

namespace {

class function_skill final : public skill {
public:
  explicit function_skill(skill_definition def) : def_(std::move(def)) {
  }

  std::string name() const override {
    return def_.name;
  }
  std::string title() const override {
    return def_.title.empty() ? def_.name : def_.title;
  }
  std::string description() const override {
    return def_.description;
  }
  std::string system_prompt() const override {
    return def_.system_prompt.empty()
             ? "You inspect " + title() + ": " + def_.description
             : def_.system_prompt;
  }
  std::vector<callback> callbacks() override {
    return def_.callbacks;
  }
  sample_plan plan() const override {
    return def_.plan;
  }
  std::vector<finding_type> finding_types() const override {
    return def_.finding_types;
  }
  std::vector<std::string> keywords() const override {
    return def_.keywords;
  }
  std::vector<field_doc> snapshot_fields() const override {
    return def_.snapshot_fields;
  }

protected:
  nlohmann::json collect_() override {
    return def_.snapshot ? def_.snapshot() : nlohmann::json::object();
  }
  std::vector<finding> detect_(const nlohmann::json& current,
                               const std::vector<nlohmann::json>& history)
    override {
    return def_.detect ? def_.detect(current, history)
                       : std::vector<finding>{};
  }

private:
  skill_definition def_;
};

} // namespace

skill_ptr make_skill(skill_definition def) {
  return std::make_shared<function_skill>(std::move(def));
}

} // namespace caflens::skills

namespace caflens::skills {

namespace {

/// "actors_top(n, by) — ..." → {"n", "by"}: names only, accepting anything.
std::vector<sandbox::param> params_of(const std::string& doc) {
  std::vector<sandbox::param> xs;
  auto open = doc.find('(');
  auto close = doc.find(')', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos)
    return xs;
  std::string cur;
  for (auto c : doc.substr(open + 1, close - open - 1)) {
    if (c == ',') {
      if (!cur.empty())
        xs.emplace_back(cur);
      cur.clear();
    } else if (c != ' ' && c != '[' && c != ']') {
      cur += c;
    }
  }
  if (!cur.empty())
    xs.emplace_back(cur);
  if (xs.size() > 2)
    xs.resize(2);
  return xs;
}

} // namespace

sandbox::callback to_sandbox(const callback& cb) {
  return {cb.name, cb.params.empty() ? params_of(cb.doc) : cb.params, cb.doc,
          cb.fn, cb.declared_duration};
}

std::vector<sandbox::callback> sandbox_callbacks(skill& sk) {
  std::vector<sandbox::callback> out;
  for (auto& cb : sk.callbacks())
    out.push_back(to_sandbox(cb));
  return out;
}

} // namespace caflens::skills
