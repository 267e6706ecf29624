// Replaying a stored investigation: the store keeps every call each loop
// ran (`decisions`, the default of store-llm-exchanges); one scripted brain
// per loop drives a fresh lens with the same skills through the same
// investigation, without a model. Here the recorded investigation is the
// rule brain's (of an indexer that cannot keep up), so the example runs
// offline; a model's investigation replays the same way.
//
//   build/apps/examples/replay
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/llm/message.hpp"
#include "caflens/llm/scripted_brain.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/store/store.hpp"

using namespace std::chrono_literals;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

namespace {

// 5 ms per document: 200 a second at most.
caf::behavior indexer(caf::event_based_actor*) {
  return {[](const std::string&) { std::this_thread::sleep_for(5ms); }};
}

// 4 documents every 10 ms: 400 a second.
caf::behavior crawler(caf::event_based_actor* self, caf::actor target) {
  self->send(self, tick_atom::value);
  return {[=](tick_atom) {
    for (int i = 0; i < 4; ++i)
      self->send(target, std::string{"document"});
    self->delayed_send(self, 10ms, tick_atom::value);
  }};
}

caflens::config same_config(const std::filesystem::path& db) {
  caflens::config c;
  c.node_name = "replay-example";
  c.store = caflens::store::store_options{};
  c.store->path = db.string();
  return c;
}

} // namespace

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto dir = std::filesystem::temp_directory_path();
  auto pid = std::to_string(::getpid());
  auto recorded_db = dir / ("caflens-recorded-" + pid + ".db");
  auto replayed_db = dir / ("caflens-replayed-" + pid + ".db");
  auto idx = caflens::skills::spawn_tracked(sys, {"indexer", "indexer", 0},
                                            indexer);
  auto feed = sys.spawn(crawler, caf::actor_cast<caf::actor>(idx));
  std::this_thread::sleep_for(1s);

  // The recorded investigation.
  auto lens = caflens::start(sys, same_config(recorded_db));
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  auto first = lens->investigate("documents are indexed late");
  if (!first || lens->flush_telemetry()) {
    std::cerr << "the investigation was not recorded\n";
    return 1;
  }
  auto trace = first->trace_id;
  auto top = [](const caflens::investigation_result& r) {
    return r.insights.empty() ? std::string{"no insight"}
                              : r.insights[0].pattern + " — "
                                  + r.insights[0].summary;
  };
  std::cout << "recorded: " << top(*first) << '\n';

  auto d = lens->stored(trace);                      // or database::investigation
  lens->stop();
  if (!d) {
    std::cerr << caflens::render_error(d.error()) << '\n';
    return 1;
  }
  std::map<std::string, std::vector<caflens::llm::tool_call>> by_loop;
  for (auto& x : d->decisions)
    by_loop[x["loop"].get<std::string>()].push_back(
      caflens::llm::tool_call_from_json(x["call"]));
  caflens::config c = same_config(replayed_db);      // same skills and node name
  c.brain = [by_loop](const caflens::brain_request& r)
    -> std::unique_ptr<caflens::llm::brain> {
    auto loop = r.role == "coordinator" ? std::string{"coordinator"}
                                        : "operator:" + r.skill;
    auto i = by_loop.find(loop);
    return i == by_loop.end() ? nullptr
                              : std::make_unique<caflens::llm::scripted_brain>(i->second);
  };
  auto again = caflens::start(sys, c);
  if (!again) {
    std::cerr << caflens::render_error(again.error()) << '\n';
    return 1;
  }
  auto replayed = again->investigate(d->row.reason);
  int rc = 1;
  if (replayed) {
    std::cout << "replayed: " << top(*replayed) << "\n(" << by_loop.size()
              << " loops, " << d->decisions.size() << " calls, brain "
              << replayed->brain << ")\n";
    rc = top(*replayed) == top(*first) ? 0 : 1;
  } else {
    std::cerr << caflens::render_error(replayed.error()) << '\n';
  }
  again->stop();
  caf::anon_send_exit(feed, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(idx, caf::exit_reason::kill);
  for (auto& db : {recorded_db, replayed_db})
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(db.string() + suffix);
  return rc;
}
