#define CAF_SUITE llm.stream
#include "caf/test/unit_test.hpp"

#include "caflens/llm/client.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/stream_assembler.hpp"
#include "caflens/llm/wire_format.hpp"
#include "caflens/telemetry/bus.hpp"

#include "llm_test_support.hpp"
#include "plausible_model.hpp"

#include <mutex>
#include <random>

using namespace caflens::llm;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace ctm = caflens::telemetry;

namespace {

// A streamed Anthropic reply in the documented event order: a text block,
// then a tool_use block whose input arrives as partial JSON, a ping, usage
// in message_start and message_delta; CRLF line ends.
const std::string anthropic_stream =
  "event: message_start\r\n"
  "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\r\n"
  "\r\n"
  "event: content_block_start\r\n"
  "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n"
  "\r\n"
  "event: ping\r\n"
  "data: {\"type\": \"ping\"}\r\n"
  "\r\n"
  "event: content_block_delta\r\n"
  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let me check\"}}\r\n"
  "\r\n"
  "event: content_block_delta\r\n"
  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" the mailbox of ingest-worker-7.\"}}\r\n"
  "\r\n"
  "event: content_block_stop\r\n"
  "data: {\"type\":\"content_block_stop\",\"index\":0}\r\n"
  "\r\n"
  "event: content_block_start\r\n"
  "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\r\n"
  "\r\n"
  "event: content_block_delta\r\n"
  "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\r\n"
  "\r\n"
  "event: content_block_delta\r\n"
  "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}\r\n"
  "\r\n"
  "event: content_block_delta\r\n"
  "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco, CA\\\", \\\"units\\\": \\\"f\\\"}\"}}\r\n"
  "\r\n"
  "event: content_block_stop\r\n"
  "data: {\"type\":\"content_block_stop\",\"index\":1}\r\n"
  "\r\n"
  "event: message_delta\r\n"
  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\r\n"
  "\r\n"
  "event: message_stop\r\n"
  "data: {\"type\":\"message_stop\"}\r\n"
  "\r\n";

// A streamed OpenAI reply with two tool calls whose arguments arrive in
// pieces and interleaved, a usage chunk (include_usage) and [DONE]; a
// keep-alive comment.
const std::string openai_stream =
  R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}

: keep-alive

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\": \"Par"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b2","type":"function","function":{"name":"get_weather","arguments":"{\"location\":"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is, France\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":" \"Oslo\", \"units\": \"c\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764460800,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":312,"completion_tokens":41,"total_tokens":353,"prompt_tokens_details":{"cached_tokens":256}}}

data: [DONE]

)";

/// What the provider's decoder makes of a reassembled reply.
caf::expected<completion> decode(provider_kind kind,
                                 const std::pair<int, std::string>& whole) {
  http_response resp;
  resp.status = whole.first;
  resp.body = whole.second;
  return wire_format::make(kind)->decode(resp);
}

/// Reassembles `stream` fed in pieces cut at random places, then decodes it.
caf::expected<completion> assemble(provider_kind kind, const std::string& s,
                                   unsigned seed) {
  auto a = stream_assembler::make(kind);
  std::mt19937 rng{seed};
  for (size_t i = 0; i < s.size();) {
    auto n = std::uniform_int_distribution<size_t>{1, 40}(rng);
    a->feed(std::string_view{s}.substr(i, n));
    i += n;
  }
  auto whole = a->finish();
  if (!whole)
    return whole.error();
  return decode(kind, *whole);
}

} // namespace

