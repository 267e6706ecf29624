#define CAF_SUITE sinks.alerts
#include "caf/test/dsl.hpp"

#include <condition_variable>
#include <mutex>

#include <httplib.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/sinks/alerts.hpp"
#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/clock.hpp"

#include "daemon.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
namespace tel = caflens::telemetry;
using namespace std::chrono_literals;

namespace {

/// A service's metrics on a private bus with an injected clock.
struct service {
  tel::manual_clock clk{1'000'000'000'000};
  tel::bus bus;
  std::shared_ptr<tel::metric_registry> reg
    = std::make_shared<tel::metric_registry>(bus, clk);
  std::vector<std::string> events;
  int64_t now_ms = 1'000'000;

  service() {
    CAF_REQUIRE(!reg->add(tel::metric_definition::distribution(
      "api.latency", {"api", "stop"}, "ms", {"route"})));
    CAF_REQUIRE(!reg->add(
      tel::metric_definition::counter("api.requests", {"api", "stop"})));
    CAF_REQUIRE(!reg->add(
      tel::metric_definition::counter("api.errors", {"api", "error"})));
    CAF_REQUIRE(!reg->add(tel::metric_definition::last_value(
      "mailbox.depth", {"mailbox"}, "depth", {"actor"})));
    CAF_REQUIRE(!reg->add(tel::metric_definition::counter(
      "restarts", {"sup", "restart"}, {"child"})));
    CAF_REQUIRE(!bus.attach_many(
      "test",
      {tel::event_name{"caflens", "alert", "fired"},
       tel::event_name{"caflens", "alert", "resolved"}},
      [this](const tel::event_name& e, const tel::measurements&,
             const tel::metadata& md, const std::any&) {
        events.push_back(e.str() + " " + md.find("alert")->to_string());
      }));
  }

  void request(const std::string& route, double ms, bool error = false) {
    bus.execute(tel::event_name{"api", "stop"}, {{"ms", ms}},
                {{"route", route}});
    if (error)
      bus.execute(tel::event_name{"api", "error"}, {{"n", 1}});
  }

  void advance(std::chrono::milliseconds d) {
    clk.advance(d);
    now_ms += d.count();
  }

  std::shared_ptr<alert_engine> engine(std::vector<alert_rule> rules) {
    auto e = alert_engine::make(reg, std::move(rules), &bus);
    CAF_REQUIRE(e);
    return *e;
  }
};

std::vector<std::string> names(const std::vector<alert_event>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back((x.fired ? "fired " : "resolved ") + x.rule);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

CAF_TEST(a p99 above its limit fires after its occurrences and resolves) {
  service svc;
  alert_rule r;
  r.name = "slow_api";
  r.kind = alert_kind::quantile;
  r.metric = "api.latency";
  r.quantile = 0.99;
  r.window = 10s;
  r.threshold = 200;
  r.occurrences = 2;
  r.min_interval = 0ms;
  auto eng = svc.engine({r});
  for (int i = 0; i < 100; ++i)
    svc.request("/cart", 20);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty());
  for (int i = 0; i < 10; ++i)
    svc.request("/upload", 900);
  svc.advance(1s);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty()); // one breach of two
  svc.advance(1s);
  auto fired = eng->evaluate(svc.now_ms);
  CAF_REQUIRE_EQUAL(fired.size(), 1u);
  CAF_CHECK(fired[0].fired);
  CAF_CHECK_EQUAL(fired[0].series, "route=/upload");
  CAF_CHECK_GREATER(fired[0].value, 890);
  CAF_CHECK_EQUAL(fired[0].occurrences, 2u);
  CAF_CHECK(fired[0].text().find("slow_api: api.latency quantile = ")
            == 0);
  CAF_CHECK_EQUAL(svc.events, strings{"caflens.alert.fired slow_api"});
  // Still firing: no new event.
  svc.advance(1s);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty());
  // The slow requests leave the 10 s window.
  svc.advance(10s);
  for (int i = 0; i < 10; ++i)
    svc.request("/cart", 20);
  CAF_CHECK_EQUAL(names(eng->evaluate(svc.now_ms)),
                  strings{"resolved slow_api"});
  CAF_CHECK_EQUAL(svc.events.back(), "caflens.alert.resolved slow_api");
}

