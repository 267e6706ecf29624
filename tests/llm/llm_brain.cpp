#define CAF_SUITE llm.llm_brain
#include "caf/test/unit_test.hpp"

#include <mutex>

#include "caflens/llm/llm_brain.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/telemetry/bus.hpp"

#include "llm_test_support.hpp"

using namespace caflens::llm;
using namespace std::chrono_literals;
using nlohmann::json;
namespace ctm = caflens::telemetry;

namespace {

const std::string anthropic_path = "/v1/messages";
const std::string openai_path = "/v1/chat/completions";

struct seen_event {
  std::string name;
  json metadata;
  json measurements;
};

struct fixture {
  mock_provider mock;
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::shared_ptr<client_registry> reg = std::make_shared<client_registry>();
  std::mutex mtx;
  std::vector<seen_event> events;

  fixture() {
    ctm::attach_many("llm.llm_brain.test",
                     {{"caflens", "llm", "start"},
                      {"caflens", "llm", "stop"},
                      {"caflens", "llm", "exception"},
                      {"caflens", "llm", "tool_error"},
                      {"caflens", "llm", "budget_exceeded"}},
                     [this](const ctm::event_name& e,
                            const ctm::measurements& m, const ctm::metadata& md,
                            const std::any&) {
                       std::lock_guard<std::mutex> guard{mtx};
                       events.push_back({e.str(), md.to_json(), m.to_json()});
                     });
  }

  ~fixture() { ctm::detach("llm.llm_brain.test"); }

  std::vector<seen_event> named(const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<seen_event> result;
    for (auto& e : events)
      if (e.name == name)
        result.push_back(e);
    return result;
  }

  void use(provider_kind kind, std::shared_ptr<const redactor> red = nullptr) {
    auto base = kind == provider_kind::anthropic ? mock.base_url()
                                                 : mock.openai_base_url();
    auto svc = mock_services(clk);
    svc.redactor = std::move(red);
    CAF_REQUIRE(!reg->add(mock_config("m", kind, base), svc));
  }

  conversation conv() {
    conversation c{"You are a helpful assistant.", "trace-42"};
    c.add_user("What's the weather in San Francisco, CA in Fahrenheit?");
    return c;
  }

  static std::string weather() {
    return R"({"location":"San Francisco, CA","temperature":"68F"})";
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(llm_brain_tests, fixture)

CAF_TEST(a tool loop runs to the final answer with telemetry) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use"),
                               mock_reply::fixture("anthropic_end_turn")});
  use(provider_kind::anthropic);
  llm_brain brain{reg};
  auto c = conv();
  auto tools = kit_tools();
  auto call = brain.decide(c, tools);
  CAF_REQUIRE(call);
  CAF_CHECK_EQUAL(call->name, "get_weather");
  c.add_tool_result(call->id, weather());
  auto answer = brain.decide(c, tools);
  CAF_REQUIRE(answer);
  CAF_CHECK_EQUAL(answer->name, "done");
  CAF_CHECK(answer->arguments["answer"].get<std::string>().find("Sunny") !=
            std::string::npos);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  auto& last_msg = reqs[1].json["messages"].back();
  CAF_CHECK_EQUAL(last_msg["content"][0]["type"], "tool_result");
  CAF_CHECK_EQUAL(last_msg["content"][0]["tool_use_id"],
                  "toolu_01LRanfq6DmHn1yDTB4d1SAh");
  auto stops = named("caflens.llm.stop");
  CAF_REQUIRE_EQUAL(stops.size(), 2u);
  CAF_CHECK_EQUAL(stops[0].metadata["trace_id"], "trace-42");
  CAF_CHECK_EQUAL(stops[0].metadata["iteration"], 1);
  CAF_CHECK_EQUAL(stops[0].metadata["tool_selected"], "get_weather");
  CAF_CHECK_EQUAL(stops[0].measurements["input_tokens"], 701.0);
  CAF_REQUIRE_EQUAL(named("caflens.llm.start").size(), 2u);
  CAF_CHECK(named("caflens.llm.start")[0].metadata["context_size"] > 0);
  CAF_CHECK_EQUAL(brain.calls().size(), 2u);
}

