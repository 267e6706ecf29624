#include "caflens/skills/process_table.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "caflens/skills/detail/trace_hook.hpp"
#include "caflens/supervision/reason.hpp"
#include "caflens/telemetry/error.hpp"

namespace caflens::skills {

namespace {

struct entry {
  uint64_t id;
  caf::actor_addr addr;
  tracking_info info;
  std::string node;
  int64_t spawned_at_ns;
  caf::intrusive_ptr<actor_stats> stats;
  // Observer state, updated by inspections (under the shard lock).
  uint64_t seen_seq = 0;        // handler runs: a new run resets busy_since
  int64_t busy_since_ns = 0;
  uint64_t seen_processed = 0;  // progress: skipped messages don't count
  int64_t seen_change_ns = 0;
  int64_t streak_since_ns = 0;  // busy at every look since then
  // The actor's own normal: mailbox depth and handling rate, averaged over
  // looks at least a second apart (EWMA), since `base_first_ns`.
  double base_depth = 0;
  double base_rate = 0;
  uint64_t base_processed = 0;
  int64_t base_first_ns = 0;
  int64_t base_last_ns = 0;
  uint32_t base_samples = 0;
  uint64_t streak_seq = 0;
};

struct shard {
  mutable std::mutex mtx;
  std::unordered_map<uint64_t, entry> entries;
};

// Reads the counters of `e` and updates its observer state.
actor_info read(entry& e, int64_t now, const detail::pending_counts& pending) {
  auto& s = *e.stats;
  actor_info r;
  r.id = e.id;
  r.name = e.info.name;
  r.kind = e.info.kind;
  r.node = e.node;
  r.parent = e.info.parent;
  r.spawned_at_ns = e.spawned_at_ns;
  r.addr = e.addr;
  auto seq = s.consume_seq.load(std::memory_order_relaxed);
  r.processed = seq / 2 - s.skipped.load(std::memory_order_relaxed);
  r.in_handler = (seq & 1) != 0;
  // Enqueues still batched in senders' threads count as enqueued.
  r.enqueued = s.enqueued.load(std::memory_order_relaxed)
               + pending.of(&s);
  auto done = r.processed + (r.in_handler ? 1 : 0);
  r.mailbox_depth = r.enqueued > done ? r.enqueued - done : 0;
  r.mean_handler_ns = s.mean_handler_ns();
  r.max_handler_ns = s.handler_ns_max.load(std::memory_order_relaxed);
  r.state_bytes = s.state_bytes.load(std::memory_order_relaxed);
  if (seq != e.seen_seq || e.busy_since_ns == 0) {
    e.seen_seq = seq;
    e.busy_since_ns = r.in_handler ? now : 0;
  }
  if (r.processed != e.seen_processed || e.seen_change_ns == 0) {
    e.seen_processed = r.processed;
    e.seen_change_ns = now;
  }
  r.busy_since_ns = e.busy_since_ns;
  // Baselines learn from looks a second or more apart, so one
  // investigation's quick looks count once.
  if (e.base_samples == 0) {
    e.base_depth = static_cast<double>(r.mailbox_depth);
    e.base_processed = r.processed;
    e.base_first_ns = e.base_last_ns = now;
    e.base_samples = 1;
  } else if (now - e.base_last_ns >= 1'000'000'000) {
    constexpr double alpha = 0.2;
    double dt = (now - e.base_last_ns) / 1e9;
    double rate = r.processed >= e.base_processed
                    ? (r.processed - e.base_processed) / dt
                    : 0.0;
    e.base_depth += alpha * (static_cast<double>(r.mailbox_depth)
                             - e.base_depth);
    e.base_rate = e.base_samples == 1 ? rate
                                      : e.base_rate
                                          + alpha * (rate - e.base_rate);
    e.base_processed = r.processed;
    e.base_last_ns = now;
    ++e.base_samples;
  }
  r.baseline_depth = e.base_depth;
  r.baseline_rate = e.base_rate;
  r.baseline_samples = e.base_samples;
  r.baseline_age_ms = (now - e.base_first_ns) / 1'000'000;
  if (!r.in_handler) {
    e.streak_since_ns = 0;
  } else if (e.streak_since_ns == 0) {
    e.streak_since_ns = now;
    e.streak_seq = seq;
  }
  r.busy_streak_since_ns = e.streak_since_ns;
  r.streak_runs = r.in_handler ? (seq - e.streak_seq) / 2 : 0;
  r.detached = s.detached.load(std::memory_order_relaxed);
  r.exposes_state = s.exposes_state.load(std::memory_order_relaxed);
  r.pending_responses = s.pending_responses.load(std::memory_order_relaxed);
  if (auto since = s.awaiting_since_ns.load(std::memory_order_relaxed);
      since > 0)
    r.awaiting_ms = std::max<int64_t>(0, (detail::steady_now_ns() - since)
                                           / 1'000'000);
  r.open_promises = s.open_promises();
  if (r.open_promises > 0)
    r.promised_to = s.promised_to();
  // By this table's clock: the last inspection that saw progress.
  r.last_activity_ns = e.seen_change_ns;
  return r;
}

uint64_t key_of(const entry& e, actor_order order,
                const detail::pending_counts& pending) {
  auto& s = *e.stats;
  switch (order) {
    case actor_order::mailbox_depth:
      return s.mailbox_depth(pending.of(&s));
    case actor_order::processed:
      return s.processed();
    case actor_order::handler_time:
      return s.mean_handler_ns();
    case actor_order::state_bytes:
      return s.state_bytes.load(std::memory_order_relaxed);
  }
  return 0;
}

} // namespace

bool is_crash(const caf::error& reason) {
  return !supervision::is_normal_exit(reason);
}

struct process_table::impl {
  const telemetry::clock* clk = &telemetry::clock::steady();
  shard shards[shard_count];
  mutable std::mutex exits_mtx;
  std::deque<exit_record> exits;
  size_t exit_history = 1000;
  /// Ids marked terminated before their exit was recorded (newest last).
  std::deque<uint64_t> terminated_early;

