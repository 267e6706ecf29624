// The dashboard's HTTP server (API.md): JSON reads over the lens, the
// store and the sandbox callbacks; a sampler keeping the chart history; the
// live stream (server-sent events) fed by the sampler and the telemetry bus.
#include "caflens/dashboard/dashboard.hpp"

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "caflens/actors/actors_errc.hpp"
#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"
#include "caflens/telemetry/error.hpp"

#include "assets.hpp"
#include "lua_literal.hpp"

namespace caflens::dashboard {

using nlohmann::json;
using detail::lua_actor;
using detail::lua_quote;

namespace {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// The error's own text when it carries one.
std::string error_text(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return render_error(err);
}

void reply_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& what) {
  reply_json(res, json{{"error", what}}, status);
}

/// The events the live stream forwards: what an on-call person watches.
bool forwarded(const telemetry::event_name& e) {
  auto& s = e.segments();
  if (s.size() < 2 || s[0] != "caflens")
    return false;
  static const auto& areas = *new std::vector<std::string>{
    "investigation", "coordinator", "operator", "supervisor", "alert",
    "node",          "action",      "anomaly",  "experiment"};
  return std::find(areas.begin(), areas.end(), s[1]) != areas.end();
}

/// One live stream's queue (bounded: a slow browser loses the oldest).
struct sse_client {
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool closed = false;
  static constexpr size_t capacity = 2000;
};

} // namespace

struct server::impl {
  caflens::lens lens;
  options opts;
  std::string self_node;
  httplib::Server http;
  int port = 0;
  std::thread listener, sampler, investigator;
  std::string handler_id;

  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  // Chart history: node -> series name -> (unix ms, value), bounded.
  std::map<std::string, std::map<std::string, std::deque<std::pair<int64_t, double>>>>
    series;
  std::map<std::string, json> last_sample;
  // node -> (unix ms, cpu seconds, processed) of the previous sample.
  std::map<std::string, std::tuple<int64_t, double, double>> prev;
  // node -> actor id -> (unix ms, processed) for the actors page's rates.
  std::map<std::string, std::map<uint64_t, std::pair<int64_t, uint64_t>>>
    actor_prev;
  std::deque<json> fired;
  std::vector<std::shared_ptr<sse_client>> clients;
  std::atomic<bool> investigating{false};

  // -- plumbing ---------------------------------------------------------------

  /// Every answer leaves the process: it passes the lens's redactor.
  void send(httplib::Response& res, const json& j, int status = 200) {
    reply_json(res, lens.redact(j), status);
  }

  void fail(httplib::Response& res, int status, const std::string& what) {
    reply_error(res, status, lens.redact(what));
  }

  bool stopped() {
    std::lock_guard<std::mutex> guard{mtx};
    return stopping;
  }

  void broadcast(const std::string& event, const json& data) {
    // Events carry application text (exit reasons, alert details): they
    // leave the process, so they pass the lens's redactor.
    std::string frame = "event: " + event + "\ndata: "
                        + lens.redact(data).dump(-1, ' ', false,
                                                 json::error_handler_t::replace)
                        + "\n\n";
    std::vector<std::shared_ptr<sse_client>> xs;
    {
      std::lock_guard<std::mutex> guard{mtx};
      xs = clients;
    }
    for (auto& c : xs) {
      std::lock_guard<std::mutex> guard{c->mtx};
      if (c->queue.size() >= sse_client::capacity)
        c->queue.pop_front();
      c->queue.push_back(frame);
      c->cv.notify_one();
    }
  }

  std::string node_of(const httplib::Request& req) const {
    auto n = req.get_param_value("node");
    if (!n.empty())
      return n;
    return opts.node.empty() ? self_node : opts.node;
  }

  caf::expected<json> lua(const std::string& node, const std::string& code) {
    auto r = lens.execute(node, code);
    if (!r)
      return std::move(r.error());
    return r->value;
  }

