#define CAF_SUITE llm.wire_format
#include "caf/test/unit_test.hpp"

#include "caflens/llm/conversation.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/wire_format.hpp"

#include "llm_test_support.hpp"

using namespace caflens::llm;
using nlohmann::json;

namespace {

completion_request turn2(bool anthropic) {
  completion_request req;
  req.system = "You are a helpful assistant.";
  req.messages.push_back(message::make_user(
    "What's the weather in San Francisco, CA in Fahrenheit?"));
  tool_call call;
  call.id = anthropic ? "toolu_01A" : "call_A";
  call.name = "get_weather";
  call.arguments = {{"location", "San Francisco, CA"}, {"units", "f"}};
  if (!anthropic)
    call.arguments_text = R"({"location":"San Francisco, CA","units":"f"})";
  req.messages.push_back(
    message::make_assistant(anthropic ? "Let me check." : "", {call}));
  req.messages.push_back(message::make_tool_result(call.id, "get_weather",
                                                   R"({"temperature":"68F"})"));
  req.tools = kit_tools();
  return req;
}

http_response fixture_response(const std::string& name) {
  auto reply = mock_reply::fixture(name);
  http_response resp;
  resp.status = reply.status;
  resp.headers = reply.headers;
  resp.body = reply.body;
  return resp;
}

caf::expected<completion> decode(provider_kind kind, const std::string& name) {
  return wire_format::make(kind)->decode(fixture_response(name));
}

const auto openai = provider_kind::openai_compatible;
const auto anthropic = provider_kind::anthropic;

} // namespace

CAF_TEST(anthropic requests match the documented shape) {
  auto expected =
    read_json(fixtures_dir() + "/anthropic_messages_request.json");
  expected.erase("_source");
  client_config cfg = mock_config("a", anthropic, "http://x");
  auto body = wire_format::make(anthropic)->encode(turn2(true), cfg);
  CAF_CHECK_EQUAL(body.dump(2), expected.dump(2));
  auto hdrs = wire_format::make(anthropic)->headers(cfg, "k");
  CAF_CHECK(std::count(hdrs.begin(), hdrs.end(),
                       http_header{"anthropic-version", "2023-06-01"}) == 1);
  CAF_CHECK(
    std::count(hdrs.begin(), hdrs.end(), http_header{"x-api-key", "k"}) == 1);
}

CAF_TEST(openai requests match the documented shape) {
  auto expected = read_json(fixtures_dir() + "/openai_chat_request.json");
  expected.erase("_source");
  client_config cfg = mock_config("o", openai, "http://x");
  auto body = wire_format::make(openai)->encode(turn2(false), cfg);
  CAF_CHECK_EQUAL(body.dump(2), expected.dump(2));
  auto hdrs = wire_format::make(openai)->headers(cfg, "k");
  CAF_CHECK(std::count(hdrs.begin(), hdrs.end(),
                       http_header{"authorization", "Bearer k"}) == 1);
}

CAF_TEST(anthropic replies decode with usage and cache fields) {
  auto c = decode(anthropic, "anthropic_two_tool_uses");
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->tool_calls.size(), 2u);
  CAF_CHECK_EQUAL(c->tool_calls[1].id, "toolu_01BX8dUgqjqNNEWj9yvrHq7P");
  CAF_CHECK_EQUAL(c->usage.cache_read_tokens, 1536);
  CAF_CHECK_EQUAL(c->usage.prompt_tokens(), 112 + 1536);
  auto t = decode(anthropic, "anthropic_max_tokens");
  CAF_REQUIRE(t);
  CAF_CHECK(t->truncated);
}

CAF_TEST(openai compatible servers decode alike) {
  for (auto name :
       {"openai_tool_calls", "ollama_tool_calls", "ollama_tool_calls_v0_3_0",
        "llamacpp_tool_calls", "vllm_tool_calls", "openrouter_tool_calls"}) {
    CAF_MESSAGE(name);
    auto c = decode(openai, name);
    CAF_REQUIRE(c);
    CAF_REQUIRE_EQUAL(c->tool_calls.size(), 1u);
    CAF_CHECK_EQUAL(c->tool_calls[0].name, "get_weather");
    CAF_CHECK_EQUAL(c->tool_calls[0].arguments["units"], "f");
  }
  auto v = decode(openai, "vllm_text");
  CAF_REQUIRE(v);
  CAF_CHECK(v->tool_calls.empty());
  CAF_CHECK(!v->text.empty());
  auto bad = decode(openai, "openai_invalid_arguments");
  CAF_REQUIRE(bad);
  CAF_CHECK(bad->tool_calls[0].arguments.is_null());
  CAF_CHECK(!bad->tool_calls[0].arguments_text.empty());
}

