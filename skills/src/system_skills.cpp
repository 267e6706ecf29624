// The os, memory and scheduler skills: views from /proc and glibc.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cctype>
#include <map>
#include <set>
#include <mutex>

#include "caflens/skills/builtin.hpp"
#include "caflens/skills/proc.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/skills/tracked.hpp"

namespace caflens::skills {

namespace {

using nlohmann::json;

json process_json(const proc::process_sample& p) {
  return {{"rss_bytes", p.rss_bytes},
          {"vm_bytes", p.vm_bytes},
          {"threads", p.threads},
          {"open_fds", p.open_fds},
          {"max_fds", p.max_fds},
          {"cpu_seconds", double(p.cpu_ticks) / p.ticks_per_second},
          {"read_bytes", p.read_bytes},
          {"write_bytes", p.write_bytes},
          {"load", {p.load1, p.load5, p.load15}},
          {"cores", p.cores},
          {"mem_total_bytes", p.mem_total_bytes},
          {"mem_available_bytes", p.mem_available_bytes}};
}

// -- os -----------------------------------------------------------------------

class os_skill final : public skill {
public:
  explicit os_skill(detector_thresholds t) : t_(t) {
  }
  std::string name() const override {
    return "os";
  }
  std::vector<finding_type> finding_types() const override {
    return {
      {"fd_exhaustion", "resource_exhaustion",
       "open file descriptors near their limit"},
      {"cpu_saturated", "resource_exhaustion",
       "the process uses nearly every core"},
      {"system_memory_low", "memory_growth",
       "little system memory available"}};
  }
  std::vector<std::string> keywords() const override {
    return {"cpu", "fd", "file descriptor", "load", "disk", "socket", "handle",
            "memory", "rss", "oom", "swap", "thread", "starv", "stuck",
            "block", "hang", "freeze", "frozen"};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"rss_bytes", "bytes", "resident set size (VmRSS)"},
      {"vm_bytes", "bytes", "virtual memory size (VmSize)"},
      {"threads", "threads", "threads of the process"},
      {"open_fds", "count", "open file descriptors"},
      {"max_fds", "count", "soft limit of open file descriptors"},
      {"cpu_seconds", "s", "user+system CPU time since process start"},
      {"read_bytes", "bytes", "read from storage since process start"},
      {"write_bytes", "bytes", "written to storage since process start"},
      {"load", "", "system load averages over 1, 5 and 15 minutes"},
      {"cores", "count", "hardware threads of the machine"},
      {"mem_total_bytes", "bytes", "system memory (MemTotal)"},
      {"mem_available_bytes", "bytes",
       "system memory available for new use (MemAvailable)"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  sample_plan plan() const override {
    // CPU share needs an interval long enough for the tick counters.
    return {2, std::chrono::milliseconds{500}};
  }
  std::string title() const override {
    return "Operating system";
  }
  std::string description() const override {
    return "Process CPU, load, threads, file descriptors and memory from "
           "/proc.";
  }
  std::string system_prompt() const override {
    return "You are the OS operator of caflens. Judge CPU use, load, "
           "threads, file descriptors and system memory of this process; "
           "report numbers, not impressions.";
  }
  json collect_() override {
    auto j = process_json(proc::process());
    j["captured_at_ns"] = detail::steady_now_ns();
    return j;
  }
  std::vector<callback> callbacks() override {
    return {{"os_process",
             "os_process() — RSS, CPU, threads, fds, io, load, uptime_s",
             [](const std::vector<json>&) -> caf::expected<json> {
               auto j = process_json(proc::process());
               j["uptime_s"] = proc::uptime_seconds();
               return j;
             }}};
  }
  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>& history) override {
    std::vector<finding> out;
    auto fds = cur.value("open_fds", int64_t{0});
    auto max_fds = cur.value("max_fds", int64_t{0});
    if (max_fds > 0 && fds * 10 >= max_fds * 9)
      out.push_back({"fd_exhaustion", severity::critical,
                     "open file descriptors " + std::to_string(fds) + " of "
                       + std::to_string(max_fds),
                     {},
                     {{"open_fds", fds}, {"max_fds", max_fds}}});
    auto total = cur.value("mem_total_bytes", int64_t{0});
    auto avail = cur.value("mem_available_bytes", int64_t{0});
    if (total > 0 && avail * 20 < total)
      out.push_back({"system_memory_low", severity::critical,
                     "system memory available "
                       + std::to_string(avail / (1 << 20)) + " MiB of "
                       + std::to_string(total / (1 << 20)) + " MiB",
                     {},
                     {{"available", avail}, {"total", total}}});
    if (!history.empty()) {
      auto& prev = history.back();
      double dt = (cur.value("captured_at_ns", int64_t{0})
                   - prev.value("captured_at_ns", int64_t{0}))
                  / 1e9;
      auto cpu = cur.value("cpu_seconds", 0.0)
                 - prev.value("cpu_seconds", 0.0);
      auto cores = std::max(1, cur.value("cores", 1));
      if (dt >= 0.25 && cpu / dt >= 0.9 * cores)
        out.push_back({"cpu_saturated", severity::warning,
                       "process used " + std::to_string(int(100 * cpu / dt))
                         + " % CPU over " + std::to_string(int(dt))
                         + " s on " + std::to_string(cores) + " cores",
                       {},
                       {{"cpu_share", cpu / dt}, {"cores", cores}}});
    }
    return out;
  }

private:
  detector_thresholds t_;
};

// -- memory -------------------------------------------------------------------

/// True for a field name that reads as the size of something held
/// ("alias_cache_entries", "pendingBytes", "open_sessions") rather than a
/// counter of things done ("ticks_routed", "records", "total_sent").
bool size_like(const std::string& name) {
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = name[i];
    bool upper = std::isupper(static_cast<unsigned char>(c)) != 0;
    if (!std::isalnum(static_cast<unsigned char>(c)) || (upper && !cur.empty()
                                                         && std::islower(
                                                           static_cast<unsigned char>(
                                                             name[i - 1])))) {
      if (!cur.empty())
        words.push_back(cur);
      cur.clear();
      if (!std::isalnum(static_cast<unsigned char>(c)))
        continue;
    }
    cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!cur.empty())
    words.push_back(cur);
  static const auto& sizes = *new std::set<std::string>{
    "entries", "entry",   "size",     "sizes",    "cache",       "cached",
    "pending", "queue",   "queued",   "buffer",   "buffered",    "backlog",
    "held",    "holding", "waiting",  "bytes",    "len",         "length",
    "items",   "open",    "active",   "inflight", "outstanding", "retained",
    "stored",  "keys",    "depth",    "objects",  "nodes",       "live",
    "resident", "capacity", "used",   "alloc",    "allocated"};
  static const auto& counters = *new std::set<std::string>{
    "total",    "routed", "processed", "handled",  "received", "sent",
    "completed", "seq",   "sequence",  "offset",   "served",   "done",
    "approvals", "checks", "since",    "uptime",   "limit",    "max"};
  bool sized = false;
  for (auto& w : words) {
    if (counters.count(w) > 0)
      return false;
    if (sizes.count(w) > 0)
      sized = true;
  }
  return sized;
}

json heap_json() {
  auto mi = mallinfo2();
  double arena = static_cast<double>(mi.arena);
  return {{"arena_bytes", mi.arena},
          {"mmap_bytes", mi.hblkhd},
          {"in_use_bytes", mi.uordblks},
          {"free_bytes", mi.fordblks},
          {"releasable_bytes", mi.keepcost},
          {"fragmentation", arena > 0 ? mi.fordblks / arena : 0.0}};
}

class memory_skill final : public skill {
public:
  memory_skill(process_table& table, detector_thresholds t)
    : table_(table), t_(t) {
  }
  std::string name() const override {
    return "memory";
  }
  std::vector<finding_type> finding_types() const override {
    return {
      {"state_growth", "memory_leak",
       "an actor's state (reported bytes or its get_state view) grew at "
       "every look"},
      {"rss_growth", "memory_growth",
       "process RSS rose at every look, carried by the live heap"}};
  }
  std::vector<std::string> keywords() const override {
    return {"memory", "leak", "rss", "heap", "oom", "alloc", "bytes", "mib",
            "gib", "swap"};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"rss_bytes", "bytes", "resident set size (VmRSS)"},
      {"vm_bytes", "bytes", "virtual memory size (VmSize)"},
      {"heap", "", "glibc heap (mallinfo2)"},
      {"heap.arena_bytes", "bytes", "non-mmapped heap from the OS (arena)"},
      {"heap.mmap_bytes", "bytes", "in mmapped blocks (hblkhd)"},
      {"heap.in_use_bytes", "bytes", "allocated and in use (uordblks)"},
      {"heap.free_bytes", "bytes", "free inside the heap (fordblks)"},
      {"heap.releasable_bytes", "bytes",
       "free at the heap top, releasable (keepcost)"},
      {"heap.fragmentation", "ratio", "free_bytes / arena_bytes, 0..1"},
      {"top_state", "", "actors with the largest reported state"},
      {"top_state[].state_bytes", "bytes", "state size the actor reports"},
      {"state_views", "", "sizes of get_state views (<=16 actors)"},
      {"*[].id", "", "actor id"},
      {"*[].name", "", "actor name"},
      {"*[].kind", "", "actor kind"},
      {"state_views[].view_bytes", "bytes", "JSON text of its state view"},
      {"state_views[].sizes", "",
       "by path in the view (\"/a/b\", depth <= 2)"},
      {"state_views[].sizes.*", "",
       "entries of a list/map, or a size-like number's value"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  sample_plan plan() const override {
    // Growth over three looks tells a leak from one allocation burst.
    return {3, std::chrono::milliseconds{400}};
  }
  std::string title() const override {
    return "Memory";
  }
  std::string description() const override {
    return "RSS, glibc heap and fragmentation, growth, and the actors whose "
           "state grows.";
  }
  std::string system_prompt() const override {
    return "You are the memory operator of caflens. Decide whether memory "
           "grows, where (heap, mmap, an actor's state), and how fast; name "
           "the actors whose reported state grows and give bytes and "
           "bytes/s.";
  }
  json collect_() override {
    auto p = proc::process();
    auto now = table_.now_ns();
    json top = json::array();
    for (auto& a : table_.top(limits_.max_entries, actor_order::state_bytes))
      if (a.state_bytes > 0)
        top.push_back({{"id", a.id},
                       {"name", a.name},
                       {"kind", a.kind},
                       {"state_bytes", a.state_bytes}});
    return bound_snapshot({{"captured_at_ns", now},
                           {"rss_bytes", p.rss_bytes},
                           {"vm_bytes", p.vm_bytes},
                           {"heap", heap_json()},
                           {"top_state", top},
                           {"state_views", state_views()}},
                          limits_.max_snapshot_bytes);
  }

  // The sizes of the state views that tracked actors expose (`get_state`,
  // through their mailboxes): the JSON text and every list or map in it to
  // depth 2. A leak that no `report_state_bytes` tells shows here. Bounded:
  // 16 actors, 200 ms each, 600 ms in all; an actor that does not answer
  // is skipped (the actors skill judges stuck actors).
  json state_views() {
    json out = json::array();
    std::vector<actor_info> xs;
    table_.for_each([&](const actor_info& a) {
      if (a.exposes_state && xs.size() < 16)
        xs.push_back(a);
    });
    auto t0 = std::chrono::steady_clock::now();
    for (auto& a : xs) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds{
            600})
        break;
      auto h = caf::actor_cast<caf::actor>(a.addr);
      if (!h)
        continue;
      auto view = get_state(h->home_system(), h, std::chrono::milliseconds{
                                                   200});
      if (!view)
        continue;
      json sizes = json::object();
      auto visit = [&](auto& self, const json& x, const std::string& path,
                       const std::string& key, int depth) -> void {
        if (x.is_array() || x.is_object()) {
          if (!path.empty())
            sizes[path] = x.size();
          if (depth < 2 && sizes.size() < 32) {
            if (x.is_object())
              for (auto& [k, v] : x.items())
                self(self, v, path + "/" + k, k, depth + 1);
          }
        } else if (x.is_number() && size_like(key) && sizes.size() < 32) {
          // A number the actor names as a size ("cache_entries"), not a
          // counter ("ticks_routed").
          sizes[path] = x.get<double>();
        }
      };
      visit(visit, *view, "", "", 0);
      out.push_back({{"id", a.id},
                     {"name", a.name},
                     {"kind", a.kind},
                     {"view_bytes", view->dump().size()},
                     {"sizes", sizes}});
    }
    return out;
  }
  std::vector<callback> callbacks() override {
    std::vector<callback> cbs;
    cbs.push_back({"memory_heap",
                   "memory_heap() — glibc heap figures (mallinfo2)",
                   [](const std::vector<json>&) -> caf::expected<json> {
                     return heap_json();
                   }});
    cbs.push_back(
      {"memory_malloc_info",
       "memory_malloc_info() — glibc malloc_info XML (first 8 KiB)",
       [](const std::vector<json>&) -> caf::expected<json> {
         char* buf = nullptr;
         size_t len = 0;
         auto* f = open_memstream(&buf, &len);
         if (f == nullptr)
           return make_error(skills_errc::unavailable, "open_memstream");
         malloc_info(0, f);
         fclose(f);
         std::string text{buf, std::min<size_t>(len, 8192)};
         free(buf);
         return json(text);
       }});
    cbs.push_back(
      {"memory_top_state",
       "memory_top_state(n) — actors with the largest reported state",
       [this](const std::vector<json>& args) -> caf::expected<json> {
         size_t n = args.size() > 0 && args[0].is_number_integer()
                        && args[0].get<int64_t>() >= 0
                      ? args[0].get<size_t>()
                      : 10;
         json r = json::array();
         for (auto& a : table_.top(std::min<size_t>(n, 100),
                                   actor_order::state_bytes))
           r.push_back({{"name", a.name}, {"state_bytes", a.state_bytes}});
         return r;
       },
       std::chrono::milliseconds{0},
       {sandbox::param::integer("n", 10, 0, 200)}});
    return cbs;
  }
  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>& history) override {
    std::vector<finding> out;
    if (history.empty())
      return out;
    // Growth seen over less than the minimal window may be one fill of a
    // buffer that is released every second or so: a suspect, to be looked
    // at again when the window is long enough.
    auto suspect_growth = [&](const std::string& name, double dt) {
      auto window_ms = static_cast<int64_t>(dt * 1000);
      if (window_ms >= t_.state_growth_min_window_ms)
        return false;
      finding f;
      f.type = "suspect_state_growth";
      f.level = severity::info;
      f.actors = {name};
      f.observation = name + ": state grew at every look over "
                      + std::to_string(window_ms) + " ms (judged over "
                      + std::to_string(t_.state_growth_min_window_ms)
                      + " ms); recheck";
      f.evidence = {{"window_ms", window_ms},
                    {"recheck_ms",
                     t_.state_growth_min_window_ms - window_ms + 50}};
      out.push_back(std::move(f));
      return true;
    };
    auto& base = history.front();
    double dt = (cur.value("captured_at_ns", int64_t{0})
                 - base.value("captured_at_ns", int64_t{0}))
                / 1e9;
    if (dt <= 0)
      return out;
    // Actors whose state grew in every snapshot since the baseline.
    for (auto& a : cur.value("top_state", json::array())) {
      auto name = a.value("name", std::string{});
      auto now_bytes = a.value("state_bytes", uint64_t{0});
      uint64_t prev = 0;
      bool monotonic = true, seen = false;
      uint64_t first = 0;
      for (auto& h : history) {
        for (auto& b : h.value("top_state", json::array())) {
          if (b.value("name", std::string{}) != name)
            continue;
          auto v = b.value("state_bytes", uint64_t{0});
          if (!seen) {
            first = v;
            seen = true;
          } else if (v < prev) {
            monotonic = false;
          }
          prev = v;
        }
      }
      if (!seen || !monotonic || now_bytes <= first)
        continue;
      double rate = (double(now_bytes) - double(first)) / dt;
      if (rate < t_.state_growth_bytes_per_s)
        continue;
      if (suspect_growth(name, dt))
        continue;
      char buf[200];
      std::snprintf(buf, sizeof(buf),
                    "%s (%s) state grew from %llu to %llu bytes in %.1f s "
                    "(%.0f bytes/s) and never shrank",
                    name.c_str(), a.value("kind", std::string{}).c_str(),
                    (unsigned long long) first,
                    (unsigned long long) now_bytes, dt, rate);
      out.push_back({"state_growth", severity::warning, buf, {name},
                     {{"state_bytes", now_bytes},
                      {"baseline_bytes", first},
                      {"growth_bytes_per_s", rate},
                      {"window_s", dt}}});
    }
    // State views that grew at every look: by JSON size, or a list or map
    // in them by element count.
    for (auto& v : cur.value("state_views", json::array())) {
      auto name = v.value("name", std::string{});
      auto id = v.value("id", uint64_t{0});
      std::vector<const json*> seen;
      // Pointers into `history` itself (value() would copy).
      for (auto& h : history)
        if (auto i = h.find("state_views"); i != h.end() && i->is_array())
          for (auto& w : *i)
            if (w.is_object() && w.value("id", uint64_t{0}) == id)
              seen.push_back(&w);
      if (seen.empty())
        continue;
      seen.push_back(&v);
      auto rising = [&](auto get) {
        for (size_t i = 1; i < seen.size(); ++i)
          if (!(get(*seen[i]) > get(*seen[i - 1])))
            return false;
        return true;
      };
      auto bytes = [](const json& w) {
        return w.value("view_bytes", 0.0);
      };
      double b0 = bytes(*seen.front()), b1 = bytes(v);
      double brate = (b1 - b0) / dt;
      std::string what;
      double rate = 0, from = 0, to = 0;
      if (rising(bytes) && b1 - b0 >= 8192
          && brate >= t_.state_view_growth_bytes_per_s) {
        what = "state view";
        rate = brate;
        from = b0;
        to = b1;
      } else {
        auto sizes = v.value("sizes", json::object());
        for (auto& [path, n] : sizes.items()) {
          auto get = [&path = path](const json& w) {
            auto sz = w.value("sizes", json::object());
            return sz.contains(path) ? sz[path].get<double>() : 0.0;
          };
          double n0 = get(*seen.front()), n1 = n.get<double>();
          if (rising(get) && n1 - n0 >= 50 && n1 >= 1.1 * n0
              && (n1 - n0) / dt >= t_.state_view_growth_items_per_s) {
            what = path;
            rate = (n1 - n0) / dt;
            from = n0;
            to = n1;
            break;
          }
        }
      }
      if (what.empty() || suspect_growth(name, dt))
        continue;
      char buf[256];
      if (what == "state view")
        std::snprintf(buf, sizeof(buf),
                      "%s (%s): its state view grew from %.0f to %.0f bytes "
                      "in %.1f s (%.0f bytes/s) at every look",
                      name.c_str(), v.value("kind", std::string{}).c_str(),
                      from, to, dt, rate);
      else
        std::snprintf(buf, sizeof(buf),
                      "%s (%s): %s in its state view grew from %.0f to %.0f "
                      "entries in %.1f s (%.0f/s) at every look",
                      name.c_str(), v.value("kind", std::string{}).c_str(),
                      what.c_str(), from, to, dt, rate);
      out.push_back({"state_growth", severity::warning, buf, {name},
                     {{"source", "get_state"},
                      {"field", what},
                      {"from", from},
                      {"to", to},
                      {"growth_per_s", rate},
                      {"window_s", dt}}});
    }
    // RSS that rose at every look, by at least 2 MiB/s and 2 MiB in all,
    // and that live data explains. A process's RSS also rises when its
    // allocator touches new pages for short-lived buffers (a thread's first
    // arena, caflens' own model calls): the glibc heap in use then rises and
    // falls back while RSS keeps its high-water mark. So when the heap
    // figures are there, the live heap (in use + mmapped) must have grown by
    // half the RSS growth or more. Without them (another allocator such as
    // jemalloc or tcmalloc leaves mallinfo2 at zero) RSS alone must be
    // unambiguous: 8 MiB or more.
    auto rss = cur.value("rss_bytes", int64_t{0});
    auto rss0 = base.value("rss_bytes", int64_t{0});
    double rss_rate = (rss - rss0) / dt;
    bool rising = rss > rss0;
    auto prev_rss = rss0;
    for (size_t i = 1; i < history.size(); ++i) {
      auto r = history[i].value("rss_bytes", int64_t{0});
      if (r < prev_rss)
        rising = false;
      prev_rss = r;
    }
    if (rss < prev_rss)
      rising = false;
    auto live = [](const json& snap) {
      auto h = snap.value("heap", json::object());
      return h.value("in_use_bytes", int64_t{0})
             + h.value("mmap_bytes", int64_t{0});
    };
    auto live0 = live(base), live1 = live(cur);
    bool heap_known = live0 >= (1 << 20);
    bool explained = heap_known ? live1 - live0 >= (rss - rss0) / 2
                                : rss - rss0 >= (8 << 20);
    if (rss0 > 0 && rising && rss - rss0 >= (2 << 20)
        && rss_rate >= double(2 << 20) && explained) {
      char buf[200];
      if (heap_known)
        std::snprintf(buf, sizeof(buf),
                      "RSS grew from %lld to %lld MiB in %.1f s, the live "
                      "heap by %.1f MiB",
                      static_cast<long long>(rss0 >> 20),
                      static_cast<long long>(rss >> 20), dt,
                      (live1 - live0) / double(1 << 20));
      else
        std::snprintf(buf, sizeof(buf),
                      "RSS grew from %lld to %lld MiB in %.1f s (no glibc "
                      "heap figures: another allocator)",
                      static_cast<long long>(rss0 >> 20),
                      static_cast<long long>(rss >> 20), dt);
      out.push_back({"rss_growth", severity::warning, buf, {},
                     {{"rss_bytes", rss},
                      {"baseline_bytes", rss0},
                      {"growth_bytes_per_s", rss_rate},
                      {"live_heap_growth_bytes",
                       heap_known ? json(live1 - live0) : json(nullptr)},
                      {"window_s", dt}}});
    }
    return out;
  }