  bool authorized(const httplib::Request& req) const {
    if (opts.token.empty())
      return true;
    auto auth = req.get_header_value("Authorization");
    static constexpr std::string_view bearer = "Bearer ";
    if (auth.size() > bearer.size() && auth.compare(0, bearer.size(), bearer) == 0
        && caflens::constant_time_equal(std::string_view{auth}.substr(
                                         bearer.size()),
                                       opts.token))
      return true;
    auto cookies = req.get_header_value("Cookie");
    std::istringstream in{cookies};
    std::string part;
    while (std::getline(in, part, ';')) {
      auto b = part.find_first_not_of(' ');
      if (b == std::string::npos)
        continue;
      part = part.substr(b);
      static constexpr std::string_view name = "caflens_token=";
      if (part.compare(0, name.size(), name) == 0
          && caflens::constant_time_equal(std::string_view{part}.substr(
                                           name.size()),
                                         opts.token))
        return true;
    }
    return false;
  }

  // -- sampling ---------------------------------------------------------------

  std::vector<std::string> nodes() const {
    std::vector<std::string> xs{self_node};
    for (auto& n : lens.cluster())
      if (n.state == node_state::connected && !n.name.empty()
          && n.name != self_node)
        xs.push_back(n.name);
    return xs;
  }

  void push_point(const std::string& node, const std::string& name,
                  int64_t at, double v) {
    auto& d = series[node][name];
    d.emplace_back(at, v);
    while (d.size() > opts.history_points)
      d.pop_front();
  }

  void sample_node(const std::string& node) {
    auto v = lua(node, "return {os = os_process(), actors = actors_totals(), "
                       "metrics = metrics_list()}");
    if (!v || !v->is_object())
      return;
    auto at = unix_ms();
    auto os = v->value("os", json::object());
    auto actors = v->value("actors", json::object());
    double cpu_s = os.value("cpu_seconds", 0.0);
    double processed = actors.value("processed", 0.0);
    json s{{"node", node},
           {"at", at},
           {"uptime_s", os.value("uptime_s", 0.0)},
           {"rss_bytes", os.value("rss_bytes", int64_t{0})},
           {"threads", os.value("threads", int64_t{0})},
           {"cores", os.value("cores", 0)},
           {"actor_count", actors.value("count", int64_t{0})},
           {"mailbox_depth", actors.value("mailbox_depth", int64_t{0})},
           {"cpu_percent", nullptr},
           {"messages_per_s", nullptr}};
    std::lock_guard<std::mutex> guard{mtx};
    if (auto i = prev.find(node); i != prev.end()) {
      auto [t0, c0, p0] = i->second;
      double dt = (at - t0) / 1000.0;
      if (dt > 0) {
        s["cpu_percent"] = std::max(0.0, (cpu_s - c0) / dt * 100.0);
        // Actors that died take their counts along: never below zero.
        s["messages_per_s"] = std::max(0.0, (processed - p0) / dt);
      }
    }
    prev[node] = {at, cpu_s, processed};
    for (auto key : {"rss_bytes", "actor_count", "mailbox_depth",
                     "cpu_percent", "messages_per_s"})
      if (s[key].is_number())
        push_point(node, key, at, s[key].get<double>());
    for (auto& m : v->value("metrics", json::array())) {
      std::string name = m.value("metric", std::string{}) + "{";
      bool first = true;
      auto tags = m.value("tags", json::object());
      for (auto& [k, tv] : tags.items()) {
        name += (first ? "" : ",") + k + "="
                + (tv.is_string() ? tv.get<std::string>() : tv.dump());
        first = false;
      }
      name += "}";
      if (auto r = m.find("recent"); r != m.end() && r->is_object()) {
        if (r->value("count", 0) == 0)
          continue;
        for (auto q : {"p50", "p95", "p99"})
          push_point(node, name + ":" + q, at, r->value(q, 0.0));
      } else if (auto x = m.find("value"); x != m.end() && x->is_number()) {
        push_point(node, name, at, x->get<double>());
      }
    }
    last_sample[node] = s;
  }

