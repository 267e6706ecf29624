#define CAF_SUITE sinks.otlp
#include "caf/test/dsl.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include "caflens/sinks/otlp.hpp"
#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/trace_id.hpp"

#include "otlp_check.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
using namespace caflens::test;
namespace tel = caflens::telemetry;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// An OTLP/HTTP receiver on loopback that checks every request against
/// the JSON mapping and keeps the bodies.
struct receiver {
  httplib::Server srv;
  std::thread thread;
  int port = 0;
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<json> metrics;
  std::vector<json> traces;
  std::vector<std::string> problems;

  receiver() {
    auto handle = [this](bool is_metrics) {
      return [this, is_metrics](const httplib::Request& req,
                                httplib::Response& res) {
        otlp_checker chk;
        if (req.get_header_value("Content-Type") != "application/json")
          chk.fail("request", "Content-Type must be application/json");
        auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded())
          chk.fail("request", "not JSON");
        else if (is_metrics)
          chk.metrics_request(body);
        else
          chk.traces_request(body);
        std::lock_guard<std::mutex> guard{mtx};
        problems.insert(problems.end(), chk.problems.begin(),
                        chk.problems.end());
        (is_metrics ? metrics : traces).push_back(body);
        res.set_content("{}", "application/json");
        cv.notify_all();
      };
    };
    srv.Post("/v1/metrics", handle(true));
    srv.Post("/v1/traces", handle(false));
    port = srv.bind_to_any_port("127.0.0.1");
    thread = std::thread{[this] { srv.listen_after_bind(); }};
  }

  ~receiver() {
    srv.stop();
    thread.join();
  }

  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port);
  }
};

const json* find_metric(const json& req, const std::string& name) {
  for (auto& m : req["resourceMetrics"][0]["scopeMetrics"][0]["metrics"])
    if (m["name"] == name)
      return &m;
  return nullptr;
}

} // namespace

CAF_TEST(metrics are pushed as valid OTLP JSON) {
  receiver rcv;
  tel::bus bus;
  auto reg = std::make_shared<tel::metric_registry>(bus);
  CAF_REQUIRE(!reg->add(tel::metric_definition::counter(
    "jobs.done", {"jobs", "done"}, {"queue"})));
  CAF_REQUIRE(!reg->add(
    tel::metric_definition::sum("jobs.bytes", {"jobs", "done"}, "bytes")));
  CAF_REQUIRE(!reg->add(
    tel::metric_definition::last_value("jobs.backlog", {"jobs"}, "backlog")));
  CAF_REQUIRE(!reg->add(tel::metric_definition::distribution(
    "jobs.seconds", {"jobs", "done"}, "seconds")));
  for (int i = 1; i <= 10; ++i)
    bus.execute(tel::event_name{"jobs", "done"},
                {{"bytes", 100.0}, {"seconds", i / 10.0}}, {{"queue", "q1"}});
  bus.execute(tel::event_name{"jobs"}, {{"backlog", 7}});
  {
    actor_system_config cfg;
    actor_system sys{cfg};
    otlp_options oo;
    oo.endpoint = rcv.endpoint();
    oo.service_instance = "node-1";
    auto pusher = spawn_otlp_metrics_pusher(sys, reg, oo);
    CAF_REQUIRE(pusher);
    scoped_actor self{sys};
    self->request(*pusher, infinite, flush_atom::value)
      .receive([](ok_atom) {}, [&](error& e) { CAF_FAIL(sys.render(e)); });
    anon_send_exit(*pusher, exit_reason::user_shutdown);
  }
  std::lock_guard<std::mutex> guard{rcv.mtx};
  CAF_CHECK_EQUAL(rcv.problems, std::vector<std::string>{});
  CAF_REQUIRE(!rcv.metrics.empty());
  auto& req = rcv.metrics.front();
  auto* done = find_metric(req, "jobs.done");
  CAF_REQUIRE(done != nullptr);
  CAF_CHECK_EQUAL((*done)["sum"]["isMonotonic"], true);
  CAF_CHECK_EQUAL((*done)["sum"]["dataPoints"][0]["asDouble"], 10.0);
  CAF_CHECK_EQUAL((*done)["sum"]["dataPoints"][0]["attributes"][0]["value"]
                               ["stringValue"],
                  "q1");
  auto* backlog = find_metric(req, "jobs.backlog");
  CAF_REQUIRE(backlog != nullptr);
  CAF_CHECK_EQUAL((*backlog)["gauge"]["dataPoints"][0]["asDouble"], 7.0);
  auto* secs = find_metric(req, "jobs.seconds");
  CAF_REQUIRE(secs != nullptr);
  auto& p = (*secs)["summary"]["dataPoints"][0];
  CAF_CHECK_EQUAL(p["count"], "10");
  CAF_CHECK_EQUAL(p["quantileValues"].size(), 4u);
  auto& res = req["resourceMetrics"][0]["resource"]["attributes"];
  CAF_CHECK_EQUAL(res[1]["value"]["stringValue"], "node-1");
  // The pusher's last push on termination arrived too.
  CAF_CHECK_EQUAL(rcv.metrics.size(), 2u);
}