CAF_TEST(an unknown tool goes back to the model as a tool error) {
  mock.script(openai_path, {mock_reply::fixture("openai_unknown_tool"),
                            mock_reply::fixture("openai_tool_calls"),
                            mock_reply::fixture("openai_text")});
  use(provider_kind::openai_compatible);
  llm_brain brain{reg};
  auto c = conv();
  auto call = brain.decide(c, kit_tools());
  CAF_REQUIRE(call);
  CAF_CHECK_EQUAL(call->name, "get_weather");
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  auto& msgs = reqs[1].json["messages"];
  auto& err = msgs.back();
  CAF_CHECK_EQUAL(err["role"], "tool");
  CAF_CHECK_EQUAL(err["tool_call_id"], "call_Kd5vF8mNq2Xs7TbZw4Hy1LcR");
  CAF_CHECK(err["content"].get<std::string>().find("unknown tool "
                                                   "'get_stock_price'") !=
            std::string::npos);
  CAF_CHECK_EQUAL(named("caflens.llm.tool_error").size(), 1u);
  CAF_CHECK_EQUAL(brain.tool_errors(), 1);
}

CAF_TEST(missing arguments go back as an is_error tool result) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_invalid_input"),
                               mock_reply::fixture("anthropic_tool_use")});
  use(provider_kind::anthropic);
  llm_brain brain{reg};
  auto c = conv();
  auto call = brain.decide(c, kit_tools());
  CAF_REQUIRE(call);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  auto& block = reqs[1].json["messages"].back()["content"][0];
  CAF_CHECK_EQUAL(block["tool_use_id"], "toolu_01Ck9ZrT2yHwQb6nVm4XsP8e");
  CAF_CHECK_EQUAL(block["is_error"], true);
  auto text = block["content"].get<std::string>();
  CAF_CHECK(text.find("missing required argument 'location'") !=
            std::string::npos);
}

CAF_TEST(broken json is re_asked a bounded number of times) {
  mock.script(openai_path, {mock_reply::fixture("openai_invalid_arguments")});
  use(provider_kind::openai_compatible);
  llm_brain_config cfg;
  cfg.max_reasks = 2;
  llm_brain brain{reg, cfg};
  auto c = conv();
  auto r = brain.decide(c, kit_tools());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::invalid_tool_call);
  CAF_CHECK_EQUAL(mock.requests().size(), 3u);
  // The broken arguments are echoed verbatim as a string.
  auto reqs = mock.requests();
  auto echoed = reqs.at(1).json["messages"][2]["tool_calls"][0];
  CAF_CHECK(echoed["function"]["arguments"].is_string());
}

CAF_TEST(a tool call in plain text is accepted) {
  mock.script(openai_path, {mock_reply::fixture("small_model_json_fenced"),
                            mock_reply::fixture("ollama_text")});
  use(provider_kind::openai_compatible);
  llm_brain brain{reg};
  auto c = conv();
  auto call = brain.decide(c, kit_tools());
  CAF_REQUIRE(call);
  CAF_CHECK_EQUAL(call->name, "get_weather");
  CAF_CHECK_EQUAL(call->arguments["units"], "f");
  c.add_tool_result(call->id, weather());
  auto answer = brain.decide(c, kit_tools());
  CAF_REQUIRE(answer);
  CAF_CHECK_EQUAL(answer->name, "done");
  auto reqs = mock.requests();
  auto msgs = reqs.at(1).json["messages"];
  CAF_CHECK_EQUAL(msgs.back()["role"], "tool");
  CAF_CHECK_EQUAL(msgs.back()["tool_call_id"], call->id);
}

CAF_TEST(parallel calls come back one by one) {
  mock.script(openai_path, {mock_reply::fixture("openai_parallel_tool_calls"),
                            mock_reply::fixture("openai_text")});
  use(provider_kind::openai_compatible);
  llm_brain brain{reg};
  auto c = conv();
  auto tools = kit_tools();
  auto first = brain.decide(c, tools);
  CAF_REQUIRE(first);
  c.add_tool_result(first->id, weather());
  auto second = brain.decide(c, tools);
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->name, "get_time");
  CAF_CHECK_EQUAL(mock.requests().size(), 1u);
  c.add_tool_result(second->id, "10:00");
  CAF_REQUIRE(brain.decide(c, tools));
  CAF_CHECK_EQUAL(mock.requests().size(), 2u);
}

CAF_TEST(a truncated answer is flagged) {
  mock.script(openai_path, {mock_reply::fixture("openai_length")});
  use(provider_kind::openai_compatible);
  llm_brain brain{reg};
  auto c = conv();
  auto r = brain.decide(c, kit_tools());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::response_truncated);
}