CAF_TEST(min_interval suppresses a second firing) {
  service svc;
  alert_rule r;
  r.name = "deep_mailbox";
  r.kind = alert_kind::value;
  r.metric = "mailbox.depth";
  r.threshold = 1000;
  r.min_interval = 60s;
  auto eng = svc.engine({r});
  auto depth = [&](const std::string& actor, double d) {
    svc.bus.execute(tel::event_name{"mailbox"}, {{"depth", d}},
                    {{"actor", actor}});
  };
  depth("w-1", 10);
  depth("w-2", 5000);
  auto xs = eng->evaluate(svc.now_ms);
  CAF_REQUIRE_EQUAL(names(xs), strings{"fired deep_mailbox"});
  CAF_CHECK_EQUAL(xs[0].series, "actor=w-2");
  depth("w-2", 3);
  svc.advance(5s);
  CAF_CHECK_EQUAL(names(eng->evaluate(svc.now_ms)),
                  strings{"resolved deep_mailbox"});
  depth("w-1", 2000);
  svc.advance(5s);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty()); // 10 s after: suppressed
  auto status = eng->status();
  CAF_CHECK_EQUAL(status[0]["suppressed"], 1);
  svc.advance(51s);
  xs = eng->evaluate(svc.now_ms);
  CAF_REQUIRE_EQUAL(names(xs), strings{"fired deep_mailbox"});
  CAF_CHECK_EQUAL(xs[0].series, "actor=w-1");
}

CAF_TEST(an error rate and restarts in a window) {
  service svc;
  alert_rule rate;
  rate.name = "error_rate";
  rate.kind = alert_kind::ratio;
  rate.metric = "api.errors";
  rate.denominator = "api.requests";
  rate.window = 30s;
  rate.threshold = 5; // percent
  alert_rule restarts;
  restarts.name = "restarts";
  restarts.kind = alert_kind::increase;
  restarts.metric = "restarts";
  restarts.match = {{"child", "worker-3"}};
  restarts.window = 60s;
  restarts.threshold = 2;
  auto eng = svc.engine({rate, restarts});
  // Errors before the window do not count once it moves on.
  for (int i = 0; i < 50; ++i)
    svc.request("/x", 1, true);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty()); // the first sample: no rate
  svc.advance(31s);
  for (int i = 0; i < 100; ++i)
    svc.request("/x", 1, i < 3);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty()); // 3 %
  svc.advance(5s);
  for (int i = 0; i < 100; ++i)
    svc.request("/x", 1, i < 20);
  auto xs = eng->evaluate(svc.now_ms);
  CAF_REQUIRE_EQUAL(names(xs), strings{"fired error_rate"});
  CAF_CHECK_GREATER(xs[0].value, 11); // 23 errors of 200 in the window
  CAF_CHECK_LESS(xs[0].value, 12);
  auto restart = [&](const std::string& child) {
    svc.bus.execute(tel::event_name{"sup", "restart"}, {{"n", 1}},
                    {{"child", child}});
  };
  for (int i = 0; i < 5; ++i)
    restart("worker-1"); // another child: not counted
  restart("worker-3");
  restart("worker-3");
  svc.advance(1s);
  CAF_CHECK(eng->evaluate(svc.now_ms).empty()); // 2 is not above 2
  restart("worker-3");
  svc.advance(1s);
  CAF_CHECK_EQUAL(names(eng->evaluate(svc.now_ms)), strings{"fired restarts"});
}

