#define CAF_SUITE sinks.prometheus
#include "caf/test/dsl.hpp"

#include <httplib.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include <nlohmann/json.hpp>

#include "caflens/sinks/prometheus.hpp"
#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/metrics.hpp"

#include "daemon.hpp"

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP
#  include <prometheus/counter.h>
#  include <prometheus/exposer.h>
#  include <prometheus/registry.h>
#  include <prometheus/text_serializer.h>

#  include "caflens/sinks/prometheus_collectable.hpp"
#endif

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
using namespace caflens::test;
namespace tel = caflens::telemetry;

namespace {

/// An application's metrics: requests by route (one route name needs
/// escaping), bytes, queue depth and a latency distribution.
struct app_metrics {
  tel::bus bus;
  std::shared_ptr<tel::metric_registry> reg
    = std::make_shared<tel::metric_registry>(bus);

  app_metrics() {
    auto req = tel::metric_definition::counter(
      "shop.http.requests", {"shop", "http", "stop"}, {"route", "status"});
    req.description = "HTTP requests answered.";
    CAF_REQUIRE(!reg->add(req));
    CAF_REQUIRE(!reg->add(tel::metric_definition::sum(
      "shop.http.bytes", {"shop", "http", "stop"}, "bytes")));
    CAF_REQUIRE(!reg->add(tel::metric_definition::last_value(
      "shop.queue.depth", {"shop", "queue"}, "depth")));
    auto lat = tel::metric_definition::distribution(
      "shop.http.latency_seconds", {"shop", "http", "stop"}, "seconds",
      {"route"});
    lat.unit = "s";
    CAF_REQUIRE(!reg->add(lat));
  }

  void request(const std::string& route, int status, double secs,
               double bytes) {
    bus.execute(tel::event_name{"shop", "http", "stop"},
                {{"seconds", secs}, {"bytes", bytes}},
                {{"route", route}, {"status", status}});
  }

