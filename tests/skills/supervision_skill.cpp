#define CAF_SUITE skills.supervision_skill
#include "caf/test/unit_test.hpp"

#include "caflens/skills/builtin.hpp"
#include "caflens/telemetry/bus.hpp"

using namespace caflens::skills;
using nlohmann::json;

namespace {

// The shape of caflens::supervision's get_tree (supervision/tree.hpp).
// `flaky_restarts` restarts of "uploader", 1 s apart, the last one 1 s
// before the supervisor's uptime of `uptime_ms`.
json tree(int pool_restarts, int flaky_restarts,
          int64_t uptime_ms = 100'000) {
  json uploader{{"id", "uploader"}, {"restarts", flaky_restarts}};
  uploader["history"] = json::array();
  for (int i = flaky_restarts; i > 0; --i)
    uploader["history"].push_back(
      json{{"at_ms", uptime_ms - 1000 * i}, {"reason", "disk full"}});
  json worker_sup{{"name", "worker_sup"},
                  {"intensity", 3},
                  {"period_ms", 5000},
                  {"uptime_ms", uptime_ms},
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

CAF_TEST(restarts count within the window and not over a lifetime) {
  // Four restarts long ago (the history's times are the supervisor's
  // uptime): no crash loop now.
  json current = tree(0, 4, 100'000);
  for (auto& h : current["children"][1]["tree"]["children"][0]["history"])
    h["at_ms"] = h["at_ms"].get<int64_t>() - 90'000;
  auto skill = make_supervision_skill([&] { return json::array({current}); });
  CAF_CHECK(!has(skill->detect(skill->snapshot(), {}), "crash_loop",
                 "uploader"));
  // The same four within the last minute: a loop.
  current = tree(0, 4, 100'000);
  CAF_CHECK(has(skill->detect(skill->snapshot(), {}), "crash_loop",
                "uploader"));
}

namespace {

void emit_exit(int64_t at_ns, const char* sup, const char* child,
               const char* reason) {
  caflens::telemetry::bus::global().execute(
    caflens::telemetry::event_name{"caflens", "supervisor", "child_exited"},
    {{"system_time", static_cast<double>(at_ns)},
     {"restarts_in_period", 0.0}},
    {{"supervisor", sup},
     {"strategy", "one_for_one"},
     {"child_id", child},
     {"reason", reason},
     {"restart_type", "permanent"}});
}

} // namespace

CAF_TEST(a supervisor that gives up is a finding with child and supervisor) {
  // Reports reach the skill through the telemetry bus: every caflens
  // supervisor emits them, whoever spawned it and whether or not the lens
  // knows its tree.
  auto skill = make_supervision_skill(nullptr);
  auto now = caflens::telemetry::bus::system_time();
  // Shutdowns are not crashes.
  for (int i = 0; i < 5; ++i)
    emit_exit(now - 1'000'000 * i, "books_sup", "book-MSFT", "shutdown");
  for (int i = 0; i < 5; ++i)
    emit_exit(now - 1'000'000 * i, "books_sup", "book-MSFT", "normal");
  CAF_CHECK(skill->detect(skill->snapshot(), {}).empty());
  // Crashes long ago are history, not a loop.
  for (int i = 0; i < 5; ++i)
    emit_exit(now - int64_t{3'600'000'000'000} - i, "books_sup", "book-IBM",
              "runtime_error: stale quote");
  CAF_CHECK(skill->detect(skill->snapshot(), {}).empty());
  for (int i = 0; i < 4; ++i)
    emit_exit(now - 1'000'000 * (4 - i), "books_sup", "book-AAPL",
              "runtime_error: negative spread");
  caflens::telemetry::bus::global().execute(
    caflens::telemetry::event_name{"caflens", "supervisor",
                                   "intensity_exceeded"},
    {{"system_time", static_cast<double>(now)},
     {"restarts", 4.0},
     {"intensity", 3.0},
     {"period_ms", 5000.0}},
    {{"supervisor", "books_sup"},
     {"strategy", "one_for_one"},
     {"child_id", "book-AAPL"}});
  auto fs = skill->detect(skill->snapshot(), {});
  CAF_CHECK(has(fs, "crash_loop", "book-AAPL"));
  CAF_CHECK(!has(fs, "crash_loop", "book-IBM"));
  const finding* gave_up = nullptr;
  for (auto& f : fs)
    if (f.type == "restart_intensity_exceeded")
      gave_up = &f;
  CAF_REQUIRE(gave_up != nullptr);
  CAF_CHECK_EQUAL(gave_up->level, severity::critical);
  CAF_CHECK_EQUAL(gave_up->actors,
                  (std::vector<std::string>{"book-AAPL", "books_sup"}));
  CAF_CHECK(gave_up->observation.find("negative spread") != std::string::npos);
  CAF_CHECK_EQUAL(gave_up->evidence["intensity"], 3);
}
