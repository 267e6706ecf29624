#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"

namespace caflens::skills {

namespace {

using nlohmann::json;

json actor_json(const actor_info& a, int64_t now) {
  json j{{"id", a.id},
         {"name", a.name},
         {"kind", a.kind},
         {"mailbox_depth", a.mailbox_depth},
         {"processed", a.processed},
         {"enqueued", a.enqueued},
         {"in_handler", a.in_handler},
         {"mean_handler_us", a.mean_handler_ns / 1000.0},
         {"max_handler_us", a.max_handler_ns / 1000.0}};
  if (a.in_handler && a.busy_since_ns > 0)
    j["busy_ms"] = (now - a.busy_since_ns) / 1'000'000;
  if (a.state_bytes > 0)
    j["state_bytes"] = a.state_bytes;
  if (a.parent != 0)
    j["parent"] = a.parent;
  if (a.last_activity_ns > 0)
    j["idle_ms"] = std::max<int64_t>(0, (now - a.last_activity_ns)
                                          / 1'000'000);
  return j;
}

actor_order parse_order(const std::string& by) {
  if (by == "processed")
    return actor_order::processed;
  if (by == "handler_time")
    return actor_order::handler_time;
  if (by == "state_bytes")
    return actor_order::state_bytes;
  return actor_order::mailbox_depth;
}

// The entry of `id` in a list of a snapshot, or nullptr.
const json* find_actor(const json& snapshot, const char* list, uint64_t id) {
  if (!snapshot.contains(list))
    return nullptr;
  for (auto& a : snapshot[list])
    if (a.value("id", uint64_t{0}) == id)
      return &a;
  return nullptr;
}

class actors_skill final : public skill {
public:
  actors_skill(process_table& table, detector_thresholds t)
    : table_(table), t_(t) {
  }

  std::string name() const override {
    return "actors";
  }
  std::string title() const override {
    return "Actors and mailboxes";
  }
  std::string description() const override {
    return "Tracked actors: mailbox depths and growth, throughput, handler "
           "time, busy and unresponsive actors, per-kind totals.";
  }
  std::string system_prompt() const override {
    return "You are the actors operator of caflens inside a CAF actor "
           "system. Find actors whose mailboxes grow, that are stuck in one "
           "handler, or that stopped making progress. Name each actor, give "
           "the measured numbers (mailbox depth, growth msg/s, processing "
           "msg/s, handler time) and cite snapshot ids. Keep facts apart "
           "from hypotheses.";
  }

  json snapshot() override {
    auto now = table_.now_ns();
    auto n = limits_.max_entries;
    json top = json::array(), busy = json::array(), stalled = json::array();
    for (auto& a : table_.top(n, actor_order::mailbox_depth))
      top.push_back(actor_json(a, now));
    json top_processed = json::array();
    for (auto& a : table_.top(std::min<size_t>(n, 10),
                              actor_order::processed))
      top_processed.push_back({{"id", a.id},
                               {"name", a.name},
                               {"processed", a.processed}});
    std::map<std::string, std::pair<uint64_t, uint64_t>> kinds;
    uint64_t count = 0, depth = 0;
    table_.for_each([&](const actor_info& a) {
      ++count;
      depth += a.mailbox_depth;
      auto& k = kinds[a.kind];
      k.first += 1;
      k.second += a.mailbox_depth;
      if (a.in_handler && a.busy_since_ns > 0 && busy.size() < n
          && now - a.busy_since_ns >= 100'000'000)
        busy.push_back(actor_json(a, now));
      // Candidates from 200 ms without progress: detect() confirms them
      // (unresponsive) or asks for a recheck.
      if (!a.in_handler && a.mailbox_depth > 0 && a.last_activity_ns > 0
          && now - a.last_activity_ns >= 200'000'000 && stalled.size() < n)
        stalled.push_back(actor_json(a, now));
    });
    json per_kind = json::object();
    for (auto& [k, v] : kinds)
      per_kind[k] = {{"count", v.first}, {"mailbox_depth", v.second}};
    return bound_snapshot({{"captured_at_ns", now},
                           {"count", count},
                           {"total_mailbox_depth", depth},
                           {"top_by_mailbox", top},
                           {"top_by_processed", top_processed},
                           {"busy", busy},
                           {"stalled", stalled},
                           {"kinds", per_kind}},
                          limits_.max_snapshot_bytes);
  }

