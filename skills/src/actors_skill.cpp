#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/skills/tracked.hpp"

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
  if (a.in_handler && a.busy_streak_since_ns > 0) {
    j["busy_streak_ms"] = (now - a.busy_streak_since_ns) / 1'000'000;
    j["streak_runs"] = a.streak_runs;
  }
  if (a.detached)
    j["detached"] = true;
  if (a.pending_responses > 0)
    j["pending_replies"] = a.pending_responses;
  if (a.awaiting_ms > 0)
    j["awaiting_ms"] = a.awaiting_ms;
  if (a.open_promises > 0)
    j["unanswered_requests"] = a.open_promises;
  if (a.baseline_samples >= 2)
    j["baseline"] = {{"mailbox_depth", a.baseline_depth},
                     {"processed_per_s", a.baseline_rate},
                     {"samples", a.baseline_samples},
                     {"age_ms", a.baseline_age_ms}};
  return j;
}

/// Median of `xs` (reordered).
double median_of(std::vector<double>& xs) {
  if (xs.empty())
    return 0;
  auto mid = xs.begin() + static_cast<long>(xs.size() / 2);
  std::nth_element(xs.begin(), mid, xs.end());
  double m = *mid;
  if (xs.size() % 2 == 0) {
    auto lo = std::max_element(xs.begin(), mid);
    m = (m + *lo) / 2;
  }
  return m;
}