  void sample_loop() {
    for (;;) {
      for (auto& n : nodes()) {
        sample_node(n);
        json s;
        {
          std::lock_guard<std::mutex> guard{mtx};
          if (auto i = last_sample.find(n); i != last_sample.end())
            s = i->second;
        }
        if (!s.is_null())
          broadcast("sample", s);
      }
      std::unique_lock<std::mutex> guard{mtx};
      if (cv.wait_for(guard, opts.sample_interval, [this] { return stopping; }))
        return;
    }
  }

  // -- routes -----------------------------------------------------------------

  void serve_asset(httplib::Response& res, const std::string& file,
                   const char* type) {
    if (!opts.web_dir.empty()) {
      std::ifstream in{opts.web_dir + "/" + file, std::ios::binary};
      if (in) {
        std::ostringstream buf;
        buf << in.rdbuf();
        res.set_content(buf.str(), type);
        return;
      }
    }
    auto a = asset(file);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(a.data(), a.size(), type);
  }

  void overview(const httplib::Request& req, httplib::Response& res) {
    auto node = node_of(req);
    json s;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (auto i = last_sample.find(node); i != last_sample.end())
        s = i->second;
    }
    if (s.is_null()) {
      sample_node(node);
      std::lock_guard<std::mutex> guard{mtx};
      if (auto i = last_sample.find(node); i != last_sample.end())
        s = i->second;
    }
    if (s.is_null())
      return fail(res, 502, "node '" + node + "' gave no sample");
    auto status = json::parse(lens.status(), nullptr, false);
    s["version"] = CAFLENS_VERSION;
    s["investigating"] = status.is_object()
                         && !status.value("running", json{}).is_null()
                         && !status.value("running", json{}).empty();
    store::query one;
    one.limit = 1;
    s["store"] = static_cast<bool>(lens.history(one));
    s["nodes"] = nodes().size();
    send(res, s);
  }

  void nodes_route(httplib::Response& res) {
    json xs = json::array();
    xs.push_back({{"name", self_node},
                  {"address", ""},
                  {"state", "self"},
                  {"version", CAFLENS_VERSION},
                  {"skills", lens.skill_names()},
                  {"last_seen_ms", unix_ms()},
                  {"reason", ""}});
    for (auto& n : lens.cluster())
      xs.push_back({{"name", n.name},
                    {"address", n.address},
                    {"state", std::string{to_string(n.state)}},
                    {"version", n.version},
                    {"skills", n.skills},
                    {"last_seen_ms", n.last_heartbeat},
                    {"reason", n.error}});
    send(res, {{"self", self_node},
                     {"default", opts.node.empty() ? self_node : opts.node},
                     {"nodes", xs}});
  }

  void actors(const httplib::Request& req, httplib::Response& res) {
    auto node = node_of(req);
    auto v = lua(node, "return actors_top(1000, 'processed')");
    if (!v)
      return fail(res, 502, error_text(v.error()));
    json xs = v->is_array() ? *v : json::array();
    auto at = unix_ms();
    std::lock_guard<std::mutex> guard{mtx};
    auto& before = actor_prev[node];
    std::map<uint64_t, std::pair<int64_t, uint64_t>> now;
    for (auto& a : xs) {
      auto id = a.value("id", uint64_t{0});
      auto processed = a.value("processed", uint64_t{0});
      a["processed_per_s"] = nullptr;
      if (auto i = before.find(id); i != before.end() && at > i->second.first
                                    && processed >= i->second.second)
        a["processed_per_s"] = (processed - i->second.second) * 1000.0
                               / (at - i->second.first);
      now[id] = {at, processed};
    }
    before = std::move(now);
    send(res, {{"node", node}, {"actors", xs}});
  }

  void actor_detail(const httplib::Request& req, httplib::Response& res) {
    auto node = node_of(req);
    auto who = lua_actor(req.matches[1]);
    auto info = lua(node, "return actor_info(" + who + ")");
    if (!info) {
      auto text = error_text(info.error());
      return fail(res,
                         text.find("no tracked actor") != std::string::npos
                             || text.find("not found") != std::string::npos
                           ? 404
                           : 502,
                         text);
    }
    json out{{"info", *info}, {"state", nullptr}, {"state_error", nullptr}};
    if (auto st = lua(node, "return actor_state(" + who + ")"))
      out["state"] = *st;
    else
      out["state_error"] = error_text(st.error());
    send(res, out);
  }

  void supervision(const httplib::Request& req, httplib::Response& res) {
    auto v = lua(node_of(req), "return supervision_status()");
    if (!v)
      return fail(res, 502, error_text(v.error()));
    if (!v->is_object())
      *v = json::object();
    if (!v->contains("trees") || !(*v)["trees"].is_array())
      (*v)["trees"] = json::array();
    send(res, *v);
  }

  void metrics(const httplib::Request& req, httplib::Response& res) {
    auto v = lua(node_of(req), "return metrics_list()");
    if (!v)
      return fail(res, 502, error_text(v.error()));
    send(res, {{"metrics", v->is_array() ? *v : json::array()}});
  }

  void series_route(const httplib::Request& req, httplib::Response& res) {
    auto node = node_of(req);
    json out = json::object();
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (auto i = series.find(node); i != series.end())
        for (auto& [name, points] : i->second) {
          json ps = json::array();
          for (auto& [t, v] : points)
            ps.push_back({t, v});
          out[name] = std::move(ps);
        }
    }
    send(res, {{"interval_ms", opts.sample_interval.count()},
                     {"capacity", opts.history_points},
                     {"series", out}});
  }

  void logs(const httplib::Request& req, httplib::Response& res) {
    auto q = req.get_param_value("q");
    auto level = req.get_param_value("level");
    auto code = q.empty() ? "return logs_recent(200, " + lua_quote(level) + ")"
                          : "return logs_search(" + lua_quote(q) + ", 200)";
    auto v = lua(node_of(req), code);
    if (!v)
      return fail(res, 502, error_text(v.error()));
    json lines = json::array();
    if (v->is_array())
      for (auto& l : *v)
        if (level.empty() || l.value("level", std::string{}) == level)
          lines.push_back(l);
    send(res, {{"lines", lines}});
  }

  void investigations(const httplib::Request& req, httplib::Response& res) {
    store::query q;
    if (auto p = req.get_param_value("pattern"); !p.empty())
      q.pattern = p;
    if (auto c = req.get_param_value("culprit"); !c.empty())
      q.culprit = c;
    if (auto l = req.get_param_value("limit"); !l.empty())
      q.limit = std::clamp<size_t>(std::strtoul(l.c_str(), nullptr, 10), 1,
                                   1000);
    json running = json::parse(lens.status(), nullptr, false);
    if (running.is_discarded())
      running = nullptr;
    json rows = json::array();
    auto h = lens.history(q);
    if (h)
      for (auto& r : *h)
        rows.push_back(store::to_json(r));
    send(res, {{"store", static_cast<bool>(h)},
                     {"running", running},
                     {"investigations", rows}});
  }

  void investigation(const httplib::Request& req, httplib::Response& res) {
    auto d = lens.stored(req.matches[1]);
    if (!d) {
      auto status = d.error() == actors_errc::unavailable ? 503 : 404;
      return fail(res, status, error_text(d.error()));
    }
    send(res, {{"row", store::to_json(d->row)},
                     {"result", d->result},
                     {"snapshots", d->snapshots},
                     {"timeline", d->timeline}});
  }

  void start_investigation(const httplib::Request& req,
                           httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    std::string reason = body.is_object() ? body.value("reason", "") : "";
    if (reason.empty())
      return fail(res, 400, "give a reason: {\"reason\": \"...\"}");
    if (investigating.exchange(true))
      return fail(res, 409,
                         "an investigation started here is still running");
    // The previous thread has cleared `investigating` but may still be
    // broadcasting its result, which takes `mtx`: join it outside the lock.
    std::thread previous;
    {
      std::lock_guard<std::mutex> guard{mtx};
      previous = std::move(investigator);
    }
    if (previous.joinable())
      previous.join();
    std::lock_guard<std::mutex> guard{mtx};
    if (stopping) {
      investigating = false;
      return fail(res, 503, "the dashboard is stopping");
    }
    investigator = std::thread{[this, reason] {
      investigate_options o;
      o.trigger = "manual";
      auto r = lens.investigate(reason, o);
      json ev;
      if (r) {
        // The store writes behind the coordinator: the event goes out once
        // the detail page can read it (or after 5 s without a store).
        for (int i = 0; i < 100 && !stopped(); ++i) {
          auto d = lens.stored(r->trace_id);
          if (d || d.error() == actors_errc::unavailable)
            break;
          std::this_thread::sleep_for(std::chrono::milliseconds{50});
        }
        ev = {{"trace_id", r->trace_id}, {"summary", r->summary},
              {"pattern", ""},           {"culprit", ""}};
        if (!r->insights.empty()) {
          auto& top = r->insights.front();
          ev["pattern"] = top.pattern;
          if (!top.culprits.empty())
            ev["culprit"] = top.culprits.front();
        }
      } else {
        ev = {{"error", error_text(r.error())}};
      }
      investigating = false;
      broadcast("investigation", ev);
    }};
    send(res, {{"started", true}}, 202);
  }

  void alerts(httplib::Response& res) {
    json rules = json::array();
    for (auto& r : lens.settings().alerts.rules)
      rules.push_back({{"name", r.name},
                       {"metric", r.metric},
                       {"condition", r.below ? "below" : "above"},
                       {"threshold", r.threshold},
                       {"occurrences", r.occurrences},
                       {"for_ms", (r.occurrences > 0 ? r.occurrences - 1 : 0)
                                    * lens.settings().alerts.interval.count()},
                       {"severity", r.severity},
                       {"description", r.description}});
    json xs = json::array();
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto i = fired.rbegin(); i != fired.rend(); ++i)
        xs.push_back(*i);
    }
    send(res, {{"rules", rules}, {"fired", xs}});
  }

  void events(const httplib::Request&, httplib::Response& res) {
    auto c = std::make_shared<sse_client>();
    {
      std::lock_guard<std::mutex> guard{mtx};
      clients.push_back(c);
    }
    // Ask the browser to reconnect after 2 s if the stream breaks.
    c->queue.push_back("retry: 2000\n\n");
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
      "text/event-stream",
      [this, c](size_t, httplib::DataSink& sink) {
        std::deque<std::string> out;
        {
          std::unique_lock<std::mutex> guard{c->mtx};
          c->cv.wait_for(guard, std::chrono::seconds{15},
                         [&] { return c->closed || !c->queue.empty(); });
          if (c->closed)
            return false;
          out.swap(c->queue);
        }
        if (out.empty())
          out.push_back(": keep-alive\n\n");
        for (auto& frame : out)
          if (!sink.write(frame.data(), frame.size()))
            return false;
        return true;
      },
      [this, c](bool) {
        std::lock_guard<std::mutex> guard{mtx};
        clients.erase(std::remove(clients.begin(), clients.end(), c),
                      clients.end());
      });
  }

  void routes() {
    http.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (opts.token.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        // `/?token=` trades the token for a cookie.
        if (req.path == "/" && req.has_param("token")) {
          if (caflens::constant_time_equal(req.get_param_value("token"),
                                          opts.token)) {
            res.set_header("Set-Cookie", "caflens_token=" + opts.token
                                           + "; HttpOnly; SameSite=Strict; "
                                             "Path=/");
            res.set_redirect("/");
          } else {
            fail(res, 401, "wrong token");
          }
          return httplib::Server::HandlerResponse::Handled;
        }
        if (authorized(req))
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("WWW-Authenticate", "Bearer");
        fail(res, 401,
                    "this dashboard needs its token (Authorization: Bearer, "
                    "or open /?token=...)");
        return httplib::Server::HandlerResponse::Handled;
      });
    http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      serve_asset(res, "index.html", "text/html; charset=utf-8");
    });
    http.Get("/app.js", [this](const httplib::Request&, httplib::Response& res) {
      serve_asset(res, "app.js", "text/javascript; charset=utf-8");
    });
    http.Get("/app.css",
             [this](const httplib::Request&, httplib::Response& res) {
               serve_asset(res, "app.css", "text/css; charset=utf-8");
             });
    http.Get("/chart.js",
             [this](const httplib::Request&, httplib::Response& res) {
               serve_asset(res, "chart.js", "text/javascript; charset=utf-8");
             });
    auto get = [this](const std::string& path, auto fn) {
      http.Get(path, [this, fn](const httplib::Request& req,
                                httplib::Response& res) {
        try {
          fn(req, res);
        } catch (const std::exception& e) {
          fail(res, 500, e.what());
        }
      });
    };
    get("/api/overview", [this](auto& req, auto& res) { overview(req, res); });
    get("/api/nodes", [this](auto&, auto& res) { nodes_route(res); });
    get("/api/actors", [this](auto& req, auto& res) { actors(req, res); });
    get(R"(/api/actors/([^/]+))",
        [this](auto& req, auto& res) { actor_detail(req, res); });
    get("/api/supervision",
        [this](auto& req, auto& res) { supervision(req, res); });
    get("/api/metrics", [this](auto& req, auto& res) { metrics(req, res); });
    get("/api/series", [this](auto& req, auto& res) { series_route(req, res); });
    get("/api/logs", [this](auto& req, auto& res) { logs(req, res); });
    get("/api/alerts", [this](auto&, auto& res) { alerts(res); });
    get("/api/investigations",
        [this](auto& req, auto& res) { investigations(req, res); });
    get(R"(/api/investigations/([0-9a-zA-Z_-]+))",
        [this](auto& req, auto& res) { investigation(req, res); });
    get("/api/events", [this](auto& req, auto& res) { events(req, res); });
    http.Post("/api/investigations",
              [this](const httplib::Request& req, httplib::Response& res) {
                try {
                  start_investigation(req, res);
                } catch (const std::exception& e) {
                  fail(res, 500, e.what());
                }
              });
    http.set_error_handler(
      [](const httplib::Request& req, httplib::Response& res) {
        if (res.body.empty())
          reply_error(res, res.status,
                      "no such resource: " + req.method + " " + req.path);
      });
  }

  void attach_bus() {
    handler_id = "caflens.dashboard." + std::to_string(
                   reinterpret_cast<uintptr_t>(this));
    std::vector<telemetry::event_name> names;
    for (auto& e : telemetry::catalogue())
      if (forwarded(e.name))
        names.push_back(e.name);
    (void) telemetry::bus::global().attach_many(
      handler_id, names,
      [this](const telemetry::event_name& e, const telemetry::measurements& m,
             const telemetry::metadata& md, const std::any&) {
        json ev{{"event", e.str()},
                {"at", unix_ms()},
                {"measurements", m.to_json()},
                {"metadata", md.to_json()}};
        if (e.str() == "caflens.alert.fired") {
          auto mj = m.to_json();
          auto mdj = md.to_json();
          json a{{"at", ev["at"]},
                 {"name", mdj.value("alert", std::string{})},
                 {"metric", mdj.value("metric", std::string{})},
                 {"severity", mdj.value("severity", std::string{})},
                 {"value", mj.value("value", json{})},
                 {"threshold", mj.value("threshold", json{})}};
          std::lock_guard<std::mutex> guard{mtx};
          fired.push_back(std::move(a));
          while (fired.size() > 200)
            fired.pop_front();
        }
        broadcast("telemetry", ev);
      });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping)
        return;
      stopping = true;
    }
    cv.notify_all();
    (void) telemetry::bus::global().detach(handler_id);
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& c : clients) {
        std::lock_guard<std::mutex> cg{c->mtx};
        c->closed = true;
        c->cv.notify_all();
      }
    }
    http.stop();
    if (listener.joinable())
      listener.join();
    if (sampler.joinable())
      sampler.join();
    if (investigating)
      lens.cancel();
    if (investigator.joinable())
      investigator.join();
  }
};

