#include "caflens/skills/skill.hpp"

namespace caflens::skills {

skill::~skill() = default;

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
  nlohmann::json snapshot() override {
    return bound_snapshot(def_.snapshot ? def_.snapshot()
                                        : nlohmann::json::object(),
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return def_.callbacks;
  }
  std::vector<finding> detect(const nlohmann::json& current,
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
