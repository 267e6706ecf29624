// Shared pieces of the engine tests: skills with scripted data, scripted
// brains per loop, an event recorder and a collector for replies.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"

#include "caflens/caflens.hpp"
#include "caflens/llm/scripted_brain.hpp"
#include "caflens/skills/skill.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

namespace test_support {

using json = nlohmann::json;

/// A skill whose snapshots count up and whose detector reports `findings`.
inline caflens::skills::skill_ptr
counting_skill(std::string name, std::vector<caflens::skills::finding> findings,
               std::shared_ptr<int> counter = std::make_shared<int>(0)) {
  caflens::skills::skill_definition def;
  def.name = name;
  def.title = name + " skill";
  def.description = "test skill " + name;
  def.system_prompt = "You inspect " + name + ".";
  def.snapshot = [counter] {
    ++*counter;
    return json{{"captured_at_ns", *counter * 1'000'000'000LL},
                {"value", *counter}};
  };
  def.detect = [findings](const json&, const std::vector<json>&) {
    return findings;
  };
  def.callbacks.push_back(
    {name + "_value", name + "_value() — the counter",
     [counter](const std::vector<json>&) -> caf::expected<json> {
       return json{{"value", *counter}};
     }});
  return caflens::skills::make_skill(std::move(def));
}

inline caflens::llm::tool_call call(std::string name, json args = json::object()) {
  caflens::llm::tool_call c;
  c.name = std::move(name);
  c.arguments = std::move(args);
  return c;
}

/// Scripts per loop: "coordinator" or "operator:<skill>". A missing script
/// falls back to the rule brain.
struct scripts {
  std::map<std::string, std::vector<caflens::llm::tool_call>> by_loop;
  /// How many brains each loop asked for (restarts ask again).
  std::map<std::string, int> made;
  std::mutex mtx;

  caflens::brain_factory factory() {
    return [this](const caflens::brain_request& req)
             -> std::unique_ptr<caflens::llm::brain> {
      std::lock_guard<std::mutex> guard{mtx};
      auto key = req.role == "coordinator" ? std::string{"coordinator"}
                                           : "operator:" + req.skill;
      ++made[key];
      auto i = by_loop.find(key);
      if (i == by_loop.end())
        return nullptr;
      return std::make_unique<caflens::llm::scripted_brain>(i->second);
    };
  }
};

/// Records every catalogue event with its metadata (as JSON).
class event_recorder {
public:
  explicit event_recorder(std::string id) : id_(std::move(id)) {
    auto& bus = caflens::telemetry::bus::global();
    bus.attach_many(
      id_, caflens::telemetry::event_names(),
      [this](const caflens::telemetry::event_name& name,
             const caflens::telemetry::measurements& ms,
             const caflens::telemetry::metadata& md, const std::any&) {
        // Every event of the catalogue carries a time measurement.
        bool timed = false;
        for (auto& m : ms)
          if ((m.key == "system_time" || m.key == "duration") && m.value > 0)
            timed = true;
        std::lock_guard<std::mutex> guard{mtx_};
        if (!timed)
          untimed_.push_back(name.str());
        seen_.push_back({name.str(), md.to_json()});
      });
  }

  ~event_recorder() {
    caflens::telemetry::bus::global().detach(id_);
  }

  std::set<std::string> names() const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::set<std::string> out;
    for (auto& [n, md] : seen_)
      out.insert(n);
    return out;
  }

  std::vector<json> metadata_of(const std::string& name) const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<json> out;
    for (auto& [n, md] : seen_)
      if (n == name)
        out.push_back(md);
    return out;
  }

  bool has(const std::string& name) const {
    return names().count(name) > 0;
  }

  /// Events that came without a positive system_time or duration.
  std::vector<std::string> untimed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return untimed_;
  }

  void clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    seen_.clear();
  }

private:
  std::string id_;
  mutable std::mutex mtx_;
  std::vector<std::pair<std::string, json>> seen_;
  std::vector<std::string> untimed_;
};

/// Where a collector actor puts the reply it got.
struct reply_slot {
  std::optional<caflens::investigation_result> result;
  std::optional<caf::error> error;

  bool done() const {
    return result.has_value() || error.has_value();
  }
};

/// Spawns an actor that asks `coord` to investigate and stores the reply.
inline caf::actor ask(caf::actor_system& sys,
                      caflens::actors::coordinator_actor coord,
                      std::string reason, caflens::investigate_options opts,
                      std::shared_ptr<reply_slot> slot) {
  return sys.spawn(
    [=](caf::event_based_actor* self, int) {
      self
        ->request(coord, caf::infinite,
                  caflens::actors::investigate_request{reason, opts})
        .then([slot](caflens::investigation_result& r) { slot->result = r; },
              [slot](caf::error& e) { slot->error = e; });
      return caf::behavior{[](int) {}};
    },
    0);
}

} // namespace test_support