  shard& shard_of(uint64_t id) {
    return shards[id % shard_count];
  }

  caf::intrusive_ptr<actor_stats> insert(uint64_t id, caf::actor_addr addr,
                                         tracking_info info, std::string node,
                                         bool instrumented) {
    if (info.name.empty())
      info.name = (info.kind.empty() ? std::string{"actor"} : info.kind) + "-"
                  + std::to_string(id);
    caf::intrusive_ptr<actor_stats> stats{new actor_stats};
    stats->instrumented.store(instrumented, std::memory_order_relaxed);
    auto& sh = shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    sh.entries.insert_or_assign(
      id, entry{id, std::move(addr), std::move(info), std::move(node),
                detail::system_now_ns(), stats});
    return stats;
  }
};

process_table::process_table() : impl_(std::make_unique<impl>()) {
}

process_table::~process_table() = default;

void process_table::clock(const telemetry::clock& c) noexcept {
  impl_->clk = &c;
}

int64_t process_table::now_ns() const noexcept {
  return impl_->clk->now_ns();
}

process_table& process_table::global() noexcept {
  static auto* instance = new process_table; // never destroyed
  return *instance;
}

caf::intrusive_ptr<actor_stats>
process_table::add(uint64_t id, caf::actor_addr addr, tracking_info info,
                   std::string node) {
  return impl_->insert(id, std::move(addr), std::move(info), std::move(node),
                       true);
}

bool process_table::annotate(uint64_t id, const std::string& name,
                             uint64_t parent) {
  auto& sh = impl_->shard_of(id);
  std::lock_guard<std::mutex> guard{sh.mtx};
  auto i = sh.entries.find(id);
  if (i == sh.entries.end())
    return false;
  auto& info = i->second.info;
  info.parent = parent;
  if (info.name == info.kind + "-" + std::to_string(id)) // auto-generated
    info.name = name;
  return true;
}

void process_table::add_untracked(uint64_t id, caf::actor_addr addr,
                                  tracking_info info, std::string node) {
  impl_->insert(id, std::move(addr), std::move(info), std::move(node), false);
}

void process_table::remove(uint64_t id, const caf::error& reason) {
  exit_record rec;
  caf::intrusive_ptr<actor_stats> stats;
  {
    auto& sh = impl_->shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto i = sh.entries.find(id);
    if (i == sh.entries.end())
      return;
    // seq_cst pairs with the tracer's attach (store trace, load alive):
    // either this exit sees the trace or the attach sees the exit.
    i->second.stats->alive.store(false, std::memory_order_seq_cst);
    rec.id = id;
    rec.name = i->second.info.name;
    rec.kind = i->second.info.kind;
    stats = std::move(i->second.stats);
    sh.entries.erase(i);
  }
  // A trace of this actor ends with it.
  if (stats->trace.load(std::memory_order_seq_cst) != nullptr)
    detail::end_trace_of_exited(*stats);
  rec.abnormal = is_crash(reason);
  rec.reason = reason ? render_error(reason) : "normal";
  rec.at_ns = detail::system_now_ns();
  std::lock_guard<std::mutex> guard{impl_->exits_mtx};
  auto& early = impl_->terminated_early;
  if (auto i = std::find(early.begin(), early.end(), id); i != early.end()) {
    early.erase(i);
    rec.terminated = true;
    rec.abnormal = false;
  }
  impl_->exits.push_back(std::move(rec));
  while (impl_->exits.size() > impl_->exit_history)
    impl_->exits.pop_front();
}

void process_table::mark_terminated(uint64_t id) {
  std::lock_guard<std::mutex> guard{impl_->exits_mtx};
  // The actor's own cleanup usually recorded the exit already.
  for (auto i = impl_->exits.rbegin(); i != impl_->exits.rend(); ++i)
    if (i->id == id) {
      i->terminated = true;
      i->abnormal = false;
      return;
    }
  impl_->terminated_early.push_back(id);
  while (impl_->terminated_early.size() > 1024)
    impl_->terminated_early.pop_front();
}

size_t process_table::size() const {
  size_t n = 0;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    n += sh.entries.size();
  }
  return n;
}

