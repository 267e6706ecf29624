// Embedding caflens: a CAF application starts a lens inside its actor system
// and asks it why something is wrong. The application here is a cache that
// never evicts: a feeder puts 2 000 keys a second into it. The cache is a
// tracked actor with a `get_state` view; its log lines go to the lens's log
// buffer and its put latencies to the lens's metrics. One investigation
// (the rule brain, offline, unless the environment names a model) prints its
// report: a memory_leak in `cache`.
//
//   build/apps/examples/investigate [--caflens.deadline-ms=20000 ...]
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

using namespace std::chrono_literals;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

namespace {

struct cache_state {
  std::vector<std::string> entries; // never evicted: the leak
};

// Sends 20 keys to the cache every 10 ms.
caf::behavior feeder(caf::event_based_actor* self, caf::actor cache) {
  self->send(self, tick_atom::value);
  return {[=](tick_atom) {
    static uint64_t n = 0;
    for (int i = 0; i < 20; ++i)
      self->send(cache, "key-" + std::to_string(n++));
    self->delayed_send(self, 10ms, tick_atom::value);
  }};
}

} // namespace

int main(int argc, char** argv) {
  caf::actor_system_config cfg;
  caflens::add_message_types(cfg);  // every caflens message type, once
  caflens::add_config_options(cfg); // [caflens] in caf-application.ini, --caflens.*
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << caf::to_string(err) << '\n';
    return 2;
  }
  caf::actor_system sys{cfg};

  auto lens = caflens::start(sys); // dormant: no threads, no polling
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  auto logs = lens->logs();       // feed your log lines here (logs skill)
  auto metrics = lens->metrics(); // record your latencies here (telemetry skill)
  metrics->add(caflens::telemetry::metric_definition::distribution(
    "cache.put", {"app", "cache", "put", "stop"}, "duration"));

  // What caflens sees of your actors: a tracked actor in the process table,
  // with a view of its state that the memory skill reads through the mailbox.
  auto cache = caflens::skills::spawn_tracked(
    sys, {"cache", "lru_cache", 0},
    [logs](caf::stateful_actor<cache_state>* self) {
      caflens::skills::expose_state(self, [self] {
        return nlohmann::json{{"entries", self->state.entries.size()}};
      });
      return caf::behavior{[=](std::string& key) {
        caflens::telemetry::span({"app", "cache", "put"}, {}, [&] {
          self->state.entries.push_back(std::move(key));
        });
        if (self->state.entries.size() % 5000 == 0)
          logs->append("warning", "cache",
                       std::to_string(self->state.entries.size())
                         + " entries and no eviction");
      }};
    });
  auto feed = sys.spawn(feeder, caf::actor_cast<caf::actor>(cache));
  std::this_thread::sleep_for(1s); // let the cache grow for a while

  // From an alert handler, a schedule, the CLI ...
  auto res = lens->investigate("the cache's memory keeps growing");
  if (res)
    std::cout << caflens::render_report(*res); // or caflens::to_json(*res)
  else
    std::cerr << caflens::render_error(res.error()) << '\n';

  caf::anon_send_exit(feed, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(cache, caf::exit_reason::user_shutdown);
  lens->stop();
  return res ? 0 : 1;
}
