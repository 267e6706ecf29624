// Periodic checks: the lens investigates every `check_interval` without
// being asked. The application here has an indexer that takes 5 ms per
// document while documents arrive at 400 a second: its mailbox grows. The
// first scheduled check (after 1 s) finds the slow consumer; the application
// reads the result from the store.
//
//   build/apps/examples/periodic_check
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <unistd.h>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
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

} // namespace

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto db = std::filesystem::temp_directory_path()
            / ("caflens-periodic-" + std::to_string(::getpid()) + ".db");

  caflens::config cfg;
  cfg.check_interval = std::chrono::seconds{1}; // 0 (the default): off
  cfg.check_reason = "periodic health check";   // the default reason
  cfg.store = caflens::store::store_options{};  // where results go
  cfg.store->path = db.string();
  auto lens = caflens::start(sys, cfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }

  auto idx = caflens::skills::spawn_tracked(sys, {"indexer", "indexer", 0},
                                            indexer);
  auto feed = sys.spawn(crawler, caf::actor_cast<caf::actor>(idx));

  // The first scheduled check, once the store has it.
  int rc = 1;
  for (int i = 0; i < 300 && rc != 0; ++i) {
    std::this_thread::sleep_for(100ms);
    auto rows = lens->history();
    if (!rows || rows->empty())
      continue;
    auto stored = lens->stored(rows->back().trace_id); // the oldest
    if (!stored)
      continue;
    std::cout << "trigger: " << stored->row.trigger << '\n';
    if (auto res = caflens::investigation_result_from_json(stored->result)) {
      std::cout << caflens::render_report(*res);
      rc = 0;
    }
  }
  caf::anon_send_exit(feed, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(idx, caf::exit_reason::kill);
  lens->stop();
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(db.string() + suffix);
  return rc;
}