CAF_TEST(error bodies are classified by status and error type) {
  auto code = [](provider_kind k, const std::string& name) {
    auto c = decode(k, name);
    CAF_REQUIRE(!c);
    CAF_MESSAGE(name << ": " << caflens::render_error(c.error()));
    return llm_code(c.error());
  };
  CAF_CHECK_EQUAL(code(anthropic, "anthropic_429_rate_limit"),
                  llm_errc::rate_limited);
  CAF_CHECK_EQUAL(code(anthropic, "anthropic_529_overloaded"),
                  llm_errc::overloaded);
  CAF_CHECK_EQUAL(code(anthropic, "anthropic_500_api_error"),
                  llm_errc::server_error);
  CAF_CHECK_EQUAL(code(anthropic, "anthropic_401_authentication"),
                  llm_errc::auth_failed);
  CAF_CHECK_EQUAL(code(anthropic, "anthropic_400_invalid_request"),
                  llm_errc::bad_request);
  CAF_CHECK_EQUAL(code(openai, "openai_429_insufficient_quota"),
                  llm_errc::quota_exceeded);
  CAF_CHECK_EQUAL(code(openai, "ollama_404_model_not_found"),
                  llm_errc::model_not_found);
  CAF_CHECK_EQUAL(code(openai, "llamacpp_400_exceed_context"),
                  llm_errc::context_overflow);
  CAF_CHECK_EQUAL(code(openai, "llamacpp_503_loading_model"),
                  llm_errc::overloaded);
  CAF_CHECK_EQUAL(code(openai, "vllm_400_flat_error"), llm_errc::bad_request);
  CAF_CHECK_EQUAL(code(openai, "openrouter_200_error_body"),
                  llm_errc::server_error);
  CAF_CHECK_EQUAL(code(openai, "proxy_502_html"), llm_errc::server_error);
  auto flat = decode(openai, "vllm_400_flat_error");
  CAF_CHECK(caflens::render_error(flat.error()).find("tool-call-parser") !=
            std::string::npos);
}

CAF_TEST(replies of unexpected shapes are invalid responses not exceptions) {
  // Found by the llm_response fuzzer: members the decoders compare with a
  // string, sent as objects, threw out of decode.
  auto decode_body = [](provider_kind k, int status, std::string body) {
    http_response resp;
    resp.status = status;
    resp.body = std::move(body);
    return wire_format::make(k)->decode(resp);
  };
  auto odd = decode_body(openai, 200, R"({"object": {"x": 1}, "id": 7})");
  CAF_REQUIRE(!odd);
  CAF_CHECK_EQUAL(llm_code(odd.error()), llm_errc::invalid_response);
  auto typed = decode_body(anthropic, 200, R"({"type": ["error"]})");
  CAF_REQUIRE(!typed);
  CAF_CHECK_EQUAL(llm_code(typed.error()), llm_errc::invalid_response);
  // Anything else a decoder does not expect is one too, with the reply.
  auto deep = decode_body(openai, 200,
                          R"({"choices": [{"message": {"tool_calls": 5}}]})");
  if (!deep)
    CAF_CHECK_EQUAL(llm_code(deep.error()), llm_errc::invalid_response);
  // Token counts beyond int64 (found by the fuzzer: a float that large does
  // not convert) count as unknown.
  auto huge = decode_body(
    openai, 200,
    R"({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],)"
    R"( "usage": {"prompt_tokens": 1e300, "completion_tokens": -1e300}})");
  CAF_REQUIRE(huge);
  CAF_CHECK_EQUAL(huge->text, "hi");
  CAF_CHECK_EQUAL(huge->usage.output_tokens, 0);
}
