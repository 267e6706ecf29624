#define CAF_SUITE llm.client
#include "caf/test/unit_test.hpp"

#include "caflens/llm/client.hpp"
#include "caflens/llm/llm_errc.hpp"

#include "llm_test_support.hpp"

#include <atomic>
#include <thread>

using namespace caflens::llm;
using namespace std::chrono_literals;

namespace {

const std::string anthropic_path = "/v1/messages";
const std::string openai_path = "/v1/chat/completions";
const std::string key = "sk-ant-api03-SUPERSECRETKEYVALUE0123456789";

struct fixture {
  mock_provider mock;
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();

  std::shared_ptr<client> make(provider_kind kind,
                               std::function<void(client_config&)> tweak = {}) {
    auto base = kind == provider_kind::anthropic ? mock.base_url()
                                                 : mock.openai_base_url();
    auto cfg = mock_config("test", kind, base);
    if (tweak)
      tweak(cfg);
    auto c = client::make(cfg, mock_services(clk, key));
    CAF_REQUIRE(c);
    return *c;
  }

  completion_request request() {
    completion_request req;
    req.system = "You are a helpful assistant.";
    req.messages.push_back(message::make_user("Weather in SF?"));
    req.tools = kit_tools();
    req.trace_id = "trace-1";
    return req;
  }
};

std::string text_of(const caf::error& err) {
  return caflens::render_error(err);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(client_tests, fixture)

CAF_TEST(a successful anthropic call sends the documented headers) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use")});
  auto c = make(provider_kind::anthropic);
  auto r = c->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->tool_calls.at(0).id, "toolu_01LRanfq6DmHn1yDTB4d1SAh");
  CAF_CHECK_EQUAL(r->usage.input_tokens, 701);
  CAF_CHECK_EQUAL(r->usage.output_tokens, 93);
  CAF_CHECK_EQUAL(r->retries, 0);
  CAF_CHECK(r->cost_usd > 0);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  CAF_CHECK_EQUAL(reqs[0].headers["x-api-key"], key);
  CAF_CHECK_EQUAL(reqs[0].headers["anthropic-version"], "2023-06-01");
  CAF_CHECK_EQUAL(reqs[0].headers["content-type"], "application/json");
  CAF_CHECK_EQUAL(reqs[0].json["max_tokens"], 1024);
  CAF_CHECK_EQUAL(reqs[0].json["system"], "You are a helpful assistant.");
}

CAF_TEST(429 with retry after is honoured) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_429_rate_limit"),
                               mock_reply::fixture("anthropic_tool_use")});
  auto c = make(provider_kind::anthropic);
  auto r = c->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->retries, 1);
  auto sleeps = clk->sleeps();
  CAF_REQUIRE_EQUAL(sleeps.size(), 1u);
  CAF_CHECK(sleeps[0] >= 1000ms);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  CAF_CHECK_EQUAL(reqs[0].body, reqs[1].body); // the same request again
}

CAF_TEST(500 is retried) {
  mock.script(openai_path, {mock_reply::fixture("openai_500_server_error"),
                            mock_reply::fixture("openai_tool_calls")});
  auto r = make(provider_kind::openai_compatible)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->retries, 1);
  CAF_CHECK_EQUAL(mock.requests().size(), 2u);
}

CAF_TEST(529 overloaded backs off exponentially and stops) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_529_overloaded")});
  auto c = make(provider_kind::anthropic, [](client_config& cfg) {
    cfg.retry.max_attempts = 4;
    cfg.retry.jitter = 0;
  });
  auto r = c->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::overloaded);
  CAF_CHECK_EQUAL(mock.requests().size(), 4u);
  auto sleeps = clk->sleeps();
  CAF_REQUIRE_EQUAL(sleeps.size(), 3u);
  CAF_CHECK_EQUAL(sleeps[0], 100ms);
  CAF_CHECK_EQUAL(sleeps[1], 200ms);
  CAF_CHECK_EQUAL(sleeps[2], 400ms);
  CAF_CHECK(text_of(r.error()).find("4 attempt") != std::string::npos);
}