private:
  process_table& table_;
  detector_thresholds t_;
};

// -- scheduler ----------------------------------------------------------------

class scheduler_skill final : public skill {
public:
  scheduler_skill(process_table& table, detector_thresholds t)
    : table_(table), t_(t) {
  }
  std::string name() const override {
    return "scheduler";
  }
  std::vector<finding_type> finding_types() const override {
    return {
      {"scheduler_starvation", "scheduler_starvation",
       "a handler holding a scheduler thread for seconds"}};
  }
  std::vector<std::string> keywords() const override {
    return {"cpu", "scheduler", "stuck", "block", "hang", "freeze", "frozen",
            "unresponsive", "starv", "deadlock", "thread", "mailbox",
            "queue", "backlog", "throughput", "lag", "overload", "behind",
            "stall", "latency", "p9", "p5", "slow", "delay"};
  }
  std::vector<field_doc> snapshot_fields() const override {
    return {
      {"captured_at_ns", "ns", "time of this look, steady clock (not unix)"},
      {"threads", "", "every thread of the process (/proc/self/task)"},
      {"threads[].tid", "", "thread id"},
      {"threads[].name", "", "thread name (comm)"},
      {"threads[].state", "", "R running, S sleeping, D disk wait, ..."},
      {"threads[].cpu_seconds", "s", "CPU time since the thread started"},
      {"threads[].busy_share", "ratio",
       "CPU share since this skill's previous look, 0..1"},
      {"queued_messages", "messages", "waiting in all tracked mailboxes"},
      {"blocking_handlers", "",
       "non-detached actors in one handler run >=100 ms (<=10)"},
      {"blocking_handlers[].name", "", "actor name"},
      {"blocking_handlers[].busy_ms", "ms",
       "in the current run, since a look first saw it"},
      {"truncated", "", "lists were cut to fit the size limit"},
      {"error", "", "set when even cut lists did not fit"}};
  }
  std::string title() const override {
    return "Scheduler";
  }
  std::string description() const override {
    return "CAF worker threads: busy share over a window, queued messages, "
           "handlers that hold a thread for seconds.";
  }
  std::string system_prompt() const override {
    return "You are the scheduler operator of caflens. Find starved or "
           "saturated scheduler threads and the handlers that block them; "
           "give busy shares and durations.";
  }
  json collect_() override {
    auto now = table_.now_ns();
    auto ticks = sysconf(_SC_CLK_TCK);
    std::lock_guard<std::mutex> guard{mtx_};
    json threads = json::array();
    for (auto& t : proc::threads()) {
      json j{{"tid", t.tid},
             {"name", t.name},
             {"state", std::string(1, t.state)},
             {"cpu_seconds", double(t.cpu_ticks) / ticks}};
      auto i = last_.find(t.tid);
      if (i != last_.end() && now > last_at_) {
        double busy = double(t.cpu_ticks - i->second) / ticks
                      / ((now - last_at_) / 1e9);
        j["busy_share"] = std::min(1.0, busy);
      }
      threads.push_back(std::move(j));
      last_[t.tid] = t.cpu_ticks;
    }
    last_at_ = now;
    json blocking = json::array();
    table_.for_each([&](const actor_info& a) {
      if (a.in_handler && !a.detached && a.busy_since_ns > 0
          && blocking.size() < 10) {
        auto ms = (now - a.busy_since_ns) / 1'000'000;
        if (ms >= 100)
          blocking.push_back({{"name", a.name}, {"busy_ms", ms}});
      }
    });
    return bound_snapshot({{"captured_at_ns", now},
                           {"threads", threads},
                           {"queued_messages", table_.total_mailbox_depth()},
                           {"blocking_handlers", blocking}},
                          limits_.max_snapshot_bytes);
  }
  std::vector<callback> callbacks() override {
    return {{"scheduler_threads",
             "scheduler_threads() — threads with CPU seconds and state",
             [](const std::vector<json>&) -> caf::expected<json> {
               json r = json::array();
               auto ticks = sysconf(_SC_CLK_TCK);
               for (auto& t : proc::threads())
                 r.push_back({{"tid", t.tid},
                              {"name", t.name},
                              {"cpu_seconds", double(t.cpu_ticks) / ticks}});
               return r;
             }}};
  }
  std::vector<finding> detect_(const json& cur,
                              const std::vector<json>&) override {
    std::vector<finding> out;
    for (auto& b : cur.value("blocking_handlers", json::array())) {
      auto ms = b.value("busy_ms", int64_t{0});
      if (ms < t_.blocked_handler_ms)
        continue;
      auto name = b.value("name", std::string{});
      out.push_back({"scheduler_starvation", severity::critical,
                     name + " holds a scheduler thread: one handler has run "
                       + std::to_string(ms) + " ms; "
                       + std::to_string(cur.value("queued_messages", 0))
                       + " messages queued in tracked mailboxes",
                     {name},
                     {{"busy_ms", ms},
                      {"queued_messages", cur.value("queued_messages", 0)}}});
    }
    return out;
  }

private:
  process_table& table_;
  detector_thresholds t_;
  std::mutex mtx_;
  std::map<int64_t, uint64_t> last_;
  int64_t last_at_ = 0;
};

} // namespace

skill_ptr make_os_skill(detector_thresholds t) {
  return std::make_shared<os_skill>(t);
}

skill_ptr make_memory_skill(process_table& table, detector_thresholds t) {
  return std::make_shared<memory_skill>(table, t);
}

skill_ptr make_scheduler_skill(process_table& table, detector_thresholds t) {
  return std::make_shared<scheduler_skill>(table, t);
}

} // namespace caflens::skills
