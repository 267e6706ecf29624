#define CAF_SUITE dashboard.server
// The dashboard server over real HTTP: its options refuse what would be
// unsafe (off loopback without a token), the API answers from a running
// lens (overview, actors through the sandbox, investigations from the
// store, a POST that investigates), errors are JSON, the token is required
// when set. The browser tests (dashboard.test.mjs) drive the pages.

#include <chrono>
#include <filesystem>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"

#include "caflens/caflens.hpp"
#include "caflens/dashboard/dashboard.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/tracked.hpp"
#include "caflens/telemetry/error.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct fixture {
  fs::path dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    ::setenv("CAFLENS_BRAIN", "rule", 1);
    char tmpl[] = "/tmp/caflens-dash-XXXXXX";
    dir = ::mkdtemp(tmpl);
    add_config_options(cfg);
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~fixture() {
    sys.reset();
    ::unsetenv("CAFLENS_BRAIN");
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  caf::expected<lens> start_lens() {
    config c;
    c.store = store::store_options{};
    c.store->path = (dir / "caflens.db").string();
    return caflens::start(*sys, std::move(c));
  }

  static json get(httplib::Client& cli, const std::string& path,
                  int expected_status) {
    auto res = cli.Get(path);
    if (!res) {
      CAF_FAIL("GET " << path << ": no answer");
    }
    CAF_CHECK_EQUAL(res->status, expected_status);
    auto j = json::parse(res->body, nullptr, false);
    CAF_CHECK(!j.is_discarded());
    return j;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(dashboard_tests, fixture)

CAF_TEST(listen addresses parse and unsafe options are refused) {
  dashboard::options o;
  CAF_CHECK(!dashboard::parse_listen("0.0.0.0:8080", o));
  CAF_CHECK_EQUAL(o.host, "0.0.0.0");
  CAF_CHECK_EQUAL(o.port, 8080);
  CAF_CHECK(!dashboard::parse_listen(":9000", o));
  CAF_CHECK_EQUAL(o.host, "127.0.0.1");
  CAF_CHECK(!dashboard::parse_listen("[::1]:7", o));
  CAF_CHECK_EQUAL(o.host, "::1");
  CAF_CHECK(dashboard::parse_listen("host:99999", o));
  CAF_CHECK(dashboard::parse_listen("host:", o));
  CAF_CHECK(dashboard::is_loopback("127.0.0.1"));
  CAF_CHECK(dashboard::is_loopback("localhost"));
  CAF_CHECK(!dashboard::is_loopback("0.0.0.0"));
  auto l = start_lens();
  CAF_REQUIRE(l);
  dashboard::options open;
  open.host = "0.0.0.0";
  auto refused = dashboard::server::start(*l, open);
  CAF_REQUIRE(!refused);
  CAF_CHECK(render_error(refused.error()).find("needs a token")
            != std::string::npos);
  dashboard::options fast;
  fast.sample_interval = 10ms;
  CAF_CHECK(!dashboard::server::start(*l, fast));
  CAF_CHECK(!dashboard::server::start(caflens::lens{}, {}));
  l->stop();
}

CAF_TEST(the api answers from the running lens) {
  auto l = start_lens();
  CAF_REQUIRE(l);
  auto d = dashboard::server::start(*l, {});
  CAF_REQUIRE(d);
  CAF_CHECK(d->url().rfind("http://127.0.0.1:", 0) == 0);
  httplib::Client cli{"127.0.0.1", d->port()};
  cli.set_read_timeout(30, 0);
  auto ov = get(cli, "/api/overview", 200);
  CAF_CHECK_EQUAL(ov["node"], l->node());
  CAF_CHECK(ov["rss_bytes"].get<int64_t>() > 0);
  CAF_CHECK(ov["actor_count"].get<int64_t>() > 0); // the lens's own
  CAF_CHECK_EQUAL(ov["store"], true);
  // Actors through the sandbox; one by id and by name.
  auto xs = get(cli, "/api/actors", 200)["actors"];
  CAF_REQUIRE(xs.is_array() && !xs.empty());
  auto id = xs[0]["id"].get<uint64_t>();
  auto one = get(cli, "/api/actors/" + std::to_string(id), 200);
  CAF_CHECK_EQUAL(one["info"]["id"], id);
  auto by_name = get(cli, "/api/actors/"
                            + httplib::detail::encode_query_param(
                              xs[0]["name"].get<std::string>()),
                     200);
  CAF_CHECK_EQUAL(by_name["info"]["name"], xs[0]["name"]);
  // A name no Lua literal can escape from.
  auto hostile = get(cli, "/api/actors/x%22)%20os.exit(1)%20--", 404);
  CAF_CHECK(hostile["error"].get<std::string>().find("no tracked actor")
            != std::string::npos);
  CAF_CHECK(get(cli, "/api/supervision", 200)["trees"].is_array());
  CAF_CHECK(get(cli, "/api/nodes", 200)["nodes"][0]["state"] == "self");
  CAF_CHECK(get(cli, "/api/nope", 404).contains("error"));
  // An investigation from the dashboard lands in the store.
  auto bad = cli.Post("/api/investigations", "{}", "application/json");
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->status, 400);
  auto started = cli.Post("/api/investigations",
                          R"({"reason":"checking from the dashboard"})",
                          "application/json");
  CAF_REQUIRE(started);
  CAF_CHECK_EQUAL(started->status, 202);
  json rows;
  for (int i = 0; i < 300; ++i) {
    rows = get(cli, "/api/investigations", 200)["investigations"];
    if (!rows.empty())
      break;
    std::this_thread::sleep_for(100ms);
  }
  CAF_REQUIRE_EQUAL(rows.size(), 1u);
  CAF_CHECK_EQUAL(rows[0]["reason"], "checking from the dashboard");
  auto trace = rows[0]["trace_id"].get<std::string>();
  auto detail = get(cli, "/api/investigations/" + trace, 200);
  CAF_CHECK_EQUAL(detail["row"]["trace_id"], trace);
  CAF_CHECK(detail["timeline"].is_array() && !detail["timeline"].empty());
  get(cli, "/api/investigations/0123456789abcdef", 404);
  // A second one: the first one's thread is joined (409 while it still
  // reports its result).
  int status = 0;
  for (int i = 0; i < 100 && status != 202; ++i) {
    auto again = cli.Post("/api/investigations", R"({"reason":"once more"})",
                          "application/json");
    CAF_REQUIRE(again);
    status = again->status;
    if (status != 202) {
      CAF_CHECK_EQUAL(status, 409);
      std::this_thread::sleep_for(50ms);
    }
  }
  CAF_CHECK_EQUAL(status, 202);
  for (int i = 0; i < 300; ++i) {
    rows = get(cli, "/api/investigations", 200)["investigations"];
    if (rows.size() == 2)
      break;
    std::this_thread::sleep_for(100ms);
  }
  CAF_CHECK_EQUAL(rows.size(), 2u);
  // The chart history fills from the sampler.
  json series;
  for (int i = 0; i < 100; ++i) {
    series = get(cli, "/api/series", 200)["series"];
    if (series.contains("cpu_percent"))
      break;
    std::this_thread::sleep_for(100ms);
  }
  CAF_CHECK(series.contains("rss_bytes"));
  CAF_CHECK(series.contains("cpu_percent"));
  d->stop();
  CAF_CHECK(!cli.Get("/api/overview"));
  l->stop();
}

CAF_TEST(a token is required when set) {
  auto l = start_lens();
  CAF_REQUIRE(l);
  dashboard::options o;
  o.token = "s3cret";
  auto d = dashboard::server::start(*l, o);
  CAF_REQUIRE(d);
  httplib::Client cli{"127.0.0.1", d->port()};
  get(cli, "/api/overview", 401);
  auto page = cli.Get("/");
  CAF_REQUIRE(page);
  CAF_CHECK_EQUAL(page->status, 401);
  httplib::Headers wrong{{"Authorization", "Bearer s3cre"}};
  auto w = cli.Get("/api/nodes", wrong);
  CAF_REQUIRE(w);
  CAF_CHECK_EQUAL(w->status, 401);
  httplib::Headers right{{"Authorization", "Bearer s3cret"}};
  auto r = cli.Get("/api/nodes", right);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->status, 200);
  auto login = cli.Get("/?token=s3cret");
  CAF_REQUIRE(login);
  CAF_CHECK_EQUAL(login->status, 302);
  CAF_CHECK(login->get_header_value("Set-Cookie").find("HttpOnly")
            != std::string::npos);
  httplib::Headers cookie{{"Cookie", "a=b; caflens_token=s3cret"}};
  auto c = cli.Get("/app.js", cookie);
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->status, 200);
  CAF_CHECK(c->body.size() > 1000);
  d->stop();
  l->stop();
}