CAF_TEST(an investigation becomes a trace of nested spans) {
  receiver rcv;
  otlp_options oo;
  oo.endpoint = rcv.endpoint();
  sink_options so;
  auto s = otlp_trace_sink::open(so, oo);
  CAF_REQUIRE(s);
  auto trace = tel::generate_trace_id();
  int64_t t0 = 1'796'000'000'000'000'000;
  auto rec = [&](std::string ev, int64_t at,
                 std::vector<std::pair<std::string, double>> m, json md) {
    record r;
    r.event = std::move(ev);
    r.system_time_ns = at;
    r.measurements = std::move(m);
    md["trace_id"] = trace;
    r.metadata = std::move(md);
    return r;
  };
  (*s)->consume(rec("caflens.investigation.start", t0,
                    {{"system_time", static_cast<double>(t0)}},
                    {{"reason", "queue depth over 1000"}}));
  (*s)->consume(rec("caflens.operator.started", t0 + 1'000'000, {},
                    {{"operator", "op-1"}, {"skill", "actors"},
                     {"node", "n1"}}));
  (*s)->consume(rec("caflens.tool.stop", t0 + 5'000'000,
                    {{"duration", 2'000'000}},
                    {{"tool_name", "take_snapshot"}, {"intent", "actors"},
                     {"iteration", 1}, {"result", "ok"}}));
  (*s)->consume(rec("caflens.llm.exception", t0 + 7'000'000,
                    {{"duration", 1'000'000}},
                    {{"model", "m1"}, {"provider", "openai"},
                     {"reason", "timeout"}}));
  (*s)->consume(rec("caflens.operator.loop_stopped", t0 + 9'000'000, {},
                    {{"operator", "op-1"}, {"skill", "actors"},
                     {"node", "n1"}, {"final_state", "warning"}}));
  CAF_REQUIRE(!(*s)->flush()); // the root is still open: children go
  (*s)->consume(rec("caflens.investigation.stop", t0 + 10'000'000,
                    {{"duration", 10'000'000}, {"insights", 1}},
                    {{"partial", false}}));
  CAF_REQUIRE(!(*s)->flush());
  std::lock_guard<std::mutex> guard{rcv.mtx};
  CAF_CHECK_EQUAL(rcv.problems, std::vector<std::string>{});
  std::vector<json> spans;
  for (auto& req : rcv.traces)
    for (auto& sp : req["resourceSpans"][0]["scopeSpans"][0]["spans"])
      spans.push_back(sp);
  CAF_REQUIRE_EQUAL(spans.size(), 4u);
  auto root_id = otlp_trace_sink::root_span_id(trace);
  auto& root = spans.back();
  CAF_CHECK_EQUAL(root["name"], "investigation");
  CAF_CHECK_EQUAL(root["traceId"], trace);
  CAF_CHECK_EQUAL(root["spanId"], root_id);
  CAF_CHECK_EQUAL(root["parentSpanId"], "");
  CAF_CHECK_EQUAL(root["startTimeUnixNano"], std::to_string(t0));
  CAF_CHECK_EQUAL(root["endTimeUnixNano"], std::to_string(t0 + 10'000'000));
  CAF_CHECK_EQUAL(root["attributes"][0]["value"]["stringValue"],
                  "queue depth over 1000");
  CAF_CHECK_EQUAL(spans[0]["name"], "tool take_snapshot");
  CAF_CHECK_EQUAL(spans[0]["startTimeUnixNano"],
                  std::to_string(t0 + 3'000'000));
  CAF_CHECK_EQUAL(spans[1]["name"], "llm m1");
  CAF_CHECK_EQUAL(spans[1]["status"]["code"], 2);
  CAF_CHECK_EQUAL(spans[1]["status"]["message"], "timeout");
  CAF_CHECK_EQUAL(spans[2]["name"], "operator actors");
  CAF_CHECK_EQUAL(spans[2]["startTimeUnixNano"],
                  std::to_string(t0 + 1'000'000));
  for (size_t i = 0; i < 3; ++i) {
    CAF_CHECK_EQUAL(spans[i]["traceId"], trace);
    CAF_CHECK_EQUAL(spans[i]["parentSpanId"], root_id);
  }
}

CAF_TEST(a collector that refuses is an error naming it) {
  receiver rcv;
  rcv.srv.Post("/refuse/v1/traces",
               [](const httplib::Request&, httplib::Response& res) {
                 res.status = 400;
                 res.set_content("bad span", "text/plain");
               });
  otlp_options oo;
  oo.endpoint = rcv.endpoint() + "/refuse";
  auto err = otlp_post(oo, "/v1/traces", json::object());
  CAF_REQUIRE(err);
  CAF_CHECK(render_error(err).find("answered 400: bad span")
            != std::string::npos);
  oo.endpoint = "grpc://x";
  CAF_CHECK(!otlp_trace_sink::open({}, oo));
}
