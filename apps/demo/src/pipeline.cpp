#include "caflens/demo/pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "caf/all.hpp"

#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/proc.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/supervision/supervisor.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

namespace caflens::demo {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// -- messages -----------------------------------------------------------------

using produce_atom = caf::atom_constant<caf::atom("produce")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using scanned_atom = caf::atom_constant<caf::atom("scanned")>;
using written_atom = caf::atom_constant<caf::atom("written")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using index_atom = caf::atom_constant<caf::atom("index")>;
using usage_atom = caf::atom_constant<caf::atom("usage")>;
using quota_atom = caf::atom_constant<caf::atom("quota")>;
using billing_atom = caf::atom_constant<caf::atom("billing")>;
using meter_atom = caf::atom_constant<caf::atom("meter")>;

/// One uploaded file (its bytes stay with the client in this simulation).
struct upload {
  uint64_t id = 0;
  uint64_t bytes = 0;
  uint32_t tenant = 0;
  /// Index into `formats`.
  uint32_t format = 0;
  /// Steady-clock ns when the producer emitted it.
  int64_t created_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload& x) {
  return f(caf::meta::type_name("caflens::demo::upload"), x.id, x.bytes,
           x.tenant, x.format, x.created_ns);
}

constexpr std::array<const char*, 3> tenants{"acme", "globex", "initech"};

/// Image formats of the uploads and their shares in percent.
constexpr std::array<const char*, 4> formats{"jpeg", "png", "webp", "heic"};
constexpr std::array<uint32_t, 4> format_shares{70, 15, 10, 5};
constexpr uint32_t heic = 3;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// -- shared context -----------------------------------------------------------

/// What every actor of one pipeline shares: the fault switch, counters, the
/// log and the metric event.
struct context {
  std::shared_ptr<skills::log_buffer> logs;
  telemetry::event stage_event;
  uint64_t seed = 7;
  std::atomic<uint8_t> fault{static_cast<uint8_t>(scenario::healthy)};
  std::atomic<bool> stopping{false};
  std::atomic<bool> starvation_fired{false};
  std::atomic<uint64_t> next_id{1};
  std::atomic<uint64_t> produced{0}, processed{0}, stored{0}, indexed{0},
    rejected{0}, dropped{0};
  std::atomic<int64_t> last_indexed_ns{0};
  caf::actor dispatcher;
  caf::actor store;

  bool is(scenario x) const noexcept {
    return fault.load(std::memory_order_relaxed) == static_cast<uint8_t>(x);
  }

  void log(const char* level, std::string source, std::string message) {
    logs->append(level, std::move(source), std::move(message));
  }

