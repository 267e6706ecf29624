#define CAF_SUITE actors.telemetry_out
// Telemetry out from a running lens: sinks and exporters configured in code
// and in [caflens] run under telemetry_sup; an investigation's events reach
// the files and its metrics the Prometheus endpoint.

#include <atomic>
#include <filesystem>
#include <iterator>
#include <map>
#include <algorithm>

#include <fcntl.h>
#include <unistd.h>
#include <future>
#include <mutex>
#include <thread>
#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/caflens.hpp"
#include "caflens/sinks/file_sink.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct fixture {
  fs::path dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    ::setenv("CAFLENS_BRAIN", "rule", 1);
    char tmpl[] = "/tmp/caflens-telout-XXXXXX";
    dir = ::mkdtemp(tmpl);
    add_config_options(cfg);
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
  }

  ~fixture() {
    sys.reset();
    ::unsetenv("CAFLENS_BRAIN");
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  caf::actor_system& system() {
    if (!sys)
      sys = std::make_unique<caf::actor_system>(cfg);
    return *sys;
  }

  config lens_config() {
    config c;
    c.builtin_skills = false;
    c.skills = {skills::make_actors_skill(skills::process_table::global(),
                                          c.thresholds)};
    return c;
  }

  std::vector<nlohmann::json> jsonl(const fs::path& p) {
    std::ifstream in{p};
    std::vector<nlohmann::json> xs;
    for (std::string line; std::getline(in, line);)
      xs.push_back(nlohmann::json::parse(line));
    return xs;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(telemetry_out_tests, fixture)

CAF_TEST(an investigation reaches the files and the metrics endpoint) {
  // From [caflens]: a CSV file and the Prometheus endpoint; from code: a
  // JSONL file of the investigation events only.
  cfg.set("caflens.csv-file", (dir / "events.csv").string());
  cfg.set("caflens.prometheus-listen", "127.0.0.1:0");
  auto c = lens_config();
  sinks::sink_options so;
  so.name = "investigations";
  so.events = {telemetry::event_name{"caflens", "investigation", "start"},
               telemetry::event_name{"caflens", "investigation", "stop"}};
  sinks::file_sink_options fo;
  fo.path = (dir / "investigations.jsonl").string();
  c.telemetry.sinks.push_back(sinks::file_sink_factory(so, fo));
  auto lens = caflens::start(system(), std::move(c));
  CAF_REQUIRE(lens);
  auto port = lens->prometheus_port();
  CAF_REQUIRE_NOT_EQUAL(port, 0);
  auto res = lens->investigate("scheduled health check", {}, 30s);
  CAF_REQUIRE(res);
  // The metrics are updated before the result is delivered.
  httplib::Client cli{"127.0.0.1", port};
  auto scrape = cli.Get("/metrics");
  CAF_REQUIRE(scrape);
  CAF_CHECK_EQUAL(scrape->status, 200);
  auto& body = scrape->body;
  CAF_MESSAGE("metrics:\n" << body);
  CAF_CHECK(body.find("caflens_investigations_total{partial=\"false\"} 1\n")
            != std::string::npos);
  CAF_CHECK(body.find("caflens_investigation_duration_ns_count 1\n")
            != std::string::npos);
  CAF_CHECK(body.find("# TYPE caflens_sink_dropped_total counter")
            != std::string::npos);
  // Flushing writes and syncs what the sinks hold.
  CAF_REQUIRE(!lens->flush_telemetry());
  auto inv = jsonl(dir / "investigations.jsonl");
  CAF_REQUIRE_EQUAL(inv.size(), 2u);
  CAF_CHECK_EQUAL(inv[0]["event"], "caflens.investigation.start");
  CAF_CHECK_EQUAL(inv[1]["event"], "caflens.investigation.stop");
  CAF_CHECK_EQUAL(inv[1]["metadata"]["trace_id"], res->trace_id);
  std::ifstream csv{dir / "events.csv"};
  std::string header;
  std::getline(csv, header);
  CAF_CHECK_EQUAL(header, "time,time_ns,event,level,measurements,metadata");
  size_t lines = 0;
  bool has_stop = false;
  for (std::string line; std::getline(csv, line); ++lines)
    has_stop |= line.find(",caflens.investigation.stop,") != std::string::npos;
  CAF_CHECK_GREATER(lines, 5u); // operators, tools, the coordinator...
  CAF_CHECK(has_stop);
  lens->stop();
}

CAF_TEST(investigations are stored and read back) {
  cfg.set("caflens.store", (dir / "caflens.db").string());
  auto lens = caflens::start(system(), lens_config());
  CAF_REQUIRE(lens);
  CAF_CHECK(lens->history()->empty());
  auto first = lens->investigate("scheduled health check", {}, 30s);
  CAF_REQUIRE(first);
  auto second = lens->investigate("queue depth over 1000", {}, 30s);
  CAF_REQUIRE(second);
  CAF_REQUIRE(!lens->flush_telemetry());
  auto rows = lens->history();
  CAF_REQUIRE(rows);
  CAF_REQUIRE_EQUAL(rows->size(), 2u);
  CAF_CHECK_EQUAL((*rows)[0].trace_id, second->trace_id); // newest first
  CAF_CHECK_EQUAL((*rows)[0].reason, "queue depth over 1000");
  CAF_CHECK_EQUAL((*rows)[1].trace_id, first->trace_id);
  CAF_CHECK_EQUAL((*rows)[1].brain, "rule");
  auto detail = lens->stored(first->trace_id);
  CAF_REQUIRE(detail);
  // The stored result is the result the caller got.
  auto back = investigation_result_from_json(detail->result);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->trace_id, first->trace_id);
  CAF_CHECK_EQUAL(back->operators.size(), first->operators.size());
  CAF_CHECK_EQUAL(back->notifications.size(), first->notifications.size());
  // The operator's snapshot and the timeline of its tool calls.
  CAF_CHECK(!detail->snapshots.empty());
  CAF_CHECK_EQUAL(detail->snapshots.at(0)["skill"], "actors");
  bool tool_call = false, started = false;
  for (auto& e : detail->timeline) {
    tool_call |= e["event"] == "caflens.tool.stop";
    started |= e["event"] == "caflens.investigation.start";
    CAF_CHECK_EQUAL(e["metadata"]["trace_id"], first->trace_id);
  }
  CAF_CHECK(tool_call);
  CAF_CHECK(started);
  // The calls the rule brain made, per loop (decisions are kept by
  // default); it talks to no model, so there is no exchange.
  CAF_CHECK(detail->llm_exchanges.empty());
  std::map<std::string, std::vector<std::string>> calls;
  for (auto& x : detail->decisions) {
    CAF_CHECK_EQUAL(x["brain"], "rule");
    calls[x["loop"].get<std::string>()].push_back(x["call"]["name"]);
  }
  CAF_CHECK_EQUAL(calls.size(), 2u);
  CAF_REQUIRE(!calls["coordinator"].empty());
  CAF_CHECK_EQUAL(calls["coordinator"].front(), "invoke_operators");
  CAF_CHECK_EQUAL(calls["coordinator"].back(), "done");
  CAF_REQUIRE(!calls["operator:actors"].empty());
  CAF_CHECK_EQUAL(calls["operator:actors"].front(), "take_snapshot");
  CAF_CHECK_EQUAL(calls["operator:actors"].back(), "done");
  // Each snapshot the operator stored was taken by one of its calls.
  auto snaps = std::count(calls["operator:actors"].begin(),
                          calls["operator:actors"].end(), "take_snapshot");
  CAF_CHECK_EQUAL(static_cast<size_t>(snaps), detail->snapshots.size());
  CAF_CHECK(!lens->stored("no-such-trace"));
  lens->stop();
}

CAF_TEST(what the store keeps of the brains is configured in caflens) {
  cfg.set("caflens.store", (dir / "quiet.db").string());
  cfg.set("caflens.store-llm-exchanges", "none");
  auto lens = caflens::start(system(), lens_config());
  CAF_REQUIRE(lens);
  CAF_CHECK_EQUAL(lens->settings().store->llm_exchanges,
                  store::llm_exchanges_mode::none);
  auto res = lens->investigate("scheduled health check", {}, 30s);
  CAF_REQUIRE(res);
  CAF_REQUIRE(!lens->flush_telemetry());
  auto detail = lens->stored(res->trace_id);
  CAF_REQUIRE(detail);
  CAF_CHECK(!detail->timeline.empty());
  CAF_CHECK(detail->decisions.empty());
  lens->stop();
  ::setenv("CAFLENS_STORE_LLM_EXCHANGES", "everything", 1);
  auto bad = caflens::start(system(), lens_config());
  ::unsetenv("CAFLENS_STORE_LLM_EXCHANGES");
  CAF_REQUIRE(!bad);
  auto text = render_error(bad.error());
  CAF_CHECK(text.find("store-llm-exchanges") != std::string::npos);
  CAF_CHECK(text.find("everything") != std::string::npos);
}

CAF_TEST(an alert rule starts an investigation that names the alert) {
  // The application's latency metric; a rule on its p99.
  auto metrics = std::make_shared<telemetry::metric_registry>();
  CAF_REQUIRE(!metrics->add(telemetry::metric_definition::distribution(
    "shop.checkout.ms", {"shop", "checkout"}, "ms", {"route"})));
  auto c = lens_config();
  c.metrics = metrics;
  c.store = store::store_options{};
  c.store->path = (dir / "alerts.db").string();
  sinks::alert_rule rule;
  rule.name = "checkout_p99";
  rule.kind = sinks::alert_kind::quantile;
  rule.metric = "shop.checkout.ms";
  rule.window = 60s;
  rule.threshold = 250;
  c.alerts.rules = {rule};
  c.alerts.interval = 50ms;
  // The coordinator's brain is asked with the alert's structured fields
  // (then the rule brain, the default, reasons).
  auto hints = std::make_shared<std::promise<std::string>>();
  auto asked = std::make_shared<std::atomic<bool>>(false);
  c.brain = [hints, asked](const brain_request& req)
    -> std::unique_ptr<llm::brain> {
    if (req.role == "coordinator" && !req.offline && !asked->exchange(true))
      hints->set_value(req.hints);
    return nullptr;
  };
  // Both investigations of this test are seen through the bus.
  std::promise<std::string> stopped;
  std::atomic<bool> once{false};
  auto& bus = telemetry::bus::global();
  CAF_REQUIRE(!bus.attach(
    "alert-test", {"caflens", "investigation", "stop"},
    [&](const telemetry::event_name&, const telemetry::measurements&,
        const telemetry::metadata& md, const std::any&) {
      if (!once.exchange(true))
        stopped.set_value(md.find("trace_id")->to_string());
    }));
  auto lens = caflens::start(system(), std::move(c));
  CAF_REQUIRE(lens);
  for (int i = 0; i < 50; ++i)
    bus.execute(telemetry::event_name{"shop", "checkout"}, {{"ms", 900.0}},
                {{"route", "/pay"}});
  auto fut = stopped.get_future();
  CAF_REQUIRE(fut.wait_for(60s) == std::future_status::ready);
  auto trace = fut.get();
  bus.detach("alert-test");
  CAF_REQUIRE(!lens->flush_telemetry());
  auto detail = lens->stored(trace);
  CAF_REQUIRE(detail);
  CAF_MESSAGE("reason: " << detail->row.reason);
  CAF_CHECK_EQUAL(detail->row.trigger, "alert");
  CAF_CHECK(detail->row.reason.find("alert checkout_p99: shop.checkout.ms "
                                    "quantile = ")
            == 0);
  CAF_CHECK(detail->row.reason.find("above 250 (route=/pay)")
            != std::string::npos);
  auto given = hints->get_future();
  CAF_REQUIRE(given.wait_for(0s) == std::future_status::ready);
  auto text = given.get();
  CAF_MESSAGE("hints: " << text);
  CAF_REQUIRE(text.rfind("alert ", 0) == 0);
  auto fields = nlohmann::json::parse(text.substr(6), nullptr, false);
  CAF_REQUIRE(fields.is_object());
  CAF_CHECK_EQUAL(fields["rule"], "checkout_p99");
  CAF_CHECK_EQUAL(fields["metric"], "shop.checkout.ms");
  CAF_CHECK_EQUAL(fields["threshold"], 250.0);
  CAF_CHECK_EQUAL(fields["series"], "route=/pay");
  CAF_CHECK(fields["value"].get<double>() > 250);
  lens->stop();
}

CAF_TEST(investigations go out as OTLP traces and metrics) {
  httplib::Server collector;
  std::mutex mtx;
  std::vector<nlohmann::json> traces, metrics;
  collector.Post("/v1/traces", [&](const httplib::Request& req,
                                   httplib::Response& res) {
    std::lock_guard<std::mutex> guard{mtx};
    traces.push_back(nlohmann::json::parse(req.body));
    res.set_content("{}", "application/json");
  });
  collector.Post("/v1/metrics", [&](const httplib::Request& req,
                                    httplib::Response& res) {
    std::lock_guard<std::mutex> guard{mtx};
    metrics.push_back(nlohmann::json::parse(req.body));
    res.set_content("{}", "application/json");
  });
  auto port = collector.bind_to_any_port("127.0.0.1");
  std::thread server{[&] { collector.listen_after_bind(); }};
  cfg.set("caflens.otlp-endpoint", "http://127.0.0.1:" + std::to_string(port));
  cfg.set("caflens.node-name", "node-7");
  auto lens = caflens::start(system(), lens_config());
  CAF_REQUIRE(lens);
  auto res = lens->investigate("scheduled health check", {}, 30s);
  CAF_REQUIRE(res);
  CAF_REQUIRE(!lens->flush_telemetry());
  {
    std::lock_guard<std::mutex> guard{mtx};
    bool root = false;
    size_t children = 0;
    for (auto& req : traces)
      for (auto& sp : req["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
        CAF_CHECK_EQUAL(sp["traceId"], res->trace_id);
        if (sp["name"] == "investigation")
          root = true;
        else
          ++children;
      }
    CAF_CHECK(root);
    CAF_CHECK_GREATER(children, 0u);
    CAF_REQUIRE(!metrics.empty());
    bool investigations = false;
    for (auto& m :
         metrics.back()["resourceMetrics"][0]["scopeMetrics"][0]["metrics"])
      investigations |= m["name"] == "caflens.investigations";
    CAF_CHECK(investigations);
    auto& attrs = metrics.back()["resourceMetrics"][0]["resource"]["attributes"];
    CAF_CHECK_EQUAL(attrs[1]["value"]["stringValue"], "node-7");
  }
  lens->stop();
  system().await_all_actors_done();
  collector.stop();
  server.join();
}

CAF_TEST(the default logger runs as a sink at its level) {
  // stderr goes to a file while the lens runs.
  auto path = (dir / "stderr.txt").string();
  auto saved = ::dup(2);
  auto fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CAF_REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  cfg.set("caflens.log-level", "warning");
  auto lens = caflens::start(system(), lens_config());
  auto& bus = telemetry::bus::global();
  bus.execute(telemetry::event_name{"caflens", "alert", "fired"},
              {{"value", 9.0}, {"threshold", 5.0}},
              {{"alert", "disk_full"}, {"metric", "disk"},
               {"severity", "critical"}});
  bus.execute(telemetry::event_name{"caflens", "investigation", "start"},
              {{"system_time", 1.0}}, {{"trace_id", "x"}});
  auto flushed = lens ? lens->flush_telemetry() : caf::error{};
  if (lens)
    lens->stop();
  ::dup2(saved, 2);
  ::close(saved);
  CAF_REQUIRE(lens);
  CAF_REQUIRE(!flushed);
  std::ifstream in{path};
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  CAF_MESSAGE("stderr: " << text);
  CAF_CHECK(text.find(" warning caflens.alert.fired {") != std::string::npos);
  CAF_CHECK(text.find("disk_full") != std::string::npos);
  CAF_CHECK(text.find("caflens.investigation.start") == std::string::npos);
}

CAF_TEST(a lens without a store says so) {
  auto lens = caflens::start(system(), lens_config());
  CAF_REQUIRE(lens);
  auto rows = lens->history();
  CAF_REQUIRE(!rows);
  CAF_CHECK(render_error(rows.error()).find("no store is configured")
            != std::string::npos);
  lens->stop();
}

CAF_TEST(bad telemetry settings are errors that name the key) {
  cfg.set("caflens.statsd", "no-port-here");
  auto lens = caflens::start(system(), lens_config());
  CAF_REQUIRE(!lens);
  auto msg = render_error(lens.error());
  CAF_MESSAGE(msg);
  CAF_CHECK(msg.find("statsd") != std::string::npos);
  CAF_CHECK(msg.find("no-port-here") != std::string::npos);
}

CAF_TEST(an exporter that cannot start is an error of the lens start) {
  auto c = lens_config();
  sinks::prometheus_options po;
  po.host = "0.0.0.0"; // beyond loopback without a token
  po.port = 0;
  c.telemetry.prometheus = po;
  auto lens = caflens::start(system(), std::move(c));
  CAF_REQUIRE(!lens);
  CAF_CHECK(render_error(lens.error()).find("needs a bearer token")
            != std::string::npos);
  // A file that cannot be opened fails the start, naming the path.
  auto c2 = lens_config();
  sinks::sink_options so;
  so.name = "events";
  sinks::file_sink_options fo;
  fo.path = (dir / "no-such-dir" / "events.jsonl").string();
  c2.telemetry.sinks.push_back(sinks::file_sink_factory(so, fo));
  auto lens2 = caflens::start(system(), std::move(c2));
  CAF_REQUIRE(!lens2);
  CAF_CHECK(render_error(lens2.error()).find("no-such-dir/events.jsonl")
            != std::string::npos);
  // A start that fails after a sink was attached detaches it again: the
  // same sink starts fine next time.
  auto with_sink = [&] {
    auto c = lens_config();
    sinks::sink_options so;
    so.name = "events";
    sinks::file_sink_options fo;
    fo.path = (dir / "events.jsonl").string();
    c.telemetry.sinks.push_back(sinks::file_sink_factory(so, fo));
    return c;
  };
  auto c3 = with_sink();
  sinks::prometheus_options unsafe;
  unsafe.host = "0.0.0.0";
  c3.telemetry.prometheus = unsafe;
  CAF_REQUIRE(!caflens::start(system(), std::move(c3)));
  auto handlers = telemetry::bus::global().list_handlers();
  CAF_CHECK(std::none_of(handlers.begin(), handlers.end(), [](auto& h) {
    return h.id == "caflens.sink.events";
  }));
  auto lens4 = caflens::start(system(), with_sink());
  CAF_REQUIRE(lens4);
  lens4->stop();
}

CAF_TEST_FIXTURE_SCOPE_END()