  void traffic() {
    for (int i = 1; i <= 100; ++i)
      request("/cart", 200, i / 1000.0, 100);
    request("/cart", 500, 0.5, 10);
    request("/odd \"route\"\\x\n", 404, 0.002, 1);
    bus.execute(tel::event_name{"shop", "queue"}, {{"depth", -3}});
    bus.execute(tel::event_name{"shop", "queue"}, {{"depth", 17}});
  }
};

std::string get(uint16_t port, const std::string& path,
                const std::string& token = {}, int* status = nullptr) {
  httplib::Client cli{"127.0.0.1", port};
  httplib::Headers headers;
  if (!token.empty())
    headers.emplace("Authorization", "Bearer " + token);
  auto res = cli.Get(path.c_str(), headers);
  if (status != nullptr)
    *status = res ? res->status : -1;
  return res ? res->body : std::string{};
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

} // namespace

CAF_TEST(the exposition has HELP and TYPE and escaped labels) {
  app_metrics app;
  app.traffic();
  auto text = prometheus_text(*app.reg);
  CAF_MESSAGE("exposition:\n" << text);
  CAF_CHECK(contains(text, "# HELP shop_http_requests_total HTTP requests "
                           "answered.\n# TYPE shop_http_requests_total "
                           "counter\n"));
  CAF_CHECK(contains(text,
                     "shop_http_requests_total{route=\"/cart\",status=\"200\"} "
                     "100\n"));
  CAF_CHECK(contains(text, "shop_http_requests_total{route=\"/odd "
                           "\\\"route\\\"\\\\x\\n\",status=\"404\"} 1\n"));
  CAF_CHECK(contains(text, "# TYPE shop_http_bytes_total counter\n"));
  CAF_CHECK(contains(text, "shop_http_bytes_total 10011\n"));
  CAF_CHECK(contains(text, "# TYPE shop_queue_depth gauge\nshop_queue_depth 17\n"));
  CAF_CHECK(contains(text, "# TYPE shop_http_latency_seconds summary\n"));
  CAF_CHECK(contains(text, "shop_http_latency_seconds_count{route=\"/cart\"} 101\n"));
  // The p50 of 1..100 ms plus one 500 ms is about 51 ms (DDSketch: 1 %).
  auto p50 = text.find("shop_http_latency_seconds{route=\"/cart\",quantile=\"0.5\"} ");
  CAF_REQUIRE(p50 != std::string::npos);
  auto v = std::stod(text.substr(text.find("} ", p50) + 2));
  CAF_CHECK_GREATER(v, 0.049);
  CAF_CHECK_LESS(v, 0.053);
  CAF_CHECK(contains(text, "# HELP shop_http_latency_seconds caflens "
                           "distribution of shop.http.stop seconds (s)\n"));
}

CAF_TEST(names that clash after sanitizing are skipped with a comment) {
  tel::bus bus;
  tel::metric_registry reg{bus};
  CAF_REQUIRE(!reg.add(tel::metric_definition::last_value("a.b", {"x"}, "v")));
  CAF_REQUIRE(!reg.add(tel::metric_definition::last_value("a-b", {"x"}, "v")));
  auto text = prometheus_text(reg);
  CAF_CHECK(contains(text, "# TYPE a_b gauge\n"));
  CAF_CHECK(contains(text, "skipped: its name clashes"));
  CAF_CHECK_EQUAL(std::count(text.begin(), text.end(), '\n'), 4);
}

CAF_TEST(promtool accepts the exposition) {
  CAF_REQUIRE(have("promtool")); // scripts/setup.sh installs prometheus
  app_metrics app;
  app.traffic();
  temp_dir dir;
  auto file = dir.path / "metrics.txt";
  {
    std::ofstream out{file};
    out << prometheus_text(*app.reg);
  }
  auto cmd = "promtool check metrics < " + file.string() + " > "
             + (dir.path / "promtool.log").string() + " 2>&1";
  auto rc = std::system(cmd.c_str());
  CAF_MESSAGE("promtool: " << read_file(dir.path / "promtool.log"));
  CAF_CHECK_EQUAL(rc, 0);
}

CAF_TEST(the exporter serves metrics and enforces its token) {
  app_metrics app;
  app.traffic();
  prometheus_options opts;
  opts.port = 0;
  auto ex = prometheus_exporter::start(app.reg, opts);
  CAF_REQUIRE(ex);
  auto port = (*ex)->port();
  CAF_CHECK_NOT_EQUAL(port, 0);
  int status = 0;
  auto body = get(port, "/metrics", {}, &status);
  CAF_CHECK_EQUAL(status, 200);
  CAF_CHECK(contains(body, "shop_queue_depth 17\n"));
  get(port, "/other", {}, &status);
  CAF_CHECK_EQUAL(status, 404);
  CAF_CHECK_EQUAL((*ex)->scrapes(), 1u);
  // The same port twice is an error naming the address.
  prometheus_options taken;
  taken.port = port;
  auto twice = prometheus_exporter::start(app.reg, taken);
  CAF_REQUIRE(!twice);
  CAF_CHECK(contains(render_error(twice.error()), "127.0.0.1:"
                                                    + std::to_string(port)));
  (*ex)->stop();
  // With a token, scrapes without it are refused.
  prometheus_options secured;
  secured.port = 0;
  secured.bearer_token = "s3cret";
  auto sx = prometheus_exporter::start(app.reg, secured);
  CAF_REQUIRE(sx);
  get((*sx)->port(), "/metrics", {}, &status);
  CAF_CHECK_EQUAL(status, 401);
  get((*sx)->port(), "/metrics", "s3cre", &status);
  CAF_CHECK_EQUAL(status, 401);
  body = get((*sx)->port(), "/metrics", "s3cret", &status);
  CAF_CHECK_EQUAL(status, 200);
  CAF_CHECK(contains(body, "shop_queue_depth 17\n"));
  // Beyond loopback only with a token.
  prometheus_options open;
  open.host = "0.0.0.0";
  open.port = 0;
  auto ox = prometheus_exporter::start(app.reg, open);
  CAF_REQUIRE(!ox);
  CAF_CHECK(contains(render_error(ox.error()), "needs a bearer token"));
}

CAF_TEST(a real prometheus scrapes us and answers PromQL with our values) {
  CAF_REQUIRE(have("prometheus"));
  app_metrics app;
  app.traffic();
  actor_system_config cfg;
  actor_system sys{cfg};
  prometheus_options opts;
  opts.port = 0;
  uint16_t port = 0;
  auto ex = spawn_prometheus_exporter(sys, app.reg, opts,
                                      [&](uint16_t p) { port = p; });
  CAF_REQUIRE(ex);
  CAF_REQUIRE_NOT_EQUAL(port, 0);
  {
    scoped_actor self{sys};
    self->request(*ex, infinite, get_atom::value)
      .receive([&](uint16_t p) { CAF_CHECK_EQUAL(p, port); },
               [&](error& err) { CAF_FAIL(sys.render(err)); });
  }
  temp_dir dir;
  auto prom_port = free_port();
  {
    std::ofstream out{dir.path / "prometheus.yml"};
    out << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: caflens\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << port << "']\n";
  }
  daemon_process prom{
    {"prometheus", "--config.file=" + (dir.path / "prometheus.yml").string(),
     "--storage.tsdb.path=" + (dir.path / "data").string(),
     "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
    dir.path / "prometheus.log"};
  auto query = [&](const std::string& q) {
    httplib::Client cli{"127.0.0.1", prom_port};
    httplib::Params params{{"query", q}};
    auto res = cli.Get("/api/v1/query", params, httplib::Headers{});
    if (!res || res->status != 200)
      return nlohmann::json{};
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded() || j["data"]["result"].empty())
      return nlohmann::json{};
    return j["data"]["result"];
  };
  nlohmann::json result;
  auto scraped = eventually([&] {
    result = query("shop_http_requests_total{route=\"/cart\",status=\"200\"}");
    return !result.is_null();
  });
  if (!scraped)
    CAF_MESSAGE("prometheus log:\n" << prom.log());
  CAF_REQUIRE(scraped);
  CAF_CHECK_EQUAL(result[0]["value"][1], "100");
  CAF_CHECK_EQUAL(result[0]["metric"]["job"], "caflens");
  // A value that changes is seen changing.
  for (int i = 0; i < 5; ++i)
    app.request("/cart", 200, 0.001, 100);
  CAF_CHECK(eventually([&] {
    result = query("shop_http_requests_total{route=\"/cart\",status=\"200\"}");
    return !result.is_null() && result[0]["value"][1] == "105";
  }));
  result = query("shop_http_latency_seconds{quantile=\"0.99\"}");
  CAF_REQUIRE(!result.is_null());
  auto p99 = std::stod(result[0]["value"][1].get<std::string>());
  CAF_CHECK_GREATER(p99, 0.09);
  result = query("up{job=\"caflens\"}");
  CAF_REQUIRE(!result.is_null());
  CAF_CHECK_EQUAL(result[0]["value"][1], "1");
  anon_send_exit(*ex, exit_reason::user_shutdown);
}

CAF_TEST(a real pushgateway receives our push) {
  CAF_REQUIRE(have("prometheus-pushgateway"));
  app_metrics app;
  app.traffic();
  temp_dir dir;
  auto gw_port = free_port();
  daemon_process gw{{"prometheus-pushgateway",
                     "--web.listen-address=127.0.0.1:"
                       + std::to_string(gw_port)},
                    dir.path / "pushgateway.log"};
  CAF_REQUIRE(eventually([&] {
    int status = 0;
    get(gw_port, "/-/ready", {}, &status);
    return status == 200;
  }));
  pushgateway_options po;
  po.url = "http://127.0.0.1:" + std::to_string(gw_port);
  po.job = "shop";
  po.grouping = {{"instance", "node-1"}, {"path", "a/b"}};
  auto err = push_to_gateway(po, prometheus_text(*app.reg, po.format));
  CAF_REQUIRE(!err);
  auto body = get(gw_port, "/metrics");
  CAF_CHECK(contains(body, "shop_queue_depth{instance=\"node-1\",job=\"shop\","
                           "path=\"a/b\"} 17"));
  CAF_CHECK(contains(body, "shop_http_requests_total{instance=\"node-1\","
                           "job=\"shop\",path=\"a/b\",route=\"/cart\","
                           "status=\"200\"} 100"));
  // The pusher actor pushes on request (and on its interval).
  actor_system_config cfg;
  actor_system sys{cfg};
  app.bus.execute(tel::event_name{"shop", "queue"}, {{"depth", 99}});
  po.grouping = {{"instance", "node-2"}};
  auto pusher = spawn_pushgateway_pusher(sys, app.reg, po);
  CAF_REQUIRE(pusher);
  {
    scoped_actor self{sys};
    self->request(*pusher, infinite, flush_atom::value)
      .receive([](ok_atom) {}, [&](error& e) { CAF_FAIL(sys.render(e)); });
  }
  body = get(gw_port, "/metrics");
  CAF_CHECK(contains(body, "shop_queue_depth{instance=\"node-2\",job=\"shop\"} 99"));
  anon_send_exit(*pusher, exit_reason::user_shutdown);
  // A gateway that is gone is a clear error.
  gw.stop();
  auto gone = push_to_gateway(po, "x 1\n");
  CAF_REQUIRE(gone);
  CAF_CHECK(contains(render_error(gone), "pushgateway http://127.0.0.1:"));
  pushgateway_options bad;
  bad.url = "ftp://x";
  CAF_CHECK(contains(render_error(push_to_gateway(bad, "")), "not an http"));
}

#ifdef CAFLENS_HAVE_PROMETHEUS_CPP
CAF_TEST(an application running prometheus-cpp serves caflens metrics) {
  app_metrics app;
  app.traffic();
  // The application's own metrics and its Exposer.
  auto own = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
    .Name("app_jobs_total")
    .Help("Jobs.")
    .Register(*own)
    .Add({})
    .Increment(3);
  // Ours before the Exposer, so that it outlives the Exposer's threads.
  // (Either order is correct; but prometheus-cpp is not built with TSan,
  // and a worker's release of its reference, inside that library, is
  // invisible to it: only the join in ~Exposer orders that worker's
  // Collect before our delete in TSan's eyes.)
  auto ours = std::make_shared<prometheus_collectable>(app.reg);
  auto port = free_port();
  prometheus::Exposer exposer{"127.0.0.1:" + std::to_string(port)};
  exposer.RegisterCollectable(own);
  exposer.RegisterCollectable(ours);
  int status = 0;
  auto body = get(port, "/metrics", {}, &status);
  CAF_CHECK_EQUAL(status, 200);
  CAF_CHECK(contains(body, "app_jobs_total 3"));
  CAF_CHECK(contains(body, "# TYPE shop_http_requests_total counter"));
  CAF_CHECK(contains(body,
                     "shop_http_requests_total{route=\"/cart\",status=\"200\"} 100"));
  CAF_CHECK(contains(body, "shop_queue_depth 17"));
  CAF_CHECK(contains(body, "shop_http_latency_seconds_count{route=\"/cart\"} 101"));
  // The same families as our own exposition, through its serializer.
  prometheus::TextSerializer ser;
  auto text = ser.Serialize(ours->Collect());
  CAF_CHECK(contains(text, "# HELP shop_http_requests_total HTTP requests "
                           "answered."));
  CAF_CHECK(contains(text, "shop_http_latency_seconds{route=\"/cart\","
                           "quantile=\"0.5\"}"));
}
#endif