  void record(const char* stage, double ms) {
    telemetry::bus::global().execute(stage_event, {{"duration_ms", ms}},
                                     {{"stage", stage}});
  }
};

using context_ptr = std::shared_ptr<context>;

/// A simulated service time: log-normal around `median_ms`.
std::chrono::microseconds service_time(std::mt19937_64& rng, double median_ms,
                                       double sigma) {
  std::lognormal_distribution<double> dist{std::log(median_ms), sigma};
  return std::chrono::microseconds{
    static_cast<int64_t>(std::min(dist(rng), 50 * median_ms) * 1000)};
}

// -- producer -----------------------------------------------------------------

struct producer_state {
  std::mt19937_64 rng;
  int64_t last_ns = 0;
  double carry = 0;
};

caf::behavior producer_impl(caf::stateful_actor<producer_state>* self,
                            context_ptr ctx, uint32_t index, uint32_t rate) {
  self->state.rng.seed(ctx->seed * 100 + index);
  self->state.last_ns = now_ns();
  self->send(self, produce_atom::value);
  return {[=](produce_atom) {
    if (ctx->stopping.load())
      return;
    auto& st = self->state;
    auto now = now_ns();
    // Holds the rate whatever the timer's jitter.
    st.carry += rate * (now - st.last_ns) / 1e9;
    st.last_ns = now;
    auto n = static_cast<uint64_t>(std::min(st.carry, rate / 10.0));
    st.carry -= n;
    std::uniform_int_distribution<uint64_t> size{64 << 10, 8 << 20};
    for (uint64_t i = 0; i < n; ++i) {
      upload u;
      u.id = ctx->next_id.fetch_add(1);
      u.bytes = size(st.rng);
      u.tenant = static_cast<uint32_t>(st.rng() % tenants.size());
      auto pick = static_cast<uint32_t>(st.rng() % 100);
      while (u.format + 1 < formats.size() && pick >= format_shares[u.format])
        pick -= format_shares[u.format++];
      u.created_ns = now;
      self->send(ctx->dispatcher, std::move(u));
    }
    ctx->produced += n;
    self->delayed_send(self, 20ms, produce_atom::value);
  }};
}

// -- dispatcher ---------------------------------------------------------------

struct dispatcher_state {
  /// Worker i + 1 in slot i; empty while it restarts.
  std::vector<caf::actor> slots;
  size_t next = 0;
};

caf::behavior dispatcher_impl(caf::stateful_actor<dispatcher_state>* self,
                              context_ptr ctx, size_t workers) {
  self->state.slots.resize(workers);
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& w : self->state.slots)
      if (w && w.address() == dm.source)
        w = nullptr;
  });
  return {
    [=](join_atom, uint32_t index, caf::actor worker) {
      if (index == 0 || index > self->state.slots.size())
        return;
      self->monitor(worker);
      self->state.slots[index - 1] = std::move(worker);
    },
    [=](upload& u) {
      auto& st = self->state;
      for (size_t i = 0; i < st.slots.size(); ++i) {
        auto& w = st.slots[st.next++ % st.slots.size()];
        if (w) {
          self->send(w, std::move(u));
          return;
        }
      }
      ++ctx->dropped;
    },
  };
}

// -- worker -------------------------------------------------------------------

struct worker_state {
  std::mt19937_64 rng;
  int64_t started_ns = 0;
};

caf::error exception_to_error(caf::scheduled_actor*, std::exception_ptr& x) {
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, e.what());
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error, "unknown exception");
  }
}

caf::behavior worker_impl(caf::stateful_actor<worker_state>* self,
                          context_ptr ctx, uint32_t index) {
  auto name = "worker-" + std::to_string(index);
  self->state.rng.seed(ctx->seed * 1000 + index * 7 + self->id());
  self->state.started_ns = now_ns();
  self->set_exception_handler(exception_to_error);
  self->send(ctx->dispatcher, join_atom::value, index,
             caf::actor_cast<caf::actor>(self));
  return {
    [=](upload& u) {
      auto start = now_ns();
      if (index == 2 && ctx->is(scenario::slow_consumer)) {
        // The degraded scratch disk: a synchronous write per upload.
        std::this_thread::sleep_for(10ms);
      }
      if (index == 3 && ctx->is(scenario::crash_loop) &&
          start - self->state.started_ns >= 400'000'000) {
        ctx->log("error", name,
                 "cannot stage upload " + std::to_string(u.id) +
                   ": scratch volume /var/uploads/tmp is full");
        throw std::runtime_error("scratch volume /var/uploads/tmp is full "
                                 "(ENOSPC)");
      }
      if (index == 4 && ctx->is(scenario::scheduler_starvation) &&
          !ctx->starvation_fired.exchange(true)) {
        ctx->log("info", name,
                 "upload " + std::to_string(u.id) +
                   " is 2.0 GiB: scanning it inline");
        std::this_thread::sleep_for(3500ms);
      }
      if (index == 1 && u.format == heic && ctx->is(scenario::error_burst)) {
        ++ctx->rejected;
        ctx->log("error", name,
                 "upload " + std::to_string(u.id) + " of " + tenants[u.tenant] +
                   " rejected: HEIC decoder failed to load "
                   "(libheif.so.1: cannot open shared object file)");
        return;
      }
      // The asynchronous virus scan (about 4 ms).
      self->delayed_send(self, service_time(self->state.rng, 4.0, 0.3),
                         scanned_atom::value, std::move(u), start);
    },
    [=](scanned_atom, upload& u, int64_t start) {
      ctx->record("process", (now_ns() - start) / 1e6);
      ++ctx->processed;
      self->send(ctx->store, std::move(u));
    },
  };
}

