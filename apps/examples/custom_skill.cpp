// Teaching caflens your domain: a batcher actor keeps a queue of pending
// items; a custom skill of a few lines exposes its size to operators (as a
// snapshot field, a Lua callback and a detector). Registered with a lens, it
// is one more operator: an investigation whose reason speaks of batches asks
// it, and the rule brain turns its finding into an insight.
//
//   build/apps/examples/custom_skill
#include <atomic>
#include <iostream>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skill.hpp"
#include "caflens/skills/tracked.hpp"

using namespace caf;
using namespace caflens::skills;
using nlohmann::json;

namespace {

using flush_atom = atom_constant<atom("flush")>;

// The application's batcher; it publishes its queue size for the skill.
std::atomic<size_t> pending_items{0};

behavior batcher(event_based_actor* self) {
  return {[=](int item) { pending_items += 1; },
          [=](flush_atom) { pending_items = 0; }};
}

} // namespace

int main() {
  actor_system_config cfg;
  caflens::add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  actor_system sys{cfg};
  auto b = spawn_tracked(sys, {"batcher", "batcher", 0}, batcher);

  // The whole custom skill.
  auto batching = make_skill({
    .name = "batching",
    .title = "Batching",
    .description = "The upload batcher's queue of pending items.",
    .system_prompt = {}, // default: built from title and description
    .snapshot = [] { return json{{"pending_items", pending_items.load()}}; },
    .detect =
      [](const json& cur, const std::vector<json>&) {
        std::vector<finding> out;
        auto n = cur.value("pending_items", size_t{0});
        if (n > 1000)
          out.push_back({"batch_backlog", severity::warning,
                         "batcher holds " + std::to_string(n)
                           + " unflushed items",
                         {"batcher"},
                         {{"pending_items", n}}});
        return out;
      },
    .callbacks = {{"batch_pending", "batch_pending() — items not flushed",
                   [](const std::vector<json>&) -> caf::expected<json> {
                     return json(pending_items.load());
                   }}},
    // The pattern each finding points to (the rule brain correlates by it:
    // a built-in one such as "slow_consumer", or a new one with its root
    // cause and rank) and the words of a reason that make this skill worth
    // asking.
    .finding_types = {{"batch_backlog", "late_flush",
                       "the batcher holds over 1000 unflushed items",
                       "{culprits} holds items it has not flushed: the flush "
                       "is late or stuck",
                       50}},
    .keywords = {"batch", "flush"},
    .plan = {},
    // What the snapshot's fields mean, for a model reading it.
    .snapshot_fields = {{"pending_items", "items",
                         "items received since the last flush"}},
  });

  scoped_actor self{sys};
  for (int i = 0; i < 1500; ++i)
    self->send(b, i);
  // Wait until the batcher has seen every item (a request is answered after
  // all earlier messages from this sender).
  self->request(actor_cast<actor>(b), infinite, flush_atom::value)
    .receive([] {}, [](error&) {});
  for (int i = 0; i < 1500; ++i)
    self->send(b, i);
  self->send(b, 0);
  while (pending_items.load() < 1501)
    std::this_thread::yield();

  auto snap = batching->snapshot();
  std::cout << "snapshot: " << snap.dump() << '\n';
  for (auto& f : batching->detect(snap, {}))
    std::cout << "finding:  " << f.type << " — " << f.observation << '\n';
  auto result = batching->callbacks()[0].fn({});
  std::cout << "callback batch_pending() = " << result->dump() << '\n';

  // Registered with a lens (beside the built-in skills).
  caflens::config lcfg;
  lcfg.skills.push_back(batching);
  auto lens = caflens::start(sys, lcfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  auto res = lens->investigate("batch flushes are late");
  if (!res) {
    std::cerr << caflens::render_error(res.error()) << '\n';
    return 1;
  }
  std::cout << '\n' << caflens::render_report(*res);
  lens->stop();
  anon_send_exit(b, exit_reason::user_shutdown);
  return 0;
}