  std::vector<callback> callbacks() override {
    std::vector<callback> cbs;
    cbs.push_back(
      {"actors_top",
       "actors_top(n, by) — top n actors by mailbox_depth (default), "
       "processed, handler_time or state_bytes",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         size_t n = args.size() > 0 && args[0].is_number_unsigned()
                      ? args[0].get<size_t>()
                      : 10;
         n = std::min(n, limits_.max_entries * 5);
         auto by = args.size() > 1 && args[1].is_string()
                     ? args[1].get<std::string>()
                     : std::string{"mailbox_depth"};
         json r = json::array();
         auto now = table_.now_ns();
         for (auto& a : table_.top(n, parse_order(by)))
           r.push_back(actor_json(a, now));
         return r;
       }});
    cbs.push_back(
      {"actor_info", "actor_info(name_or_id) — counters of one actor",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         if (args.empty())
           return make_error(skills_errc::invalid_argument,
                             "actor_info needs a name or an id");
         std::optional<actor_info> a;
         if (args[0].is_number_integer())
           a = table_.find(args[0].get<uint64_t>());
         else if (args[0].is_string())
           a = table_.find(args[0].get<std::string>());
         if (!a)
           return make_error(skills_errc::not_found,
                             "no tracked actor " + args[0].dump());
         return actor_json(*a, table_.now_ns());
       }});
    cbs.push_back(
      {"actors_count", "actors_count() — number of tracked actors by kind",
       [this](const std::vector<json>&) -> caf::expected<json> {
         std::map<std::string, uint64_t> kinds;
         table_.for_each([&](const actor_info& a) { ++kinds[a.kind]; });
         return json(kinds);
       }});
    cbs.push_back(
      {"actors_window",
       "actors_window(ms, n) — the n actors that processed the most "
       "messages during the next ms milliseconds (like recon proc_window)",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         int64_t ms = args.size() > 0 && args[0].is_number()
                        ? args[0].get<int64_t>()
                        : 1000;
         if (ms < 1 || ms > 10'000)
           return make_error(skills_errc::invalid_argument,
                             "actors_window: ms must be 1..10000");
         size_t n = args.size() > 1 && args[1].is_number_unsigned()
                      ? args[1].get<size_t>()
                      : 10;
         std::map<uint64_t, uint64_t> before;
         table_.for_each(
           [&](const actor_info& a) { before[a.id] = a.processed; });
         std::this_thread::sleep_for(std::chrono::milliseconds{ms});
         std::vector<std::pair<uint64_t, actor_info>> deltas;
         table_.for_each([&](const actor_info& a) {
           auto i = before.find(a.id);
           auto base = i == before.end() ? 0 : i->second;
           deltas.emplace_back(a.processed - base, a);
         });
         std::sort(deltas.begin(), deltas.end(), [](auto& x, auto& y) {
           return x.first > y.first;
         });
         json r = json::array();
         for (size_t i = 0; i < std::min(n, deltas.size()); ++i)
           r.push_back({{"name", deltas[i].second.name},
                        {"id", deltas[i].second.id},
                        {"processed_in_window", deltas[i].first},
                        {"rate_per_s", deltas[i].first * 1000.0 / ms},
                        {"mailbox_depth", deltas[i].second.mailbox_depth}});
         return r;
       },
       std::chrono::milliseconds{10'000}});
    return cbs;
  }

  std::vector<finding> detect(const json& cur,
                              const std::vector<json>& history) override {
    std::vector<finding> out;
    auto now = cur.value("captured_at_ns", int64_t{0});
    // The oldest earlier snapshot gives the longest baseline.
    const json* base = history.empty() ? nullptr : &history.front();
    for (auto& a : cur.value("top_by_mailbox", json::array())) {
      auto depth = a.value("mailbox_depth", uint64_t{0});
      if (depth < t_.mailbox_backlog)
        continue;
      auto id = a.value("id", uint64_t{0});
      auto name = a.value("name", std::string{});
      finding f;
      f.type = "mailbox_backlog";
      f.actors = {name};
      f.level = depth >= 10 * t_.mailbox_backlog ? severity::critical
                                                 : severity::warning;
      f.evidence = {{"mailbox_depth", depth},
                    {"processed", a.value("processed", uint64_t{0})},
                    {"kind", a.value("kind", std::string{})}};
      std::string growth_text;
      if (base != nullptr) {
        auto then = base->value("captured_at_ns", int64_t{0});
        auto* old = find_actor(*base, "top_by_mailbox", id);
        double dt = (now - then) / 1e9;
        if (old != nullptr && dt > 0) {
          auto d0 = old->value("mailbox_depth", uint64_t{0});
          auto p0 = old->value("processed", uint64_t{0});
          double growth = (double(depth) - double(d0)) / dt;
          double rate = (double(a.value("processed", uint64_t{0}))
                         - double(p0))
                        / dt;
          f.evidence["growth_per_s"] = growth;
          f.evidence["processed_per_s"] = rate;
          f.evidence["window_s"] = dt;
          if (growth >= t_.mailbox_growth_per_s) {
            f.type = "mailbox_growth";
            char buf[160];
            std::snprintf(buf, sizeof(buf),
                          " and growing %.0f msg/s while it handles %.0f "
                          "msg/s (over %.1f s)",
                          growth, rate, dt);
            growth_text = buf;
          }
        }
      }
      f.observation = name + " (" + a.value("kind", std::string{})
                      + ") mailbox " + std::to_string(depth) + growth_text;
      out.push_back(std::move(f));
    }
    // The table learns when a handler started or progress stopped only by
    // looking (no clock reads on the message path), so a lens that was
    // dormant sees a stuck actor "since now". Below the thresholds, an
    // info finding with `recheck_ms` asks the operator to look again then.
    auto suspect = [&](const json& a, const char* type, const char* key,
                       int64_t seen, int64_t threshold) {
      finding f;
      f.type = type;
      f.level = severity::info;
      f.actors = {a.value("name", std::string{})};
      f.observation = f.actors[0] + ": " + key + " " + std::to_string(seen)
                      + " ms so far (threshold "
                      + std::to_string(threshold) + " ms); recheck";
      f.evidence = {{key, seen}, {"recheck_ms", threshold - seen + 50}};
      out.push_back(std::move(f));
    };
    for (auto& a : cur.value("busy", json::array())) {
      auto busy = a.value("busy_ms", int64_t{0});
      if (busy < t_.blocked_handler_ms) {
        suspect(a, "suspect_blocked_handler", "busy_ms", busy,
                t_.blocked_handler_ms);
        continue;
      }
      finding f;
      f.type = "blocked_handler";
      f.level = severity::critical;
      f.actors = {a.value("name", std::string{})};
      f.observation = f.actors[0] + " has been inside one handler for "
                      + std::to_string(busy) + " ms (mailbox "
                      + std::to_string(a.value("mailbox_depth", 0)) + ")";
      f.evidence = {{"busy_ms", busy},
                    {"mailbox_depth", a.value("mailbox_depth", 0)}};
      out.push_back(std::move(f));
    }
    for (auto& a : cur.value("stalled", json::array())) {
      auto idle = a.value("idle_ms", int64_t{0});
      if (idle < t_.unresponsive_ms) {
        suspect(a, "suspect_unresponsive", "idle_ms", idle,
                t_.unresponsive_ms);
        continue;
      }
      finding f;
      f.type = "unresponsive";
      f.level = severity::critical;
      f.actors = {a.value("name", std::string{})};
      f.observation = f.actors[0] + " made no progress for "
                      + std::to_string(idle) + " ms with "
                      + std::to_string(a.value("mailbox_depth", 0))
                      + " messages waiting";
      f.evidence = {{"idle_ms", idle},
                    {"mailbox_depth", a.value("mailbox_depth", 0)},
                    {"processed", a.value("processed", 0)}};
      out.push_back(std::move(f));
    }
    return out;
  }

private:
  process_table& table_;
  detector_thresholds t_;
};

} // namespace

skill_ptr make_actors_skill(process_table& table, detector_thresholds t) {
  return std::make_shared<actors_skill>(table, t);
}

} // namespace caflens::skills