CAF_TEST(jitter keeps delays within the backoff window) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_529_overloaded")});
  auto c = make(provider_kind::anthropic,
                [](client_config& cfg) { cfg.retry.max_attempts = 3; });
  CAF_CHECK(!c->complete(request()));
  auto sleeps = clk->sleeps();
  CAF_REQUIRE_EQUAL(sleeps.size(), 2u);
  CAF_CHECK(sleeps[0] >= 50ms && sleeps[0] <= 100ms);
  CAF_CHECK(sleeps[1] >= 100ms && sleeps[1] <= 200ms);
}

CAF_TEST(503 busy is retried) {
  mock.script(openai_path, {mock_reply::fixture("ollama_503_busy"),
                            mock_reply::fixture("ollama_tool_calls")});
  auto r = make(provider_kind::openai_compatible)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->tool_calls.at(0).id, "call_k3h9x2qa");
}

CAF_TEST(connection refused is a bounded connection failure) {
  auto cfg = mock_config("down", provider_kind::anthropic,
                         "http://127.0.0.1:" + std::to_string(unused_port()));
  auto c = client::make(cfg, mock_services(clk, key));
  CAF_REQUIRE(c);
  auto r = (*c)->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::connection_failed);
  CAF_CHECK_EQUAL((*c)->totals().attempts, 3);
}

CAF_TEST(a read timeout gives up) {
  mock.script(anthropic_path, {mock_reply::hang()});
  auto c = make(provider_kind::anthropic, [](client_config& cfg) {
    cfg.read_timeout = 300ms;
    cfg.retry.max_attempts = 1;
  });
  auto r = c->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::timeout);
}

CAF_TEST(a truncated body is a transport error and never parsed) {
  auto body = mock_reply::fixture("anthropic_tool_use").body;
  mock.script(anthropic_path, {mock_reply::truncated(body, 180),
                               mock_reply::fixture("anthropic_tool_use")});
  auto c = make(provider_kind::anthropic,
                [](client_config& cfg) { cfg.retry.max_attempts = 1; });
  auto r = c->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::transport_error);
  CAF_MESSAGE(text_of(r.error()));
  // With retries the next attempt succeeds.
  auto c2 = make(provider_kind::anthropic);
  CAF_CHECK(c2->complete(request()));
}

CAF_TEST(a non json body is survived) {
  mock.script(openai_path, {mock_reply::fixture("proxy_502_html"),
                            mock_reply::json(200, "<html>oops</html>"),
                            mock_reply::fixture("openai_tool_calls")});
  auto r = make(provider_kind::openai_compatible)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->retries, 2);
}

CAF_TEST(auth errors are not retried and never show the key) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_401_authentication")});
  auto r = make(provider_kind::anthropic)->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::auth_failed);
  CAF_CHECK_EQUAL(mock.requests().size(), 1u);
  CAF_CHECK(text_of(r.error()).find(key) == std::string::npos);
}

CAF_TEST(a 429 that needs user action is not retried) {
  mock.script(openai_path,
              {mock_reply::fixture("openai_429_insufficient_quota")});
  auto r = make(provider_kind::openai_compatible)->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::quota_exceeded);
  CAF_CHECK_EQUAL(mock.requests().size(), 1u);
}

CAF_TEST(a 200 carrying an error is retried) {
  mock.script(openai_path, {mock_reply::fixture("openrouter_200_error_body"),
                            mock_reply::fixture("openrouter_tool_calls")});
  auto r = make(provider_kind::openai_compatible)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->retries, 1);
}