// -- store --------------------------------------------------------------------

struct store_state {
  std::mt19937_64 rng;
  /// Previews of the last stored uploads, oldest first.
  std::deque<uint64_t> order;
  std::unordered_map<uint64_t, std::string> previews;
  uint64_t bytes = 0;
  /// Stored since the last flush, per tenant.
  std::array<uint64_t, tenants.size()> batch{};
  uint64_t stored_since_report = 0;
  int64_t last_report_ns = 0;
};

constexpr size_t preview_bytes = 4096;
constexpr size_t preview_capacity = 2000;

caf::behavior store_impl(caf::stateful_actor<store_state>* self,
                         context_ptr ctx, caf::actor catalog) {
  self->state.rng.seed(ctx->seed * 10'000 + 1);
  self->state.last_report_ns = now_ns();
  skills::expose_state(self, [self] {
    return json{{"cached_previews", self->state.previews.size()},
                {"cache_bytes", self->state.bytes},
                {"capacity", preview_capacity}};
  });
  self->delayed_send(self, 100ms, flush_atom::value);
  return {
    [=](upload& u) {
      // The asynchronous write to the object store (about 8 ms).
      double median = ctx->is(scenario::latency_regression) ? 32.0 : 8.0;
      self->delayed_send(self, service_time(self->state.rng, median, 0.35),
                         written_atom::value, std::move(u), now_ns());
    },
    [=](written_atom, upload& u, int64_t start) {
      ctx->record("store", (now_ns() - start) / 1e6);
      ++ctx->stored;
      auto& st = self->state;
      st.previews.emplace(u.id,
                          std::string(preview_bytes, char('a' + u.id % 26)));
      st.order.push_back(u.id);
      st.bytes += preview_bytes + 64;
      // The leak: eviction is off, the cache keeps every preview.
      if (!ctx->is(scenario::memory_leak))
        while (st.order.size() > preview_capacity) {
          st.previews.erase(st.order.front());
          st.order.pop_front();
          st.bytes -= preview_bytes + 64;
        }
      skills::report_state_bytes(self, st.bytes);
      ++st.batch[u.tenant];
      ++st.stored_since_report;
    },
    [=](flush_atom) {
      auto& st = self->state;
      for (uint32_t t = 0; t < st.batch.size(); ++t)
        if (st.batch[t] > 0) {
          self->send(catalog, index_atom::value, t, st.batch[t]);
          st.batch[t] = 0;
        }
      auto now = now_ns();
      if (now - st.last_report_ns >= 1'000'000'000) {
        ctx->log("info", "store",
                 "stored " + std::to_string(st.stored_since_report) +
                   " uploads in the last second; preview cache " +
                   std::to_string(st.previews.size()) + " entries");
        st.stored_since_report = 0;
        st.last_report_ns = now;
      }
      if (!ctx->stopping.load())
        self->delayed_send(self, 100ms, flush_atom::value);
    },
  };
}

// -- catalog and billing ------------------------------------------------------

struct catalog_state {
  std::array<uint64_t, tenants.size()> usage{};
  caf::actor billing;
};

caf::behavior catalog_impl(caf::stateful_actor<catalog_state>* self,
                           context_ptr ctx) {
  auto index = [=](uint32_t tenant, uint64_t n) {
    self->state.usage[tenant] += n;
    ctx->indexed += n;
    ctx->last_indexed_ns = now_ns();
  };
  return {
    [=](billing_atom, caf::actor billing) {
      self->state.billing = std::move(billing);
    },
    [=](index_atom, uint32_t tenant, uint64_t n) {
      if (tenant >= tenants.size())
        return;
      if (ctx->is(scenario::unresponsive) && self->state.billing) {
        // Strict quota mode: ask billing first and wait for the answer.
        self->request(self->state.billing, 4s, quota_atom::value, tenant)
          .await([=](bool) { index(tenant, n); },
                 [=](caf::error& err) {
                   ctx->log("error", "catalog",
                            std::string{"quota check for "} + tenants[tenant] +
                              " failed: " + to_string(err));
                   index(tenant, n);
                 });
        return;
      }
      index(tenant, n);
    },
    [=](usage_atom, uint32_t tenant) -> uint64_t {
      return tenant < tenants.size() ? self->state.usage[tenant] : 0;
    },
  };
}

struct billing_state {
  std::array<uint64_t, tenants.size()> usage{};
  bool refreshing = false;
  uint32_t next = 0;
};

constexpr uint64_t quota = uint64_t{1} << 40;

caf::behavior billing_impl(caf::stateful_actor<billing_state>* self,
                           context_ptr ctx, caf::actor catalog) {
  self->send(self, meter_atom::value);
  return {
    [=](meter_atom) {
      auto& st = self->state;
      if (!st.refreshing) {
        st.refreshing = true;
        auto t = static_cast<uint32_t>(st.next++ % tenants.size());
        self->request(catalog, 1s, usage_atom::value, t)
          .then(
            [=](uint64_t n) {
              self->state.usage[t] = n;
              self->state.refreshing = false;
            },
            [=](caf::error& err) {
              self->state.refreshing = false;
              ctx->log("warning", "billing",
                       std::string{"usage refresh for "} + tenants[t] +
                         " failed: " + to_string(err));
            });
      }
      if (!ctx->stopping.load())
        self->delayed_send(self, 250ms, meter_atom::value);
    },
    [=](quota_atom, uint32_t tenant) -> caf::response_promise {
      auto rp = self->make_response_promise();
      if (tenant >= tenants.size()) {
        rp.deliver(false);
        return rp;
      }
      if (!ctx->is(scenario::unresponsive)) {
        rp.deliver(self->state.usage[tenant] < quota);
        return rp;
      }
      // Strict quota mode: fresh usage from the catalog, synchronously.
      self->request(catalog, 4s, usage_atom::value, tenant)
        .await(
          [=](uint64_t n) mutable {
            self->state.usage[tenant] = n;
            rp.deliver(n < quota);
          },
          [=](caf::error& err) mutable {
            ctx->log("error", "billing",
                     std::string{"usage of "} + tenants[tenant] +
                       " unavailable: " + to_string(err));
            rp.deliver(true);
          });
      return rp;
    },
  };
}

// -- helpers ------------------------------------------------------------------

const std::vector<std::string>& pipeline_kinds() {
  static const auto& xs = *new std::vector<std::string>{
    "producer", "dispatcher", "upload_worker",
    "upload_store", "catalog", "billing"};
  return xs;
}

std::string fixed(double x, int digits = 1) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

/// Restart times of one supervisor, fed by its telemetry events.
struct restart_log {
  std::string supervisor;
  std::mutex mtx;
  std::deque<int64_t> at_ns;
  std::string last_child;
  std::string last_reason;
};

} // namespace