CAF_TEST(an anthropic stream cut anywhere decodes like the whole reply) {
  for (unsigned seed = 1; seed <= 25; ++seed) {
    auto r = assemble(provider_kind::anthropic, anthropic_stream, seed);
    CAF_REQUIRE(r);
    CAF_CHECK_EQUAL(r->text,
                    "Okay, let me check the mailbox of ingest-worker-7.");
    CAF_REQUIRE_EQUAL(r->tool_calls.size(), 1u);
    auto& call = r->tool_calls[0];
    CAF_CHECK_EQUAL(call.id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    CAF_CHECK_EQUAL(call.name, "get_weather");
    CAF_CHECK_EQUAL(call.arguments,
                    json({{"location", "San Francisco, CA"}, {"units", "f"}}));
    CAF_CHECK_EQUAL(r->stop_reason, "tool_use");
    CAF_CHECK_EQUAL(r->usage.input_tokens, 472);
    CAF_CHECK_EQUAL(r->usage.output_tokens, 89);
    CAF_CHECK_EQUAL(r->response_id, "msg_014p7gG3wDgGV9EUtLvnow3U");
  }
}

CAF_TEST(an openai stream assembles interleaved tool calls by index) {
  for (unsigned seed = 1; seed <= 25; ++seed) {
    auto r = assemble(provider_kind::openai_compatible, openai_stream, seed);
    CAF_REQUIRE(r);
    CAF_REQUIRE_EQUAL(r->tool_calls.size(), 2u);
    CAF_CHECK_EQUAL(r->tool_calls[0].id, "call_a1");
    CAF_CHECK_EQUAL(r->tool_calls[0].arguments,
                    json({{"location", "Paris, France"}}));
    CAF_CHECK_EQUAL(r->tool_calls[1].id, "call_b2");
    CAF_CHECK_EQUAL(r->tool_calls[1].arguments,
                    json({{"location", "Oslo"}, {"units", "c"}}));
    CAF_CHECK_EQUAL(r->stop_reason, "tool_calls");
    CAF_CHECK_EQUAL(r->usage.cache_read_tokens, 256);
    CAF_CHECK_EQUAL(r->usage.input_tokens, 312 - 256);
    CAF_CHECK_EQUAL(r->usage.output_tokens, 41);
    CAF_CHECK_EQUAL(r->model, "gpt-4o");
  }
}

CAF_TEST(progress counts what has arrived) {
  auto a = stream_assembler::make(provider_kind::anthropic);
  auto cut = anthropic_stream.find("event: content_block_start\r\ndata: {\"type"
                                   "\":\"content_block_start\",\"index\":1");
  a->feed(std::string_view{anthropic_stream}.substr(0, cut));
  CAF_CHECK_EQUAL(a->progress().text_bytes,
                  static_cast<int64_t>(std::string{"Okay, let me check the "
                                                   "mailbox of "
                                                   "ingest-worker-7."}
                                         .size()));
  CAF_CHECK_EQUAL(a->progress().tool_calls, 0);
  CAF_CHECK(!a->progress().complete);
  a->feed(std::string_view{anthropic_stream}.substr(cut));
  CAF_CHECK_EQUAL(a->progress().tool_calls, 1);
  CAF_CHECK(a->progress().complete);
  CAF_CHECK_EQUAL(a->progress().events, 12); // pings are not counted
}

CAF_TEST(a stream that ends before its terminal event is a retryable error) {
  auto cut = anthropic_stream.find("event: message_delta");
  auto a = stream_assembler::make(provider_kind::anthropic);
  a->feed(std::string_view{anthropic_stream}.substr(0, cut));
  auto r = a->finish();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::transport_error);
  CAF_CHECK(is_retryable(*llm_code(r.error())));
  auto o = stream_assembler::make(provider_kind::openai_compatible);
  o->feed(openai_stream.substr(0, openai_stream.find("data: {\"id\":\"chatcmpl-"
                                                     "9\",\"object\":\"chat."
                                                     "completion.chunk\",\"cr"
                                                     "eated\":1764460800,\"mo"
                                                     "del\":\"gpt-4o\",\"choi"
                                                     "ces\":[{\"index\":0,\"d"
                                                     "elta\":{},")));
  auto r2 = o->finish();
  CAF_REQUIRE(!r2);
  CAF_CHECK_EQUAL(llm_code(r2.error()), llm_errc::transport_error);
}