CAF_TEST(a missing key fails before sending) {
  auto cfg = mock_config("nokey", provider_kind::anthropic, mock.base_url());
  cfg.api_key_env = "CAFLENS_TEST_UNSET_VARIABLE";
  auto c = client::make(cfg, mock_services(clk));
  CAF_REQUIRE(c);
  auto r = (*c)->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::missing_api_key);
  CAF_CHECK(mock.requests().empty());
}

CAF_TEST(invalid configs name the key) {
  auto cfg = mock_config("bad", provider_kind::anthropic, "ftp://x");
  auto c = client::make(cfg);
  CAF_REQUIRE(!c);
  CAF_CHECK(text_of(c.error()).find("base_url") != std::string::npos);
}

CAF_TEST(a retry after given as an http date is measured against the date header) {
  auto busy = mock_reply::fixture("anthropic_429_rate_limit");
  busy.headers.clear();
  busy.headers.emplace_back("retry-after", "Sun, 06 Nov 1994 08:49:40 GMT");
  // The provider's own clock: 3 s before the retry time, whatever ours says.
  busy.headers.emplace_back("date", "Sun, 06 Nov 1994 08:49:37 GMT");
  mock.script(anthropic_path,
              {busy, mock_reply::fixture("anthropic_tool_use")});
  auto c = make(provider_kind::anthropic, [](client_config& cfg) {
    cfg.retry.jitter = 0;
  });
  auto r = c->complete(request());
  CAF_REQUIRE(r);
  auto sleeps = clk->sleeps();
  CAF_REQUIRE_EQUAL(sleeps.size(), 1u);
  CAF_CHECK(sleeps[0] >= 3000ms);
  CAF_CHECK(sleeps[0] < 3500ms);
}

// The deadline and cancel tests run on the real clock: what they prove is
// that a blocking transfer ends in time.

CAF_TEST(a hanging server is given up at the time left not at the read timeout) {
  mock.script(openai_path, {mock_reply::hang()});
  auto cfg = mock_config("hang", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.read_timeout = 20s;
  cfg.retry.max_attempts = 4;
  auto c = client::make(cfg, mock_services(clock::system(), key));
  CAF_REQUIRE(c);
  auto req = request();
  req.time_left = 700ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*c)->complete(req);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::deadline_exceeded);
  CAF_CHECK(took >= 650ms);
  CAF_CHECK(took < 2500ms);
  // The cut attempt is not the endpoint's failure.
  CAF_CHECK_EQUAL((*c)->breaker().consecutive_failures(), 0);
}

CAF_TEST(cancel interrupts a transfer in progress) {
  mock.script(anthropic_path, {mock_reply::hang()});
  auto cfg = mock_config("cancel", provider_kind::anthropic, mock.base_url());
  cfg.read_timeout = 20s;
  auto c = client::make(cfg, mock_services(clock::system(), key));
  CAF_REQUIRE(c);
  auto flag = std::make_shared<std::atomic<bool>>(false);
  auto req = request();
  req.cancelled = [flag] { return flag->load(); };
  std::thread canceller{[flag] {
    std::this_thread::sleep_for(300ms);
    flag->store(true);
  }};
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*c)->complete(req);
  auto took = std::chrono::steady_clock::now() - t0;
  canceller.join();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::cancelled);
  CAF_CHECK(took < 2500ms);
}