// -- thresholds ---------------------------------------------------------------

skills::detector_thresholds demo_thresholds() {
  skills::detector_thresholds t;
  t.latency_recent_ms = 1000;
  t.latency_baseline_ms = 60'000;
  return t;
}

// -- pipeline::impl -----------------------------------------------------------

struct pipeline::impl {
  impl(caf::actor_system& s, pipeline_options o)
    : sys(s)
    , opts(std::move(o)) {}

  caf::actor_system& sys;
  pipeline_options opts;
  context_ptr ctx;
  std::vector<caf::actor> producers;
  caf::actor dispatcher, store, catalog, billing, supervisor;
  std::string restart_handler;
  std::shared_ptr<restart_log> restarts;
  std::atomic<uint8_t> injected{static_cast<uint8_t>(scenario::healthy)};
  int64_t started_ns = 0;
  // Written by `inject`, read by alert probes on the scheduler's threads.
  std::atomic<int64_t> injected_ns{0};
  std::atomic<int64_t> rss_at_inject{0};
  std::mutex check_mtx;
  int64_t store_over_since = 0;
  int64_t process_over_since = 0;
  bool stopped = false;

  std::chrono::milliseconds since_fault(int64_t now) const {
    auto inj = injected_ns.load();
    auto from = inj > 0 ? inj : started_ns;
    return std::chrono::milliseconds{(now - from) / 1'000'000};
  }