CAF_TEST(an error event mid stream is classified like the same error up front) {
  auto a = stream_assembler::make(provider_kind::anthropic);
  a->feed(anthropic_stream.substr(0, anthropic_stream.find("event: ping")));
  a->feed("event: error\n"
          "data: {\"type\": \"error\", \"error\": {\"type\": "
          "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
  auto whole = a->finish();
  CAF_REQUIRE(whole);
  CAF_CHECK_EQUAL(whole->first, 529);
  auto r = decode(provider_kind::anthropic, *whole);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::overloaded);
  auto o = stream_assembler::make(provider_kind::openai_compatible);
  o->feed("data: {\"error\":{\"message\":\"Rate limit reached for gpt-4o\","
          "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n");
  auto w2 = o->finish();
  CAF_REQUIRE(w2);
  CAF_CHECK_EQUAL(w2->first, 429);
}

CAF_TEST(broken tool json in a stream leaves the arguments unparsed) {
  std::string s = anthropic_stream;
  auto at = s.find("ncisco, CA");
  s.replace(at, 10, "ncisco, CA\\\"\\\"");
  auto r = assemble(provider_kind::anthropic, s, 7);
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(r->tool_calls.size(), 1u);
  CAF_CHECK(r->tool_calls[0].arguments.is_null());
  CAF_CHECK(!r->tool_calls[0].arguments_text.empty());
}

CAF_TEST(an event that is not json is an invalid response) {
  auto a = stream_assembler::make(provider_kind::openai_compatible);
  a->feed("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content"
          "\":\"hi\"},\"finish_reason\":null}]}\n\ndata: {oops\n\n"
          "data: [DONE]\n\n");
  auto r = a->finish();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::invalid_response);
}

// -- through a real socket ------------------------------------------------------

namespace {

struct fixture {
  plausible_model model;
  std::mutex mtx;
  std::vector<std::pair<std::string, json>> events;

  fixture() {
    ctm::attach_many("llm.stream.test",
                     {{"caflens", "llm", "stream"},
                      {"caflens", "llm", "stall"},
                      {"caflens", "llm", "retry"}},
                     [this](const ctm::event_name& e,
                            const ctm::measurements& m,
                            const ctm::metadata& md, const std::any&) {
                       auto x = md.to_json();
                       x.update(m.to_json());
                       std::lock_guard<std::mutex> guard{mtx};
                       events.emplace_back(e.str(), std::move(x));
                     });
  }

  ~fixture() { ctm::detach("llm.stream.test"); }

  std::vector<json> named(const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<json> result;
    for (auto& [n, x] : events)
      if (n == name)
        result.push_back(x);
    return result;
  }

  std::shared_ptr<client> make(provider_kind kind, bool stream,
                               std::function<void(client_config&)> tweak = {}) {
    auto base = kind == provider_kind::anthropic ? model.base_url()
                                                 : model.openai_base_url();
    auto cfg = mock_config(stream ? "streamed" : "plain", kind, base);
    cfg.stream = stream;
    if (tweak)
      tweak(cfg);
    auto c = client::make(cfg, mock_services(
                                 std::make_shared<manual_clock>(), "k-123"));
    CAF_REQUIRE(c);
    return *c;
  }