std::optional<actor_info> process_table::find(uint64_t id) const {
  auto& sh = impl_->shard_of(id);
  std::lock_guard<std::mutex> guard{sh.mtx};
  auto i = sh.entries.find(id);
  if (i == sh.entries.end())
    return std::nullopt;
  return read(i->second, now_ns(), detail::pending_enqueue_counts());
}

caf::intrusive_ptr<actor_stats> process_table::stats(uint64_t id) const {
  auto& sh = impl_->shard_of(id);
  std::lock_guard<std::mutex> guard{sh.mtx};
  auto i = sh.entries.find(id);
  if (i == sh.entries.end())
    return nullptr;
  return i->second.stats;
}

std::optional<actor_info> process_table::find(const std::string& name) const {
  auto now = now_ns();
  auto pending = detail::pending_enqueue_counts();
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, e] : sh.entries)
      if (e.info.name == name)
        return read(e, now, pending);
  }
  return std::nullopt;
}

std::vector<actor_info> process_table::top(size_t n, actor_order order) {
  if (n == 0)
    return {};
  auto now = now_ns();
  auto pending = detail::pending_enqueue_counts();
  // Pass 1: the n best (key, id) pairs, reading counters only.
  using candidate = std::pair<uint64_t, uint64_t>; // key, id
  auto worse = [](const candidate& x, const candidate& y) {
    return x.first > y.first || (x.first == y.first && x.second < y.second);
  };
  std::vector<candidate> heap;
  heap.reserve(n + 1);
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, e] : sh.entries) {
      candidate c{key_of(e, order, pending), id};
      if (heap.size() < n) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), worse);
      } else if (worse(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), worse);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), worse);
      }
    }
  }
  std::sort(heap.begin(), heap.end(), worse);
  // Pass 2: copy the winners (they may have exited in between).
  std::vector<actor_info> result;
  result.reserve(heap.size());
  for (auto& [key, id] : heap) {
    auto& sh = impl_->shard_of(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto i = sh.entries.find(id);
    if (i != sh.entries.end())
      result.push_back(read(i->second, now, pending));
  }
  return result;
}

std::vector<actor_info> process_table::all(size_t limit) {
  auto now = now_ns();
  auto pending = detail::pending_enqueue_counts();
  std::vector<actor_info> result;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, e] : sh.entries) {
      if (result.size() >= limit)
        return result;
      result.push_back(read(e, now, pending));
    }
  }
  std::sort(result.begin(), result.end(),
            [](auto& x, auto& y) { return x.id < y.id; });
  return result;
}

void process_table::for_each(const std::function<void(const actor_info&)>& fn) {
  auto now = now_ns();
  auto pending = detail::pending_enqueue_counts();
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, e] : sh.entries)
      fn(read(e, now, pending));
  }
}

std::vector<exit_record> process_table::exits() const {
  std::lock_guard<std::mutex> guard{impl_->exits_mtx};
  return {impl_->exits.begin(), impl_->exits.end()};
}

void process_table::exit_history(size_t n) {
  std::lock_guard<std::mutex> guard{impl_->exits_mtx};
  impl_->exit_history = n;
  while (impl_->exits.size() > n)
    impl_->exits.pop_front();
}

uint64_t process_table::total_mailbox_depth() const {
  auto pending = detail::pending_enqueue_counts();
  uint64_t n = 0;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    for (auto& [id, e] : sh.entries)
      n += e.stats->mailbox_depth(pending.of(e.stats.get()));
  }
  return n;
}

} // namespace caflens::skills