  alert make_alert(std::string name, std::string reason, json context,
                   int64_t now, std::string trigger = "threshold") {
    context["alert"] = name;
    return {std::move(name), std::move(reason), std::move(trigger),
            std::move(context), since_fault(now)};
  }

  // p99 of `stage` over the last second, or a negative value.
  double stage_p99(std::string_view stage) const {
    auto mv = opts.metrics->collect(stage_latency_metric, 1s);
    if (!mv)
      return -1;
    for (auto& s : mv->series)
      for (auto& [k, v] : s.tags)
        if (k == "stage" && v == stage && s.distribution &&
            s.distribution->count() >= 20)
          return s.distribution->quantile(0.99);
    return -1;
  }

  std::optional<alert> check_slo(std::string_view stage, double limit,
                                 int64_t& over_since, int64_t now) {
    auto p99 = stage_p99(stage);
    if (p99 <= limit) {
      over_since = 0;
      return std::nullopt;
    }
    if (over_since == 0)
      over_since = now;
    auto held = std::chrono::nanoseconds{now - over_since};
    if (held < opts.limits.slo_hold)
      return std::nullopt;
    return make_alert("stage_p99",
                      std::string{stage} + " p99 latency " + fixed(p99) +
                        " ms over the last second has been above its SLO "
                        "of " +
                        fixed(limit, 0) + " ms for " +
                        fixed(held.count() / 1e9) + " s",
                      {{"stage", stage},
                       {"p99_ms", p99},
                       {"slo_ms", limit},
                       {"held_ms", held.count() / 1'000'000}},
                      now);
  }