CAF_TEST(bad rules are refused with the reason) {
  service svc;
  auto check = [&](alert_rule r, const std::string& why) {
    auto e = alert_engine::make(svc.reg, {r}, &svc.bus);
    CAF_REQUIRE(!e);
    CAF_CHECK(render_error(e.error()).find(why) != std::string::npos);
  };
  alert_rule r;
  r.metric = "x";
  check(r, "needs a name");
  r.name = "r";
  r.metric.clear();
  check(r, "needs a metric");
  r.metric = "x";
  r.kind = alert_kind::ratio;
  check(r, "denominator");
  r.kind = alert_kind::quantile;
  r.quantile = 1.5;
  check(r, "within 0..1");
  r.quantile = 0.5;
  r.occurrences = 0;
  check(r, "occurrences");
  r.kind = alert_kind::probe;
  r.occurrences = 1;
  check(r, "probe function");
  // A metric that does not exist (yet) has no value: no alert, no error.
  alert_rule missing;
  missing.name = "later";
  missing.metric = "not.there";
  auto eng = svc.engine({missing});
  CAF_CHECK(eng->evaluate(svc.now_ms).empty());
}

CAF_TEST(a webhook receives the alert as JSON and retries) {
  // A local endpoint that fails its first request.
  httplib::Server srv;
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> bodies;
  int calls = 0;
  srv.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> guard{mtx};
    if (++calls == 1) {
      res.status = 503;
      return;
    }
    CAF_CHECK_EQUAL(req.get_header_value("Authorization"), "Bearer t0k");
    bodies.push_back(req.body);
    cv.notify_all();
  });
  auto port = srv.bind_to_any_port("127.0.0.1");
  std::thread server{[&] { srv.listen_after_bind(); }};
  {
    service svc;
    actor_system_config cfg;
    actor_system sys{cfg};
    webhook_options wo;
    wo.url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    wo.retry_delay = 10ms;
    wo.headers = {{"Authorization", "Bearer t0k"}};
    auto [handler, hook] = spawn_webhook(sys, wo);
    alert_rule r;
    r.name = "probe_high";
    r.kind = alert_kind::probe;
    double level = 50;
    r.probe = [&level] { return std::optional<double>{level}; };
    r.threshold = 10;
    r.severity = "critical";
    auto eng = svc.engine({r});
    eng->add_handler(handler);
    CAF_REQUIRE_EQUAL(eng->evaluate(svc.now_ms).size(), 1u);
    {
      std::unique_lock<std::mutex> guard{mtx};
      CAF_REQUIRE(cv.wait_for(guard, 30s, [&] { return !bodies.empty(); }));
    }
    auto j = nlohmann::json::parse(bodies[0]);
    CAF_CHECK_EQUAL(j["rule"], "probe_high");
    CAF_CHECK_EQUAL(j["state"], "fired");
    CAF_CHECK_EQUAL(j["value"], 50.0);
    CAF_CHECK_EQUAL(j["severity"], "critical");
    CAF_CHECK_EQUAL(calls, 2);
    // A probe without a metric label is called a probe; with one, by it.
    alert_event ev;
    ev.rule = "probe_high";
    ev.kind = alert_kind::probe;
    ev.value = 50;
    ev.threshold = 10;
    CAF_CHECK_EQUAL(ev.condition(), "probe = 50 above 10");
    ev.metric = "queue.depth";
    ev.description = "messages waiting";
    CAF_CHECK_EQUAL(ev.condition(),
                    "queue.depth = 50 above 10 — messages waiting");
    anon_send_exit(hook, exit_reason::user_shutdown);
  }
  srv.stop();
  server.join();
  // A dead endpoint: the error names it and the attempts.
  webhook_options dead;
  dead.url = "http://127.0.0.1:" + std::to_string(caflens::test::free_port())
             + "/x";
  dead.retries = 1;
  dead.retry_delay = 1ms;
  auto err = post_webhook(dead, "{}");
  CAF_REQUIRE(err);
  CAF_CHECK(render_error(err).find("after 2 attempt(s)") != std::string::npos);
  webhook_options bad;
  bad.url = "ftp://x";
  CAF_CHECK(render_error(post_webhook(bad, "{}")).find("not an http")
            != std::string::npos);
}