  // A coordinator's first turn: the model picks skills to invoke.
  static completion_request request() {
    using p = tool_parameter;
    completion_request req;
    req.system = "You coordinate an investigation.";
    req.messages.push_back(message::make_user(
      "Mailbox of ingest-worker-7 keeps growing; memory too."));
    req.tools = tool_set{
      tool_definition{"invoke_operators", "Start operators",
                      {p::array("skills", "skills",
                                p::string("skill", "a skill")
                                  .one_of({"actors", "memory", "logs"}))}},
      tool_definition{"wait", "Wait", {p::integer("ms", "ms")}}};
    req.trace_id = "trace-stream";
    return req;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(stream_tests, fixture)

CAF_TEST(a streamed reply equals the plain one on both protocols) {
  for (auto kind : {provider_kind::anthropic, provider_kind::openai_compatible}) {
    auto plain = make(kind, false)->complete(request());
    auto streamed = make(kind, true)->complete(request());
    CAF_REQUIRE(plain);
    CAF_REQUIRE(streamed);
    CAF_REQUIRE_EQUAL(streamed->tool_calls.size(), plain->tool_calls.size());
    CAF_REQUIRE(!plain->tool_calls.empty());
    for (size_t i = 0; i < plain->tool_calls.size(); ++i) {
      CAF_CHECK_EQUAL(streamed->tool_calls[i].name, plain->tool_calls[i].name);
      CAF_CHECK_EQUAL(streamed->tool_calls[i].arguments,
                      plain->tool_calls[i].arguments);
    }
    CAF_CHECK_EQUAL(streamed->text, plain->text);
    CAF_CHECK_EQUAL(streamed->stop_reason, plain->stop_reason);
    CAF_CHECK_EQUAL(streamed->usage.output_tokens, plain->usage.output_tokens);
    CAF_CHECK(streamed->usage.input_tokens > 0);
  }
  auto s = model.stats();
  CAF_CHECK_EQUAL(s.streamed, 2);
  CAF_CHECK(s.violations.empty());
  // One report per streamed call when it completed.
  auto done = named("caflens.llm.stream");
  CAF_REQUIRE_EQUAL(done.size(), 2u);
  CAF_CHECK_EQUAL(done[0]["complete"], true);
  CAF_CHECK(done[0]["tool_bytes"].get<double>() > 0);
}

CAF_TEST(a slow stream reports its progress while it arrives) {
  model_faults f;
  f.stream_event_ms = 300; // 7 events: about two seconds
  model.faults(f);
  auto r = make(provider_kind::openai_compatible, true)->complete(request());
  CAF_REQUIRE(r);
  auto progress = named("caflens.llm.stream");
  CAF_REQUIRE_GREATER_OR_EQUAL(progress.size(), 2u);
  CAF_CHECK_EQUAL(progress.front()["complete"], false);
  CAF_CHECK_EQUAL(progress.back()["complete"], true);
  CAF_CHECK_LESS(progress.front()["events"].get<double>(),
                 progress.back()["events"].get<double>());
}

CAF_TEST(a stalled stream is dropped after the stall timeout and retried) {
  model_faults f;
  f.stall_from = 1;
  f.stall_count = 1; // only the first attempt stalls
  model.faults(f);
  auto t0 = std::chrono::steady_clock::now();
  auto c = make(provider_kind::anthropic, true, [](client_config& cfg) {
    cfg.stall_timeout = 400ms;
    cfg.read_timeout = 30s;
  });
  auto r = c->complete(request());
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->retries, 1);
  CAF_CHECK(!r->tool_calls.empty());
  CAF_CHECK_LESS(took, 10s); // the read timeout is 30 s
  auto stalls = named("caflens.llm.stall");
  CAF_REQUIRE_EQUAL(stalls.size(), 1u);
  CAF_CHECK_EQUAL(stalls[0]["client"], "streamed");
  CAF_CHECK(stalls[0]["received_bytes"].get<double>() > 0);
  auto retries = named("caflens.llm.retry");
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  CAF_CHECK_EQUAL(retries[0]["reason"], "stalled");
}

CAF_TEST(a stream that keeps stalling ends with a stalled error) {
  model_faults f;
  f.stall_from = 1;
  model.faults(f);
  auto c = make(provider_kind::openai_compatible, true, [](client_config& cfg) {
    cfg.stall_timeout = 300ms;
    cfg.retry.max_attempts = 2;
  });
  auto r = c->complete(request());
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::stalled);
  CAF_CHECK_EQUAL(named("caflens.llm.stall").size(), 2u);
}

CAF_TEST(a server that ignores stream true is read as plain json) {
  mock_provider mock;
  mock.script("/v1/messages", {mock_reply::fixture("anthropic_tool_use")});
  auto cfg = mock_config("ignored", provider_kind::anthropic, mock.base_url());
  cfg.stream = true;
  auto c = client::make(cfg, mock_services(std::make_shared<manual_clock>(),
                                           "k-123"));
  CAF_REQUIRE(c);
  auto r = (*c)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->tool_calls.at(0).id, "toolu_01LRanfq6DmHn1yDTB4d1SAh");
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  CAF_CHECK_EQUAL(reqs[0].json["stream"], true);
  CAF_CHECK_EQUAL(reqs[0].headers["accept"], "text/event-stream");
}