// -- options ------------------------------------------------------------------

bool is_loopback(const std::string& host) noexcept {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

caf::error parse_listen(const std::string& text, options& opts) {
  auto bad = [&] {
    return make_error(actors_errc::invalid_config,
                      "dashboard listen address '" + text
                        + "': expected HOST:PORT, :PORT or PORT");
  };
  auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
  if (port.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(),
                      [](unsigned char c) { return std::isdigit(c); }))
    return bad();
  auto p = std::stoul(port);
  if (p > 65535)
    return bad();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  opts.host = host.empty() ? "127.0.0.1" : host;
  opts.port = static_cast<uint16_t>(p);
  return {};
}

// -- server -------------------------------------------------------------------

server::server() noexcept = default;
server::server(server&&) noexcept = default;
server& server::operator=(server&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

server::~server() {
  stop();
}

caf::expected<server> server::start(caflens::lens lens, options opts) {
  if (!lens)
    return make_error(actors_errc::unavailable,
                      "dashboard: the lens is not running");
  if (!is_loopback(opts.host) && opts.token.empty())
    return make_error(actors_errc::invalid_config,
                      "dashboard: binding " + opts.host
                        + " (not loopback) needs a token");
  if (opts.sample_interval < std::chrono::milliseconds{100})
    return make_error(actors_errc::invalid_config,
                      "dashboard: sample interval below 100 ms");
  if (opts.history_points < 10)
    return make_error(actors_errc::invalid_config,
                      "dashboard: fewer than 10 history points");
  auto p = std::make_unique<impl>();
  p->lens = std::move(lens);
  p->opts = std::move(opts);
  p->self_node = p->lens.node();
  auto* raw = p.get();
  // Live streams hold a worker each: room for a dozen browsers.
  raw->http.new_task_queue = [] { return new httplib::ThreadPool(16); };
  raw->http.set_keep_alive_max_count(100);
  raw->routes();
  if (raw->opts.port == 0) {
    raw->port = raw->http.bind_to_any_port(raw->opts.host.c_str());
  } else if (raw->http.bind_to_port(raw->opts.host.c_str(), raw->opts.port)) {
    raw->port = raw->opts.port;
  } else {
    raw->port = -1;
  }
  if (raw->port <= 0)
    return make_error(sinks::sinks_errc::network_error,
                      "dashboard: cannot listen on " + raw->opts.host + ":"
                        + std::to_string(raw->opts.port)
                        + " (address in use or invalid)");
  raw->attach_bus();
  raw->listener = std::thread{[raw] { raw->http.listen_after_bind(); }};
  raw->sampler = std::thread{[raw] { raw->sample_loop(); }};
  server s;
  s.impl_ = std::move(p);
  return s;
}

uint16_t server::port() const noexcept {
  return impl_ ? static_cast<uint16_t>(impl_->port) : 0;
}

std::string server::url() const {
  if (!impl_)
    return {};
  auto host = impl_->opts.host;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

void server::stop() {
  if (impl_)
    impl_->stop();
}

} // namespace caflens::dashboard