  std::optional<alert> check() {
    std::lock_guard<std::mutex> guard{check_mtx};
    auto now = now_ns();
    auto& lim = opts.limits;
    // Inspecting every actor also keeps the process table's busy and idle
    // times fresh: they are measured between inspections.
    uint64_t depth = 0;
    std::string deepest;
    uint64_t deepest_depth = 0;
    auto& kinds = pipeline_kinds();
    skills::process_table::global().for_each([&](const skills::actor_info& a) {
      if (std::find(kinds.begin(), kinds.end(), a.kind) == kinds.end())
        return;
      depth += a.mailbox_depth;
      if (a.mailbox_depth > deepest_depth) {
        deepest_depth = a.mailbox_depth;
        deepest = a.name;
      }
    });
    {
      std::lock_guard<std::mutex> guard{restarts->mtx};
      while (!restarts->at_ns.empty() &&
             now - restarts->at_ns.front() > 60'000'000'000)
        restarts->at_ns.pop_front();
      if (restarts->at_ns.size() >= lim.restarts_per_minute)
        return make_alert("restarts",
                          restarts->supervisor + " restarted workers " +
                            std::to_string(restarts->at_ns.size()) +
                            " times within 60 s (limit " +
                            std::to_string(lim.restarts_per_minute) + ")",
                          {{"supervisor", restarts->supervisor},
                           {"restarts", restarts->at_ns.size()},
                           {"limit", lim.restarts_per_minute}},
                          now);
    }
    auto errors =
      opts.logs->count_since("error", opts.logs->now_ns() - 1'000'000'000);
    if (errors >= lim.errors_per_second)
      return make_alert(
        "error_rate",
        "error rate " + std::to_string(errors) +
          " log lines/s is above the limit of " +
          std::to_string(lim.errors_per_second) + "/s",
        {{"errors_last_second", errors}, {"limit", lim.errors_per_second}},
        now);
    auto last = ctx->last_indexed_ns.load();
    auto stale = std::chrono::nanoseconds{now - (last > 0 ? last : started_ns)};
    if (stale >= lim.catalog_staleness)
      return make_alert("catalog_freshness",
                        "catalog indexing lag: nothing indexed for " +
                          fixed(stale.count() / 1e9) + " s (limit " +
                          fixed(lim.catalog_staleness.count() / 1e3) + " s)",
                        {{"stale_ms", stale.count() / 1'000'000},
                         {"limit_ms", lim.catalog_staleness.count()}},
                        now);
    if (int64_t rss_at_inject = this->rss_at_inject.load();
        rss_at_inject > 0) {
      auto rss = skills::proc::process().rss_bytes;
      if (rss - rss_at_inject >= lim.rss_growth_bytes)
        return make_alert(
          "rss",
          "RSS " + std::to_string(rss >> 20) + " MiB is " +
            std::to_string((rss - rss_at_inject) >> 20) +
            " MiB above its level of " + std::to_string(rss_at_inject >> 20) +
            " MiB (limit +" + std::to_string(lim.rss_growth_bytes >> 20) +
            " MiB)",
          {{"rss_bytes", rss},
           {"baseline_bytes", rss_at_inject},
           {"limit_bytes", lim.rss_growth_bytes}},
          now);
    }
    if (auto a = check_slo("store", lim.store_p99_ms, store_over_since, now))
      return a;
    if (auto a =
          check_slo("process", lim.process_p99_ms, process_over_since, now))
      return a;
    if (depth >= lim.queue_depth)
      return make_alert(
        "queue_depth",
        "upload queue depth " + std::to_string(depth) +
          " is above the limit of " + std::to_string(lim.queue_depth),
        {{"queue_depth", depth}, {"limit", lim.queue_depth}}, now);
    return std::nullopt;
  }
};

// -- pipeline -----------------------------------------------------------------

pipeline::pipeline(std::unique_ptr<impl> x)
  : impl_(std::move(x)) {}

pipeline::~pipeline() {
  stop();
}

caf::expected<std::unique_ptr<pipeline>>
pipeline::start(caf::actor_system& sys, pipeline_options opts) {
  if (opts.workers < 4)
    opts.workers = 4;
  if (!opts.logs)
    opts.logs = std::make_shared<skills::log_buffer>();
  if (!opts.metrics)
    opts.metrics = std::make_shared<telemetry::metric_registry>();
  auto def = telemetry::metric_definition::distribution(
    std::string{stage_latency_metric}, {"upload", "stage", "stop"},
    "duration_ms", {"stage"});
  def.unit = "ms";
  def.description = "Time an upload spends in a pipeline stage.";
  // Slots of 100 ms over 60 s: windows of 1 s and 60 s (demo_thresholds).
  def.window.slot_width = 100ms;
  def.window.slots = 600;
  if (auto err = opts.metrics->add(std::move(def)))
    return err;
  auto x = std::make_unique<impl>(sys, opts);
  auto& p = *x;
  p.started_ns = now_ns();
  p.ctx = std::make_shared<context>();
  auto& ctx = *p.ctx;
  ctx.logs = opts.logs;
  ctx.seed = opts.seed;
  ctx.stage_event =
    telemetry::bus::global().intern({"upload", "stage", "stop"});
  // Restarts, as the supervisor reports them on the telemetry bus.
  p.restarts = std::make_shared<restart_log>();
  p.restarts->supervisor = "upload_sup";
  p.restart_handler =
    "caflens.demo.restarts." + std::to_string(reinterpret_cast<uintptr_t>(&p));
  telemetry::bus::global().attach(
    p.restart_handler, {"caflens", "supervisor", "child_restarted"},
    [log = p.restarts](const telemetry::event_name&,
                       const telemetry::measurements&,
                       const telemetry::metadata& md, const std::any&) {
      auto* sup = md.find("supervisor");
      if (sup == nullptr || sup->as_string() != log->supervisor)
        return;
      std::lock_guard<std::mutex> guard{log->mtx};
      log->at_ns.push_back(now_ns());
      if (auto* c = md.find("child_id"))
        log->last_child = std::string{c->as_string()};
      if (auto* r = md.find("reason"))
        log->last_reason = std::string{r->as_string()};
    });
  using skills::spawn_tracked;
  // Back to front: every actor knows where it sends to.
  p.catalog =
    spawn_tracked(sys, {"catalog", "catalog", 0}, catalog_impl, p.ctx);
  p.billing = spawn_tracked(sys, {"billing", "billing", 0}, billing_impl, p.ctx,
                            p.catalog);
  caf::anon_send(p.catalog, billing_atom::value, p.billing);
  p.store = spawn_tracked(sys, {"store", "upload_store", 0}, store_impl, p.ctx,
                          p.catalog);
  ctx.store = p.store;
  p.dispatcher = spawn_tracked(sys, {"dispatcher", "dispatcher", 0},
                               dispatcher_impl, p.ctx, opts.workers);
  ctx.dispatcher = p.dispatcher;
  std::vector<supervision::child_spec> children;
  for (uint32_t i = 1; i <= opts.workers; ++i) {
    auto id = "worker-" + std::to_string(i);
    children.push_back(supervision::worker(
      id,
      [ctx = p.ctx, i, id](caf::actor_system& sys,
                           const caf::message&) -> supervision::start_result {
        return spawn_tracked(sys, {id, "upload_worker", 0}, worker_impl, ctx,
                             i);
      }));
  }
  supervision::supervisor_flags flags;
  flags.name = "upload_sup";
  flags.strategy = supervision::strategy::one_for_one;
  flags.intensity = 20;
  flags.period = std::chrono::seconds{10};
  auto sup = supervision::spawn_supervisor(sys, flags, std::move(children));
  if (!sup) {
    std::unique_ptr<pipeline> failed{new pipeline(std::move(x))};
    failed->stop();
    return std::move(sup.error());
  }
  p.supervisor = *sup;
  for (uint32_t i = 1; i <= opts.producers; ++i)
    p.producers.push_back(
      spawn_tracked(sys, {"producer-" + std::to_string(i), "producer", 0},
                    producer_impl, p.ctx, i, opts.uploads_per_second));
  ctx.log("info", "pipeline",
          "upload pipeline started: " + std::to_string(opts.producers) +
            " producers, " + std::to_string(opts.workers) + " workers");
  return std::unique_ptr<pipeline>{new pipeline(std::move(x))};
}

void pipeline::inject(scenario x) {
  auto& p = *impl_;
  std::lock_guard<std::mutex> guard{p.check_mtx};
  p.rss_at_inject = skills::proc::process().rss_bytes;
  p.injected_ns = now_ns(); // arms the probes: after the RSS baseline
  p.injected = static_cast<uint8_t>(x);
  p.ctx->fault = static_cast<uint8_t>(x);
}

scenario pipeline::injected() const noexcept {
  return static_cast<scenario>(impl_->injected.load());
}

std::optional<alert> pipeline::check() {
  return impl_->check();
}

std::vector<alert_probe> pipeline::alert_probes() {
  auto* p = impl_.get();
  auto& lim = p->opts.limits;
  // Gated on `inject`: the warm-up never alerts.
  auto armed = [p] { return p->injected_ns > 0; };
  std::vector<alert_probe> xs;
  // Counts fire at the limit: above limit - 1.
  xs.push_back({"restarts", "upload_sup.worker_restarts",
                "worker restarts of upload_sup within 60 s (limit "
                  + std::to_string(lim.restarts_per_minute) + ")",
                static_cast<double>(lim.restarts_per_minute) - 1, {},
                [p, armed]() -> std::optional<double> {
                  if (!armed())
                    return std::nullopt;
                  auto now = now_ns();
                  std::lock_guard<std::mutex> guard{p->restarts->mtx};
                  auto& at = p->restarts->at_ns;
                  while (!at.empty() && now - at.front() > 60'000'000'000)
                    at.pop_front();
                  return static_cast<double>(at.size());
                }});
  xs.push_back({"error_rate", "upload.error_lines_per_second",
                "error log lines within the last second (limit "
                  + std::to_string(lim.errors_per_second) + "/s)",
                static_cast<double>(lim.errors_per_second) - 1, {},
                [p, armed]() -> std::optional<double> {
                  if (!armed())
                    return std::nullopt;
                  auto& logs = *p->opts.logs;
                  return static_cast<double>(
                    logs.count_since("error", logs.now_ns() - 1'000'000'000));
                }});
  xs.push_back({"catalog_freshness", "catalog.indexing_lag_ms",
                "catalog indexing lag: nothing indexed for that many ms",
                static_cast<double>(lim.catalog_staleness.count()), {},
                [p, armed]() -> std::optional<double> {
                  if (!armed())
                    return std::nullopt;
                  auto last = p->ctx->last_indexed_ns.load();
                  auto from = last > 0 ? last : p->started_ns;
                  return static_cast<double>(now_ns() - from) / 1e6;
                }});
  xs.push_back({"rss", "process.rss_growth_bytes",
                "RSS growth since the fault (limit +"
                  + std::to_string(lim.rss_growth_bytes >> 20) + " MiB)",
                static_cast<double>(lim.rss_growth_bytes) - 1, {},
                [p, armed]() -> std::optional<double> {
                  if (!armed() || p->rss_at_inject <= 0)
                    return std::nullopt;
                  return static_cast<double>(skills::proc::process().rss_bytes
                                             - p->rss_at_inject);
                }});
  for (auto [stage, limit] :
       {std::pair<std::string, double>{"store", lim.store_p99_ms},
        std::pair<std::string, double>{"process", lim.process_p99_ms}})
    xs.push_back({stage + "_p99", "upload.stage.latency.p99_ms",
                  stage + " p99 latency (ms) over the last second, above its "
                          "SLO for "
                    + fixed(lim.slo_hold.count() / 1e3) + " s",
                  limit, lim.slo_hold,
                  [p, armed, stage = stage]() -> std::optional<double> {
                    auto p99 = p->stage_p99(stage);
                    if (!armed() || p99 < 0)
                      return std::nullopt;
                    return p99;
                  }});
  xs.push_back({"queue_depth", "upload.queue_depth",
                "messages waiting in the upload pipeline's mailboxes (limit "
                  + std::to_string(lim.queue_depth) + ")",
                static_cast<double>(lim.queue_depth) - 1, {},
                [p, armed]() -> std::optional<double> {
                  // Inspecting every actor keeps the process table's busy
                  // and idle times fresh: done in the warm-up too.
                  uint64_t depth = 0;
                  auto& kinds = pipeline_kinds();
                  skills::process_table::global().for_each(
                    [&](const skills::actor_info& a) {
                      if (std::find(kinds.begin(), kinds.end(), a.kind)
                          != kinds.end())
                        depth += a.mailbox_depth;
                    });
                  if (!armed())
                    return std::nullopt;
                  return static_cast<double>(depth);
                }});
  return xs;
}

alert pipeline::watch(std::chrono::milliseconds timeout,
                      std::optional<std::chrono::milliseconds> schedule_after,
                      std::chrono::milliseconds interval) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(interval);
    if (auto a = check())
      return std::move(*a);
    auto elapsed = std::chrono::steady_clock::now() - start;
    auto now = now_ns();
    if (schedule_after && elapsed >= *schedule_after)
      return impl_->make_alert("scheduled", "scheduled health check", {}, now,
                               "schedule");
    if (elapsed >= timeout)
      return impl_->make_alert("timeout",
                               "scheduled health check (no alert within " +
                                 fixed(timeout.count() / 1e3) + " s)",
                               {}, now, "schedule");
  }
}

void pipeline::stop() {
  if (!impl_ || impl_->stopped)
    return;
  auto& p = *impl_;
  p.stopped = true;
  p.ctx->stopping = true;
  p.ctx->fault = static_cast<uint8_t>(scenario::healthy);
  telemetry::bus::global().detach(p.restart_handler);
  auto down = [](const caf::actor& a) {
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  for (auto& a : p.producers)
    down(a);
  down(p.supervisor);
  down(p.dispatcher);
  down(p.store);
  down(p.catalog);
  down(p.billing);
}

caf::actor pipeline::supervisor() const {
  return impl_->supervisor;
}

std::shared_ptr<skills::log_buffer> pipeline::logs() const {
  return impl_->opts.logs;
}

std::shared_ptr<telemetry::metric_registry> pipeline::metrics() const {
  return impl_->opts.metrics;
}

json pipeline::stats() const {
  auto& c = *impl_->ctx;
  return {{"produced", c.produced.load()}, {"processed", c.processed.load()},
          {"stored", c.stored.load()},     {"indexed", c.indexed.load()},
          {"rejected", c.rejected.load()}, {"dropped", c.dropped.load()}};
}

} // namespace caflens::demo
