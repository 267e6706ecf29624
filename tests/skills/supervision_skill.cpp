#define CAF_SUITE skills.supervision_skill
#include "caf/test/unit_test.hpp"

#include "caflens/skills/builtin.hpp"

using namespace caflens::skills;
using nlohmann::json;

namespace {

// The shape of caflens::supervision's get_tree (supervision/tree.hpp).
json tree(int pool_restarts, int flaky_restarts) {
  json uploader{{"id", "uploader"}, {"restarts", flaky_restarts}};
  uploader["history"] = json::array({json{{"at_ms", 10},
                                          {"reason", "disk full"}}});
  json worker_sup{{"name", "worker_sup"},
                  {"intensity", 3},
                  {"period_ms", 5000},
                  {"restarts_in_period", pool_restarts}};
  worker_sup["children"] = json::array({uploader});
  json workers{{"id", "workers"}, {"type", "supervisor"}, {"restarts", 0}};
  workers["tree"] = worker_sup;
  json store{{"id", "store"}, {"type", "worker"}, {"restarts", 0}};
  json root{{"name", "lens_root"},
            {"strategy", "one_for_one"},
            {"intensity", 3},
            {"period_ms", 5000},
            {"restarts_in_period", 0}};
  root["children"] = json::array({store, workers});
  return root;
}

bool has(const std::vector<finding>& fs, const std::string& type,
         const std::string& actor) {
  for (auto& f : fs)
    if (f.type == type && !f.actors.empty() && f.actors[0] == actor)
      return true;
  return false;
}

} // namespace

CAF_TEST(nested supervisors near their intensity are found) {
  json current = tree(0, 0);
  auto skill = make_supervision_skill([&] { return json::array({current}); });
  CAF_CHECK(skill->detect(skill->snapshot(), {}).empty());
  current = tree(3, 4);
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fs, "restart_intensity_near_limit", "uploader"));
  CAF_CHECK(has(fs, "crash_loop", "uploader"));
  for (auto& f : fs)
    if (f.type == "crash_loop")
      CAF_CHECK(f.observation.find("disk full") != std::string::npos);
}