CAF_TEST(secrets in the application never reach the browser) {
  // Planted where an operator on call would look: an actor's state view, a
  // log line, an alert's text.
  const std::string key = "sk-ant-api03-PLANTEDxSECRETx0123456789abcdef";
  auto l = start_lens();
  CAF_REQUIRE(l);
  auto vault = skills::spawn_tracked(
    *sys, {"vault", "vault", 0}, [key](caf::event_based_actor* self) {
      skills::expose_state(self, [key] {
        return json{{"password", "hunter2-planted"},
                    {"note", "uses " + key},
                    {"entries", 3}};
      });
      return caf::behavior{[](int) {}};
    });
  l->logs()->append("error", "vault", "login with Bearer " + key + " failed");
  auto d = dashboard::server::start(*l, {});
  CAF_REQUIRE(d);
  httplib::Client cli{"127.0.0.1", d->port()};
  cli.set_read_timeout(30, 0);
  auto state = get(cli, "/api/actors/vault", 200);
  CAF_CHECK_EQUAL(state["state"]["entries"], 3); // the view itself is there
  std::string everything = state.dump();
  for (auto path : {"/api/actors", "/api/logs", "/api/logs?q=login",
                    "/api/supervision", "/api/overview"})
    everything += get(cli, path, 200).dump();
  CAF_CHECK(everything.find("hunter2-planted") == std::string::npos);
  CAF_CHECK(everything.find("PLANTEDxSECRET") == std::string::npos);
  CAF_CHECK(everything.find("[REDACTED]") != std::string::npos);
  // The same program through lens::execute (caflens shell).
  auto r = l->execute("", "print(actor_state('vault').note) "
                          "return actor_state('vault')");
  CAF_REQUIRE(r);
  CAF_CHECK(r->output.find("PLANTEDxSECRET") == std::string::npos);
  CAF_CHECK(r->value.dump().find("hunter2-planted") == std::string::npos);
  d->stop();
  caf::anon_send_exit(vault, caf::exit_reason::user_shutdown);
  l->stop();
}

CAF_TEST_FIXTURE_SCOPE_END()