/// Median and median absolute deviation.
std::pair<double, double> median_mad(std::vector<double> xs) {
  auto m = median_of(xs);
  for (auto& x : xs)
    x = std::abs(x - m);
  return {m, median_of(xs)};
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
  std::vector<finding_type> finding_types() const override {
    return {
      {"mailbox_growth", "slow_consumer",
       "a mailbox that grew at every look, faster than its actor handles"},
      {"mailbox_backlog", "slow_consumer",
       "a deep mailbox whose messages wait long (warning) or drain fast "
       "(info)"},
      {"unanswered_requests", "slow_consumer",
       "an actor holding many requests unanswered (kept promises)"},
      {"reply_backlog", "slow_consumer",
       "an actor awaiting hundreds of replies (request(...).then)"},
      {"peer_outlier", "slow_consumer",
       "a mailbox far deeper than its peers' (same kind, same parent)"},
      {"slow_handler_outlier", "slow_consumer",
       "handler time far above its peers' (info)"},
      {"blocked_handler", "scheduler_starvation",
       "one handler run holding a scheduler thread for seconds"},
      {"thread_hog", "scheduler_starvation",
       "two or more actors holding scheduler threads with long runs back "
       "to back"},
      {"unresponsive", "unresponsive",
       "no progress for seconds with messages waiting"}};
  }
  std::vector<field_doc> snapshot_fields() const override {
    // The entries of every list share actor_json's fields: "*[]".
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"count", "actors", "tracked actors alive"},
      {"total_mailbox_depth", "messages", "waiting in all tracked mailboxes"},

      {"top_by_mailbox", "", "deepest mailboxes first"},
      {"top_by_processed", "", "top 10 by messages handled"},
      {"busy", "",
       "not detached; in one handler >=100 ms or long runs every look"},
      {"stalled", "",
       "no progress >=200 ms with mail waiting, or in await >=200 ms"},
      {"waiting_for_replies", "", "awaiting many replies (>=100 by default)"},
      {"holding_requests", "",
       "holding many requests unanswered (>=20 by default)"},
      {"peer_outliers", "",
       "far deeper or slower than peers (same kind and parent)"},
      {"kinds", "", "totals by actor kind"},
      {"kinds.*", "", "one actor kind"},
      {"kinds.*.count", "actors", "tracked actors of this kind"},
      {"kinds.*.mailbox_depth", "messages", "waiting in this kind's mailboxes"},
      {"*[].id", "", "actor id"},
      {"*[].name", "", "actor name"},
      {"*[].kind", "", "actor kind"},
      {"*[].mailbox_depth", "messages", "waiting in the mailbox at this look"},
      {"*[].processed", "messages", "handled since spawn"},
      {"*[].enqueued", "messages", "sent to it since spawn"},
      {"*[].in_handler", "", "inside a handler at this look"},
      {"*[].mean_handler_us", "us",
       "mean handler time over its life, 1 run in 64 timed"},
      {"*[].max_handler_us", "us", "longest sampled handler run"},
      {"*[].busy_ms", "ms", "in the current run, since a look first saw it"},
      {"*[].busy_streak_ms", "ms", "inside a handler at every look this long"},
      {"*[].streak_runs", "count", "handler runs started in that streak"},
      {"*[].idle_ms", "ms", "since a look first saw its current processed"},
      {"*[].state_bytes", "bytes", "state size the actor reports"},
      {"*[].parent", "", "supervisor's actor id"},
      {"*[].detached", "", "runs on its own thread"},
      {"*[].pending_replies", "replies", "responses it awaits (then/await)"},
      {"*[].awaiting_ms", "ms", "blocked in request(...).await, real time"},
      {"*[].unanswered_requests", "requests",
       "tracked actors' requests it holds unanswered"},
      {"*[].baseline", "", "its normal: EWMA of looks >=1 s apart"},
      {"*[].baseline.mailbox_depth", "messages", "usual mailbox depth"},
      {"*[].baseline.processed_per_s", "msg/s", "usual handling rate"},
      {"*[].baseline.samples", "count", "looks in the baseline"},
      {"*[].baseline.age_ms", "ms", "since the baseline's first look"},
      {"stalled[].awaits_reply_from", "", "actors holding its request"},
      {"peer_outliers[].peers", "actors", "its peers, itself excluded"},
      {"peer_outliers[].peer_median_depth", "messages",
       "peers' median mailbox depth"},
      {"peer_outliers[].peer_median_handler_us", "us",
       "peers' median mean handler time"},
      {"peer_outliers[].outlier_in", "", "mailbox_depth and/or handler_time"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  std::vector<std::string> keywords() const override {
    return {"mailbox", "queue", "backlog", "throughput", "lag", "overload",
            "depth", "behind", "backpressure", "pending", "inflight",
            "in-flight", "saturat", "stall", "drain", "stuck", "hang",
            "freeze", "frozen", "unresponsive", "deadlock", "block"};
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

  json collect_() override {
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
    // Peers: actors of one kind under one parent (a pool's workers, a
    // supervisor's children of one spec) should look alike.
    struct peer_group {
      std::vector<double> depth, handler_us, pending;
      std::vector<actor_info> members;
    };
    std::map<std::pair<std::string, uint64_t>, peer_group> peers;
    json waiting = json::array(), holding = json::array();
    // Who holds whose requests (kept promises): requester id -> holders.
    std::map<uint64_t, std::vector<std::string>> holders_of;
    std::vector<std::pair<uint64_t, size_t>> awaiting_entries;
    uint64_t count = 0, depth = 0;
    table_.for_each([&](const actor_info& a) {
      ++count;
      depth += a.mailbox_depth;
      auto& k = kinds[a.kind];
      k.first += 1;
      k.second += a.mailbox_depth;
      auto& g = peers[{a.kind, a.parent}];
      if (g.members.size() < 4096) {
        g.depth.push_back(static_cast<double>(a.mailbox_depth));
        g.handler_us.push_back(a.mean_handler_ns / 1000.0);
        g.pending.push_back(static_cast<double>(a.pending_responses));
        g.members.push_back(a);
      }
      // From a fifth of the threshold, so that growth has a baseline.
      if (a.pending_responses
            >= std::max<uint64_t>(1, t_.pending_replies_backlog / 5)
          && waiting.size() < n)
        waiting.push_back(actor_json(a, now));
      // Busy now for a while, or busy at every look with few runs started
      // (long handlers back to back): a suspect of a blocked handler.
      // Detached actors block their own thread only.
      bool busy_run = a.busy_since_ns > 0
                      && now - a.busy_since_ns >= 100'000'000;
      bool busy_streak
        = a.busy_streak_since_ns > 0
          && now - a.busy_streak_since_ns >= 100'000'000
          && (now - a.busy_streak_since_ns) / 1'000'000
                 / static_cast<int64_t>(a.streak_runs + 1)
               >= 50;
      if (a.in_handler && !a.detached && (busy_run || busy_streak)
          && busy.size() < n)
        busy.push_back(actor_json(a, now));
      // Candidates from 200 ms without progress: detect() confirms them
      // (unresponsive) or asks for a recheck.
      // An actor blocked in request(...).await skips every message: stuck
      // for as long as it awaits, whatever its mailbox.
      if (!a.in_handler
          && ((a.mailbox_depth > 0 && a.last_activity_ns > 0
               && now - a.last_activity_ns >= 200'000'000)
              || a.awaiting_ms >= 200)
          && stalled.size() < n) {
        if (a.awaiting_ms > 0)
          awaiting_entries.emplace_back(a.id, stalled.size());
        stalled.push_back(actor_json(a, now));
      }
      if (a.open_promises
            >= std::max<uint64_t>(1, t_.unanswered_requests_backlog / 5)
          && holding.size() < n)
        holding.push_back(actor_json(a, now));
      for (auto& [requester, count] : a.promised_to)
        if (holders_of[requester].size() < 5)
          holders_of[requester].push_back(a.name);
    });
    // An actor blocked in an await, and the actors holding its request.
    for (auto& [id, index] : awaiting_entries)
      if (auto i = holders_of.find(id); i != holders_of.end())
        stalled[index]["awaits_reply_from"] = i->second;
    json per_kind = json::object();
    for (auto& [k, v] : kinds)
      per_kind[k] = {{"count", v.first}, {"mailbox_depth", v.second}};
    // Outliers among at least three peers (robust statistics: median and
    // MAD), even below every absolute floor.
    json outliers = json::array();
    for (auto& [key, g] : peers) {
      if (g.members.size() < 3)
        continue;
      auto [dm, dmad] = median_mad(g.depth);
      auto [hm, hmad] = median_mad(g.handler_us);
      for (size_t i = 0; i < g.members.size() && outliers.size() < n; ++i) {
        auto& a = g.members[i];
        double d = g.depth[i];
        bool deep = d >= t_.peer_min_depth
                    && d >= dm + 10 * std::max(dmad, 1.0)
                    && d >= t_.peer_ratio * std::max(dm, 1.0);
        double h = g.handler_us[i];
        bool slow = h >= t_.peer_min_handler_us
                    && h >= hm + 10 * std::max(hmad, 1.0)
                    && h >= t_.peer_ratio * std::max(hm, 1.0);
        if (!deep && !slow)
          continue;
        auto j = actor_json(a, now);
        j["peers"] = g.members.size() - 1;
        j["peer_median_depth"] = dm;
        j["peer_median_handler_us"] = hm;
        j["outlier_in"] = deep && slow ? "mailbox_depth,handler_time"
                          : deep       ? "mailbox_depth"
                                       : "handler_time";
        outliers.push_back(std::move(j));
      }
    }
    return bound_snapshot({{"captured_at_ns", now},
                           {"count", count},
                           {"total_mailbox_depth", depth},
                           {"top_by_mailbox", top},
                           {"top_by_processed", top_processed},
                           {"busy", busy},
                           {"stalled", stalled},
                           {"waiting_for_replies", waiting},
                           {"holding_requests", holding},
                           {"peer_outliers", outliers},
                           {"kinds", per_kind}},
                          limits_.max_snapshot_bytes);
  }

  sample_plan plan() const override {
    // Growth needs two intervals to tell a trend from a burst.
    return {3, std::chrono::milliseconds{300}};
  }

  /// The tracked actor named (or numbered) by the first argument.
  caf::expected<actor_info> lookup(const std::vector<json>& args) const {
    if (args.empty())
      return make_error(skills_errc::invalid_argument,
                        "needs an actor name or id");
    std::optional<actor_info> a;
    if (args[0].is_number_integer())
      a = table_.find(args[0].get<uint64_t>());
    else if (args[0].is_string())
      a = table_.find(args[0].get<std::string>());
    if (!a)
      return make_error(skills_errc::not_found,
                        "no tracked actor " + args[0].dump());
    return *a;
  }

  std::vector<callback> callbacks() override {
    std::vector<callback> cbs;
    cbs.push_back(
      {"actors_top",
       "actors_top(n, by) — top n actors by mailbox_depth (default), "
       "processed, handler_time or state_bytes",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         size_t n = args.size() > 0 && args[0].is_number_integer()
                        && args[0].get<int64_t>() >= 0
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
       },
       std::chrono::milliseconds{0},
       {sandbox::param::integer("n", 10, 0, 1000),
        sandbox::param::string("by", "mailbox_depth",
                               {"mailbox_depth", "processed",
                                "handler_time", "state_bytes"})}});
    cbs.push_back(
      {"actor_info", "actor_info(name_or_id) — counters of one actor",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         auto a = lookup(args);
         if (!a)
           return a.error();
         return actor_json(*a, table_.now_ns());
       },
       std::chrono::milliseconds{0},
       {sandbox::param::needed("name_or_id")}});
    cbs.push_back(
      {"actor_state",
       "actor_state(name_or_id) — the state view a tracked actor exposes "
       "(get_state; answered through its mailbox, so a stuck actor times "
       "out)",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         auto a = lookup(args);
         if (!a)
           return a.error();
         // An actor without a view answers so itself (no_state).
         auto h = caf::actor_cast<caf::actor>(a->addr);
         if (!h)
           return make_error(skills_errc::not_found, a->name + " is down");
         return get_state(h->home_system(), h,
                          std::chrono::milliseconds{500});
       },
       std::chrono::milliseconds{500},
       {sandbox::param::needed("name_or_id")}});
    cbs.push_back(
      {"actors_totals",
       "actors_totals() — tracked actors alive: count, mailbox_depth, "
       "processed and enqueued (summed since their spawn)",
       [this](const std::vector<json>&) -> caf::expected<json> {
         uint64_t count = 0, depth = 0, processed = 0, enqueued = 0;
         table_.for_each([&](const actor_info& a) {
           ++count;
           depth += a.mailbox_depth;
           processed += a.processed;
           enqueued += a.enqueued;
         });
         return json{{"count", count},
                     {"mailbox_depth", depth},
                     {"processed", processed},
                     {"enqueued", enqueued}};
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
         size_t n = args.size() > 1 && args[1].is_number_integer()
                        && args[1].get<int64_t>() >= 0
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
       std::chrono::milliseconds{10'000},
       {sandbox::param::integer("ms", 1000, 1, 10000),
        sandbox::param::integer("n", 10, 0, 1000)}});
    return cbs;
  }

  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>& history) override {
    std::vector<finding> out;
    auto now = cur.value("captured_at_ns", int64_t{0});
    // Earlier looks at one actor (oldest first) with their times.
    auto looks = [&](uint64_t id, const char* list) {
      std::vector<std::pair<double, const json*>> xs;
      for (auto& h : history)
        if (auto* old = find_actor(h, list, id))
          xs.emplace_back(h.value("captured_at_ns", int64_t{0}) / 1e9, old);
      return xs;
    };
    std::set<std::string> reported;
    for (auto& a : cur.value("top_by_mailbox", json::array())) {
      auto depth = a.value("mailbox_depth", uint64_t{0});
      // Below the floor, only a clear trend counts (see below).
      bool below_floor = depth < t_.mailbox_backlog;
      if (below_floor && depth < t_.mailbox_trend_min_depth)
        continue;
      auto id = a.value("id", uint64_t{0});
      auto name = a.value("name", std::string{});
      auto processed = a.value("processed", uint64_t{0});
      finding f;
      f.type = "mailbox_backlog";
      f.actors = {name};
      f.evidence = {{"mailbox_depth", depth},
                    {"processed", processed},
                    {"kind", a.value("kind", std::string{})}};
      // How long a message now waits in this mailbox: the depth over the
      // measured handling rate, else over the sampled handler time.
      double wait_ms = -1;
      double growth = 0, rate = -1, dt = 0;
      bool growing = false;
      auto xs = looks(id, "top_by_mailbox");
      if (!xs.empty()) {
        auto t0 = xs.front().first;
        dt = now / 1e9 - t0;
        if (dt > 0) {
          auto d0 = xs.front().second->value("mailbox_depth", uint64_t{0});
          auto p0 = xs.front().second->value("processed", uint64_t{0});
          growth = (double(depth) - double(d0)) / dt;
          rate = (double(processed) - double(p0)) / dt;
          // Growing: up at every look (a burst rises and drains), and by
          // the threshold rate overall.
          bool every = true;
          uint64_t prev = d0;
          for (size_t i = 1; i < xs.size(); ++i) {
            auto d = xs[i].second->value("mailbox_depth", uint64_t{0});
            if (d < prev)
              every = false;
            prev = d;
          }
          if (depth <= prev)
            every = false;
          // And by a real share of the queue: a busy service's sawtooth
          // (4 500, 4 800, 5 000) rises at every look by chance.
          // Below the absolute floor, the queue must grow by half of
          // itself within the looks.
          growing = every && growth >= t_.mailbox_growth_per_s
                    && double(depth) - double(d0)
                         >= (below_floor ? 0.5 : 0.15)
                              * std::max<double>(double(d0), 1.0);
          f.evidence["growth_per_s"] = growth;
          f.evidence["processed_per_s"] = rate;
          f.evidence["window_s"] = dt;
          if (rate > 0)
            wait_ms = 1000.0 * double(depth) / rate;
        }
      }
      auto mean_us = a.value("mean_handler_us", 0.0);
      if (wait_ms < 0 && mean_us > 0)
        wait_ms = double(depth) * mean_us / 1000.0;
      if (wait_ms >= 0)
        f.evidence["wait_ms"] = wait_ms;
      bool long_wait = wait_ms < 0 || wait_ms >= t_.mailbox_wait_ms;
      if (below_floor && !growing)
        continue;
      if (growing) {
        f.type = "mailbox_growth";
        f.level = depth >= 10 * t_.mailbox_backlog ? severity::critical
                                                   : severity::warning;
      } else if (auto b = a.value("baseline", json::object());
                 b.value("samples", uint32_t{0}) >= t_.baseline_min_samples
                 && b.value("age_ms", int64_t{0}) >= t_.baseline_min_age_ms
                 && double(depth)
                      <= 2 * b.value("mailbox_depth", 0.0) + 100) {
        // As deep as it normally is, and not growing: this actor's normal.
        f.level = severity::info;
        f.evidence["baseline_depth"] = b.value("mailbox_depth", 0.0);
      } else if (long_wait && !(rate == 0 && depth > 0 && dt > 0)) {
        f.level = depth >= 10 * t_.mailbox_backlog
                      && wait_ms >= 10 * t_.mailbox_wait_ms
                    ? severity::critical
                    : severity::warning;
      } else {
        // Deep but draining fast: a busy service's normal queue.
        f.level = severity::info;
      }
      char buf[200];
      std::string text = name + " (" + a.value("kind", std::string{})
                         + ") mailbox " + std::to_string(depth);
      if (growing) {
        std::snprintf(buf, sizeof(buf),
                      " and growing %.0f msg/s while it handles %.0f msg/s "
                      "(over %.1f s)",
                      growth, rate, dt);
        text += buf;
      } else if (rate >= 0 && dt > 0) {
        std::snprintf(buf, sizeof(buf), ", handling %.0f msg/s", rate);
        text += buf;
      }
      if (wait_ms >= 0) {
        std::snprintf(buf, sizeof(buf), "; a new message waits ~%.0f ms",
                      wait_ms);
        text += buf;
      }
      f.observation = text;
      reported.insert(name);
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
      f.evidence = {{key, seen},
                    {"recheck_ms", std::max<int64_t>(threshold - seen, 0)
                                     + 50}};
      out.push_back(std::move(f));
    };
    // Actors that hold a scheduler thread nearly all the time with long
    // runs, each below the blocked-handler threshold: two or more of them
    // exhaust the pool together.
    // One copy of the list: the hogs point into it.
    auto busy_list = cur.value("busy", json::array());
    std::vector<const json*> hogs;
    for (auto& a : busy_list) {
      if (a.value("detached", false))
        continue;
      auto streak = a.value("busy_streak_ms", int64_t{0});
      auto runs = a.value("streak_runs", uint64_t{0});
      auto per_run = streak / static_cast<int64_t>(runs + 1);
      auto busy = a.value("busy_ms", int64_t{0});
      if (busy < t_.blocked_handler_ms && streak >= t_.thread_hog_streak_ms
          && per_run >= t_.thread_hog_run_ms)
        hogs.push_back(&a);
    }
    if (hogs.size() < 2)
      hogs.clear();
    for (auto* h : hogs) {
      auto& a = *h;
      auto streak = a.value("busy_streak_ms", int64_t{0});
      auto runs = a.value("streak_runs", uint64_t{0});
      auto per_run = streak / static_cast<int64_t>(runs + 1);
      finding f;
      f.type = "thread_hog";
      f.level = severity::warning;
      f.actors = {a.value("name", std::string{})};
      f.observation = f.actors[0] + " was inside a handler at every look for "
                      + std::to_string(streak) + " ms, ~"
                      + std::to_string(per_run) + " ms per run: with "
                      + std::to_string(hogs.size() - 1)
                      + " more such actor(s) it holds scheduler threads for "
                        "good (mailbox "
                      + std::to_string(a.value("mailbox_depth", 0)) + ")";
      f.evidence = {{"busy_ms", per_run},
                    {"busy_streak_ms", streak},
                    {"streak_runs", runs},
                    {"hogs", hogs.size()},
                    {"mailbox_depth", a.value("mailbox_depth", 0)}};
      out.push_back(std::move(f));
    }
    auto is_hog = [&](const json& a) {
      return std::find(hogs.begin(), hogs.end(), &a) != hogs.end();
    };
    for (auto& a : busy_list) {
      if (a.value("detached", false))
        continue;
      auto busy = a.value("busy_ms", int64_t{0});
      auto streak = a.value("busy_streak_ms", int64_t{0});
      auto runs = a.value("streak_runs", uint64_t{0});
      // Busy at every look for `streak` ms with few runs: each run takes
      // at least streak / (runs + 1) on average.
      auto per_run = streak / static_cast<int64_t>(runs + 1);
      bool blocked = busy >= t_.blocked_handler_ms
                     || (streak >= 2 * t_.blocked_handler_ms
                         && per_run >= t_.blocked_handler_ms);
      if (!blocked) {
        if (is_hog(a))
          continue;
        suspect(a, "suspect_blocked_handler", "busy_ms",
                std::max(busy, std::min(streak, per_run)),
                t_.blocked_handler_ms);
        continue;
      }
      finding f;
      f.type = "blocked_handler";
      f.level = severity::critical;
      f.actors = {a.value("name", std::string{})};
      if (busy >= t_.blocked_handler_ms)
        f.observation = f.actors[0] + " has been inside one handler for "
                        + std::to_string(busy) + " ms (mailbox "
                        + std::to_string(a.value("mailbox_depth", 0)) + ")";
      else
        f.observation = f.actors[0] + " was inside a handler at every look "
                        "for " + std::to_string(streak) + " ms while "
                        "starting only " + std::to_string(runs + 1)
                        + " run(s): ~" + std::to_string(per_run)
                        + " ms per handler run (mailbox "
                        + std::to_string(a.value("mailbox_depth", 0)) + ")";
      f.evidence = {{"busy_ms", std::max(busy, per_run)},
                    {"busy_streak_ms", streak},
                    {"streak_runs", runs},
                    {"mailbox_depth", a.value("mailbox_depth", 0)}};
      out.push_back(std::move(f));
    }
    for (auto& a : cur.value("stalled", json::array())) {
      auto awaiting = a.value("awaiting_ms", int64_t{0});
      if (awaiting >= t_.unresponsive_ms) {
        finding f;
        f.type = "unresponsive";
        f.level = severity::critical;
        f.actors = {a.value("name", std::string{})};
        f.observation = f.actors[0] + " has been blocked in "
                        "request(...).await for " + std::to_string(awaiting)
                        + " ms, skipping every other message ("
                        + std::to_string(a.value("mailbox_depth", 0))
                        + " waiting)";
        // The actors that hold its request unanswered.
        std::string holders;
        for (auto& h : a.value("awaits_reply_from", json::array()))
          if (h.is_string()) {
            f.actors.push_back(h.get<std::string>());
            holders += (holders.empty() ? "" : ", ") + h.get<std::string>();
          }
        if (!holders.empty())
          f.observation += "; its request is held unanswered by " + holders;
        f.evidence = {{"awaiting_ms", awaiting},
                      {"idle_ms", awaiting},
                      {"mailbox_depth", a.value("mailbox_depth", 0)}};
        out.push_back(std::move(f));
        continue;
      }
      if (awaiting > 0 && a.value("mailbox_depth", 0) == 0) {
        suspect(a, "suspect_unresponsive", "awaiting_ms", awaiting,
                t_.unresponsive_ms);
        continue;
      }
      auto idle = std::max(a.value("idle_ms", int64_t{0}), awaiting);
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
    // Both ends of a backlog of pending replies: requests held unanswered
    // (kept response promises) and replies awaited (request(...).then).
    struct reply_queue {
      const char* list;  // snapshot list
      const char* key;   // count field
      const char* type;  // finding type
      uint64_t threshold;
      const char* text;  // "%s ... %llu ..." with name and count
    };
    const reply_queue queues[] = {
      {"holding_requests", "unanswered_requests", "unanswered_requests",
       t_.unanswered_requests_backlog,
       "%s holds %llu requests it has not answered yet"},
      {"waiting_for_replies", "pending_replies", "reply_backlog",
       t_.pending_replies_backlog,
       "%s is waiting for %llu replies: the actors it asks answer slower "
       "than it asks"}};
    for (auto& q : queues)
      for (auto& a : cur.value(q.list, json::array())) {
        auto id = a.value("id", uint64_t{0});
        auto name = a.value("name", std::string{});
        auto n = a.value(q.key, uint64_t{0});
        if (n < q.threshold)
          continue;
        double growth = 0;
        auto xs = looks(id, q.list);
        if (!xs.empty()) {
          double dt = now / 1e9 - xs.front().first;
          auto n0 = xs.front().second->value(q.key, uint64_t{0});
          if (dt > 0)
            growth = (double(n) - double(n0)) / dt;
        }
        finding f;
        f.type = q.type;
        f.level = n >= 10 * q.threshold ? severity::critical
                                        : severity::warning;
        f.actors = {name};
        char buf[256];
        std::snprintf(buf, sizeof(buf), q.text, name.c_str(),
                      (unsigned long long) n);
        f.observation = buf;
        std::snprintf(buf, sizeof(buf), " (%+.0f/s; mailbox %llu)", growth,
                      (unsigned long long) a.value("mailbox_depth", 0));
        f.observation += buf;
        f.evidence = {{q.key, n},
                      {"growth_per_s", growth},
                      {"mailbox_depth", a.value("mailbox_depth", 0)}};
        out.push_back(std::move(f));
      }
    // Outliers among their peers.
    for (auto& a : cur.value("peer_outliers", json::array())) {
      auto name = a.value("name", std::string{});
      auto what = a.value("outlier_in", std::string{});
      bool deep = what.find("mailbox_depth") != std::string::npos;
      if (deep && reported.count(name) > 0)
        continue; // already reported by its backlog
      auto peers = a.value("peers", 0);
      char buf[256];
      finding f;
      f.type = deep ? "peer_outlier" : "slow_handler_outlier";
      f.actors = {name};
      if (deep) {
        auto d = a.value("mailbox_depth", 0.0);
        auto m = a.value("peer_median_depth", 0.0);
        std::snprintf(buf, sizeof(buf),
                      "%s: mailbox %.0f, %.0fx its %d peers' median of %.0f",
                      name.c_str(), d, d / std::max(m, 1.0), peers, m);
        f.level = severity::warning;
        f.evidence = {{"mailbox_depth", d},
                      {"peer_median_depth", m},
                      {"peer_ratio", d / std::max(m, 1.0)},
                      {"peers", peers}};
      } else {
        auto h = a.value("mean_handler_us", 0.0);
        auto m = a.value("peer_median_handler_us", 0.0);
        std::snprintf(buf, sizeof(buf),
                      "%s: mean handler time %.0f us, %.0fx its %d peers' "
                      "median of %.0f us",
                      name.c_str(), h, h / std::max(m, 1.0), peers, m);
        // Slower than its peers but keeping up: worth knowing, no alarm.
        f.level = severity::info;
        f.evidence = {{"mean_handler_us", h},
                      {"peer_median_handler_us", m},
                      {"peer_ratio", h / std::max(m, 1.0)},
                      {"peers", peers}};
      }
      f.observation = buf;
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