CAF_TEST(a slow server that ignores stream true is not taken for stalled) {
  mock_provider mock;
  auto slow = mock_reply::fixture("anthropic_tool_use");
  slow.delay = 900ms; // JSON at the end, nothing before
  mock.script("/v1/messages", {slow});
  auto cfg = mock_config("slow", provider_kind::anthropic, mock.base_url());
  cfg.stream = true;
  cfg.stall_timeout = 300ms;
  cfg.retry.max_attempts = 1;
  auto c = client::make(cfg, mock_services(std::make_shared<manual_clock>(),
                                           "k-123"));
  CAF_REQUIRE(c);
  auto r = (*c)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->tool_calls.size(), 1u);
}

CAF_TEST(tool calls without an index are told apart by their ids) {
  auto a = stream_assembler::make(provider_kind::openai_compatible);
  a->feed(R"(data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Oslo\"}"}}]},"finish_reason":null}]}

data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}

data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":""}}]},"finish_reason":"tool_calls"}]}

data: [DONE]

)");
  auto whole = a->finish();
  if (!whole)
    CAF_MESSAGE(caflens::render_error(whole.error()));
  CAF_REQUIRE(whole);
  auto r = decode(provider_kind::openai_compatible, *whole);
  CAF_REQUIRE(r);
  CAF_REQUIRE_EQUAL(r->tool_calls.size(), 2u);
  CAF_CHECK_EQUAL(r->tool_calls[1].name, "get_time");
  CAF_CHECK_EQUAL(r->tool_calls[0].arguments, json({{"location", "Oslo"}}));
}

CAF_TEST(events of the wrong shape are an invalid response not a crash) {
  auto a = stream_assembler::make(provider_kind::anthropic);
  a->feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
          "\"index\":null,\"delta\":\"oops\"}\n\n"
          "event: content_block_start\ndata: {\"type\":\"content_block_start\","
          "\"index\":\"one\",\"content_block\":[1,2]}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  auto r = a->finish();
  // Shapes it cannot use are skipped; the stream still completes.
  CAF_CHECK(r);
  auto o = stream_assembler::make(provider_kind::openai_compatible);
  o->feed("data: {\"choices\":[5,{\"index\":\"zero\",\"delta\":[]}]}\n\n"
          "data: {\"choices\":[{\"delta\":{\"tool_calls\":[7,{\"function\":3}]},"
          "\"finish_reason\":\"stop\"}]}\n\n");
  auto r2 = o->finish();
  CAF_CHECK(r2);
}

CAF_TEST(an openai stream request asks for usage) {
  mock_provider mock;
  mock.script("/v1/chat/completions",
              {mock_reply::json(200, openai_stream,
                                {{"content-type", "text/event-stream"}})});
  auto cfg = mock_config("usage", provider_kind::openai_compatible,
                         mock.openai_base_url());
  cfg.stream = true;
  auto c = client::make(cfg, mock_services(std::make_shared<manual_clock>(),
                                           "k-123"));
  CAF_REQUIRE(c);
  auto r = (*c)->complete(request());
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->tool_calls.size(), 2u);
  CAF_CHECK_EQUAL(r->usage.output_tokens, 41);
  auto reqs = mock.requests();
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  CAF_CHECK_EQUAL(reqs[0].json["stream_options"]["include_usage"], true);
}

CAF_TEST_FIXTURE_SCOPE_END()