CAF_TEST(a burst of errors from concurrent loops does not fail them) {
  // Five loops share the endpoint's breaker (threshold 5). The first five
  // requests fail with 500 and open it; the server has recovered by then.
  // Every call still had retries and time left: each waits for the
  // half-open probe and succeeds.
  std::vector<mock_reply> script(5, mock_reply::fixture("openai_500_server_error"));
  script.push_back(mock_reply::fixture("openai_tool_calls"));
  mock.script(openai_path, script);
  auto cfg = mock_config("loop", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.breaker.failure_threshold = 5;
  cfg.breaker.open_duration = 300ms;
  cfg.retry.max_attempts = 4;
  cfg.retry.initial_backoff = 10ms;
  std::vector<std::shared_ptr<client>> loops;
  for (int i = 0; i < 5; ++i) {
    auto x = cfg;
    x.name = "loop-" + std::to_string(i); // one client each, one endpoint
    auto c = client::make(x, mock_services(clock::system(), key));
    CAF_REQUIRE(c);
    loops.push_back(*c);
  }
  CAF_CHECK_EQUAL(&loops[0]->breaker(), &loops[4]->breaker());
  std::vector<caf::expected<completion>> results(5, caf::error{});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 5; ++i)
    threads.emplace_back([&, i] {
      auto req = request();
      req.time_left = 10s;
      // Odd loops share one client (as coordinator and operators share
      // the configured one), even loops have their own.
      results[i] = loops[i % 2 == 1 ? 1 : i]->complete(req);
    });
  for (auto& t : threads)
    t.join();
  for (auto& r : results) {
    if (!r)
      CAF_FAIL("a loop failed: " << text_of(r.error()));
  }
  CAF_CHECK(loops[0]->breaker().current() == circuit_breaker::state::closed);
}

CAF_TEST(a local server is sent its context window and one call at a time) {
  auto slow = mock_reply::fixture("openai_tool_calls");
  slow.delay = 150ms;
  mock.script(openai_path, {slow});
  auto cfg = mock_config("ollama", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.context_window = 16384;
  cfg.send_num_ctx = true;
  cfg.max_concurrent = 1;
  auto c = client::make(cfg, mock_services(clock::system(), key));
  CAF_REQUIRE(c);
  std::vector<std::thread> loops;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i)
    loops.emplace_back([&] {
      auto req = request();
      req.time_left = 5s;
      if ((*c)->complete(req))
        ++ok;
    });
  for (auto& t : loops)
    t.join();
  CAF_CHECK_EQUAL(ok.load(), 3);
  CAF_CHECK_EQUAL(mock.max_in_flight(), 1);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 3u);
  CAF_CHECK_EQUAL(reqs[0].json["options"]["num_ctx"], 16384);
  // A local server knows max_tokens.
  CAF_CHECK(reqs[0].json.contains("max_tokens"));
  CAF_CHECK(!reqs[0].json.contains("max_completion_tokens"));
}

CAF_TEST(a slot that never frees ends the call at its time left) {
  auto slow = mock_reply::fixture("openai_tool_calls");
  slow.delay = 2s;
  mock.script(openai_path, {slow});
  auto cfg = mock_config("busy", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.max_concurrent = 1;
  auto c = client::make(cfg, mock_services(clock::system(), key));
  CAF_REQUIRE(c);
  std::thread first{[&] {
    auto req = request();
    req.time_left = 5s;
    std::ignore = (*c)->complete(req);
  }};
  while (mock.requests().empty())
    std::this_thread::yield();
  auto req = request();
  req.time_left = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*c)->complete(req);
  auto took = std::chrono::steady_clock::now() - t0;
  first.join();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::deadline_exceeded);
  CAF_CHECK(text_of(r.error()).find("slot") != std::string::npos);
  CAF_CHECK(took < 1500ms);
}

CAF_TEST(openai itself is sent max_completion_tokens) {
  auto cfg = mock_config("openai", provider_kind::openai_compatible,
                         "https://api.openai.com/v1");
  auto fmt = wire_format::make(provider_kind::openai_compatible);
  auto body = fmt->encode(request(), cfg);
  CAF_CHECK_EQUAL(body["max_completion_tokens"], 1024);
  CAF_CHECK(!body.contains("max_tokens"));
  CAF_CHECK(!body.contains("options"));
  cfg.max_completion_tokens = false;
  CAF_CHECK(fmt->encode(request(), cfg).contains("max_tokens"));
  // A window no larger than the reply is refused.
  cfg.context_window = 1000;
  CAF_CHECK(cfg.validate());
}

CAF_TEST_FIXTURE_SCOPE_END()