CAF_TEST(a spent budget asks for the final answer instead of cutting off) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use"),
                               mock_reply::fixture("anthropic_end_turn")});
  use(provider_kind::anthropic);
  llm_brain brain{reg};
  auto c = conv();
  budget_limits limits;
  limits.max_tokens = 500; // the first call alone uses 794
  c.budget(std::make_shared<budget>(limits, clk));
  auto tools = kit_tools();
  CAF_REQUIRE(!tools.add(tool_definition{
    "done", "Finish.", {tool_parameter::string("answer", "The answer.")}}));
  auto call = brain.decide(c, tools);
  CAF_REQUIRE(call);
  c.add_tool_result(call->id, weather());
  auto answer = brain.decide(c, tools);
  CAF_REQUIRE(answer);
  CAF_CHECK(c.final_answer_requested());
  CAF_CHECK_EQUAL(named("caflens.llm.budget_exceeded").size(), 1u);
  auto reqs = mock.requests();
  auto body = reqs.back().json;
  CAF_CHECK_EQUAL(body["tool_choice"]["name"], "done");
  CAF_CHECK_EQUAL(body["tools"].size(), 1u);
  auto last =
    body["messages"].back()["content"].back()["text"].get<std::string>();
  CAF_CHECK(last.find("budget is exhausted") != std::string::npos);
  // Asking again after the final answer was requested is refused.
  auto again = brain.decide(c, tools);
  CAF_REQUIRE(!again);
  CAF_CHECK_EQUAL(llm_code(again.error()), llm_errc::budget_exhausted);
}

CAF_TEST(a planted secret never reaches the provider) {
  mock.script(anthropic_path, {mock_reply::fixture("anthropic_tool_use"),
                               mock_reply::fixture("anthropic_end_turn")});
  redaction_config rc;
  rc.keys = {"db_password"};
  rc.patterns = {"SNAPSECRET-[0-9]+"};
  auto red = redactor::make(rc);
  CAF_REQUIRE(red);
  use(provider_kind::anthropic, std::make_shared<redactor>(*red));
  llm_brain brain{reg};
  auto c = conv();
  auto call = brain.decide(c, kit_tools());
  CAF_REQUIRE(call);
  c.add_tool_result(
    call->id,
    R"({"snapshot":"s-1","env":{"db_password":"hunter2-xyz"},"note":"token )"
    R"(SNAPSECRET-12345","auth":"Bearer abcdef123456789","key":"sk-ant-api03-LEAKEDKEY0123456789"})",
    false, {"s-1"});
  CAF_REQUIRE(brain.decide(c, kit_tools()));
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 2u);
  for (auto secret : {"hunter2-xyz", "SNAPSECRET-12345", "abcdef123456789",
                      "LEAKEDKEY0123456789", "sk-test-key-0123456789abcdef"}) {
    CAF_CHECK(reqs[1].body.find(secret) == std::string::npos);
  }
  CAF_CHECK(reqs[1].body.find("s-1") != std::string::npos);
  CAF_CHECK(reqs[1].body.find("[REDACTED]") != std::string::npos);
}

CAF_TEST(a context overflow compacts once and does not resend the same) {
  mock.script(openai_path,
              {mock_reply::fixture("llamacpp_400_exceed_context")});
  use(provider_kind::openai_compatible);
  llm_brain brain{reg};
  auto c = conv();
  auto r = brain.decide(c, kit_tools());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::context_overflow);
  CAF_CHECK_EQUAL(mock.requests().size(), 1u);
}

CAF_TEST(the compaction threshold follows the smallest context window) {
  auto cfg = mock_config("small", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.context_window = 8000;
  cfg.max_tokens = 1000;
  CAF_REQUIRE(!reg->add(cfg, mock_services(clk, "k")));
  llm_brain b{reg};
  // 8000 * 0.9 - 1000: the reply and the estimate's error fit too.
  CAF_CHECK_EQUAL(b.config().compaction.max_context_tokens, 6200u);
  llm_brain_config roomy;
  roomy.compaction.max_context_tokens = 4000;
  llm_brain smaller{reg, roomy};
  CAF_CHECK_EQUAL(smaller.config().compaction.max_context_tokens, 4000u);
}

CAF_TEST_FIXTURE_SCOPE_END()
