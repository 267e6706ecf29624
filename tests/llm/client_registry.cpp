#define CAF_SUITE llm.client_registry
#include "caf/test/unit_test.hpp"

#include <mutex>

#include "caflens/llm/client_registry.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/telemetry/bus.hpp"

#include "llm_test_support.hpp"

using namespace caflens::llm;
using namespace std::chrono_literals;
namespace ctm = caflens::telemetry;

namespace {

const std::string anthropic_path = "/v1/messages";
const std::string openai_path = "/v1/chat/completions";

struct fixture {
  mock_provider mock;
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::shared_ptr<client_registry> reg = std::make_shared<client_registry>();
  std::mutex mtx;
  std::vector<std::string> events;

  fixture() {
    auto names =
      std::vector<ctm::event_name>{{"caflens", "llm", "fallback"},
                                   {"caflens", "llm", "circuit_open"},
                                   {"caflens", "llm", "circuit_close"},
                                   {"caflens", "llm", "retry"}};
    ctm::attach_many("llm.client_registry.test", names,
                     [this](const ctm::event_name& e, const ctm::measurements&,
                            const ctm::metadata&, const std::any&) {
                       std::lock_guard<std::mutex> guard{mtx};
                       events.push_back(e.str());
                     });
  }

  ~fixture() { ctm::detach("llm.client_registry.test"); }

  size_t count(const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::count(events.begin(), events.end(), name);
  }

  void add(const std::string& name, provider_kind kind,
           std::function<void(client_config&)> tweak = {}) {
    auto base = kind == provider_kind::anthropic ? mock.base_url()
                                                 : mock.openai_base_url();
    auto cfg = mock_config(name, kind, base);
    if (tweak)
      tweak(cfg);
    CAF_REQUIRE(!reg->add(cfg, mock_services(clk)));
  }

  completion_request request() {
    completion_request req;
    req.messages.push_back(message::make_user("Weather in SF?"));
    req.tools = kit_tools();
    return req;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(registry_tests, fixture)

CAF_TEST(provider down uses the fallback client) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_529_overloaded")});
  mock.script(openai_path, {mock_reply::fixture("openai_tool_calls")});
  add("primary", provider_kind::anthropic);
  add("backup", provider_kind::openai_compatible);
  CAF_REQUIRE(!reg->set_fallbacks("primary", {"backup"}));
  auto r = reg->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->client, "backup");
  CAF_CHECK_EQUAL(mock.requests(anthropic_path).size(), 3u);
  CAF_CHECK_EQUAL(count("caflens.llm.fallback"), 1u);
  CAF_CHECK_EQUAL(count("caflens.llm.retry"), 2u);
}

CAF_TEST(connection refused falls back) {
  auto down = mock_config("down", provider_kind::anthropic,
                          "http://127.0.0.1:" + std::to_string(unused_port()));
  CAF_REQUIRE(!reg->add(down, mock_services(clk)));
  mock.script(openai_path, {mock_reply::fixture("ollama_tool_calls")});
  add("local", provider_kind::openai_compatible);
  CAF_REQUIRE(!reg->set_fallbacks("down", {"local"}));
  auto r = reg->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->client, "local");
}

CAF_TEST(the circuit breaker keeps later calls off a failing primary) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_529_overloaded")});
  mock.script(openai_path, {mock_reply::fixture("openai_tool_calls")});
  add("primary", provider_kind::anthropic, [](client_config& cfg) {
    cfg.breaker.failure_threshold = 3;
    cfg.breaker.open_duration = 10s;
  });
  add("backup", provider_kind::openai_compatible);
  CAF_REQUIRE(!reg->set_fallbacks("primary", {"backup"}));
  for (int i = 0; i < 5; ++i) {
    auto r = reg->complete(request());
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->client, "backup");
  }
  // 3 attempts opened the breaker; the next 4 calls never reached it.
  CAF_CHECK_EQUAL(mock.requests(anthropic_path).size(), 3u);
  CAF_CHECK_EQUAL(count("caflens.llm.circuit_open"), 1u);
  CAF_CHECK(reg->find("primary")->breaker().current() ==
            circuit_breaker::state::open);
  // After the open duration one probe goes through; it succeeds and closes.
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use")});
  clk->advance(11s);
  auto r = reg->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->client, "primary");
  CAF_CHECK_EQUAL(count("caflens.llm.circuit_close"), 1u);
  CAF_CHECK(reg->find("primary")->breaker().current() ==
            circuit_breaker::state::closed);
}

CAF_TEST(round robin spreads calls) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use")});
  mock.script(openai_path, {mock_reply::fixture("openai_tool_calls")});
  add("a", provider_kind::anthropic);
  add("b", provider_kind::openai_compatible);
  CAF_REQUIRE(!reg->set_round_robin({"a", "b"}));
  std::vector<std::string> used;
  for (int i = 0; i < 4; ++i) {
    auto r = reg->complete(request());
    CAF_REQUIRE(r);
    used.push_back(r->client);
  }
  CAF_CHECK_EQUAL(used, (std::vector<std::string>{"a", "b", "a", "b"}));
}

CAF_TEST(bad requests do not fall back) {
  mock.script(anthropic_path,
              {mock_reply::fixture("anthropic_400_invalid_request")});
  mock.script(openai_path, {mock_reply::fixture("openai_tool_calls")});
  add("primary", provider_kind::anthropic);
  add("backup", provider_kind::openai_compatible);
  CAF_REQUIRE(!reg->set_fallbacks("primary", {"backup"}));
  auto r = reg->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::bad_request);
  CAF_CHECK(mock.requests(openai_path).empty());
  CAF_CHECK_EQUAL(mock.requests(anthropic_path).size(), 1u);
}

CAF_TEST(unknown names and duplicates are rejected) {
  add("a", provider_kind::anthropic);
  CAF_CHECK_EQUAL(llm_code(reg->set_primary("zz")), llm_errc::no_client);
  auto cfg = mock_config("a", provider_kind::anthropic, mock.base_url());
  CAF_CHECK_EQUAL(llm_code(reg->add(cfg)), llm_errc::invalid_config);
  client_registry empty;
  CAF_CHECK_EQUAL(llm_code(empty.complete(request()).error()),
                  llm_errc::no_client);
}

CAF_TEST_FIXTURE_SCOPE_END()
