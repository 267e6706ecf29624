#define CAF_SUITE llm.recording
#include "caf/test/unit_test.hpp"

#include <cstdio>

#include "caflens/llm/llm_brain.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/recording.hpp"
#include "caflens/llm/scripted_brain.hpp"

#include "llm_test_support.hpp"

using namespace caflens::llm;

namespace {

const std::string path = "/v1/chat/completions";

// Runs the weather loop; returns the names of the calls decided.
std::vector<std::string> run_loop(brain& b, size_t max_steps = 6) {
  conversation conv{"You are a helpful assistant.", "trace-r"};
  conv.add_user("What's the weather in San Francisco, CA?");
  std::vector<std::string> result;
  for (size_t i = 0; i < max_steps; ++i) {
    auto call = b.decide(conv, kit_tools());
    if (!call) {
      result.push_back("error:" + caflens::render_error(call.error()));
      break;
    }
    result.push_back(call->name);
    if (call->name == "done")
      break;
    conv.add_tool_result(call->id, R"({"temperature":"68F"})");
  }
  return result;
}

} // namespace

CAF_TEST(exchanges are recorded and replay deterministically) {
  auto rec = std::make_shared<recording>();
  std::vector<std::string> live;
  {
    mock_provider mock;
    mock.script(path, {mock_reply::fixture("openai_500_server_error"),
                       mock_reply::fixture("openai_unknown_tool"),
                       mock_reply::fixture("openai_tool_calls"),
                       mock_reply::fixture("openai_text")});
    auto clk = std::make_shared<manual_clock>();
    auto svc = mock_services(clk);
    svc.recording = rec;
    auto reg = std::make_shared<client_registry>();
    CAF_REQUIRE(!reg->add(mock_config("m", provider_kind::openai_compatible,
                                      mock.openai_base_url()),
                          svc));
    llm_brain b{reg};
    b.record_to(rec);
    live = run_loop(b);
    CAF_CHECK_EQUAL(mock.requests().size(), 4u);
  }
  CAF_CHECK_EQUAL(live, (std::vector<std::string>{"get_weather", "done"}));
  CAF_REQUIRE_EQUAL(rec->exchanges().size(), 4u);
  auto exchanges = rec->exchanges(); // CAF_CHECK_EQUAL binds by auto&&
  CAF_CHECK_EQUAL(exchanges[0].status, 500);
  // No key or auth header in the record.
  auto dumped = rec->to_json().dump();
  CAF_CHECK(dumped.find("sk-test-key") == std::string::npos);
  // Round trip through a file.
  auto file = std::string{"/tmp/caflens-llm-recording-"} +
              std::to_string(::getpid()) + ".json";
  CAF_REQUIRE(!rec->save(file));
  auto loaded = recording::load(file);
  std::remove(file.c_str());
  CAF_REQUIRE(loaded);
  CAF_CHECK_EQUAL((*loaded)->to_json(), rec->to_json());
  // Replay: same exchanges, no network, same decisions, twice.
  for (int round = 0; round < 2; ++round) {
    auto clk = std::make_shared<manual_clock>();
    auto svc = mock_services(clk);
    auto replay = std::make_shared<replay_transport>(*loaded);
    svc.transport = replay;
    auto reg = std::make_shared<client_registry>();
    CAF_REQUIRE(!reg->add(mock_config("m", provider_kind::openai_compatible,
                                      "http://127.0.0.1:1/v1"),
                          svc));
    llm_brain b{reg};
    CAF_CHECK_EQUAL(run_loop(b), live);
    CAF_CHECK_EQUAL(replay->served(), 4u);
    CAF_CHECK_EQUAL(clk->sleeps().size(), 1u); // the 500 was retried again
  }
  // The decisions replay through a scripted brain.
  auto scripted = scripted_brain::from_recording(**loaded);
  CAF_CHECK_EQUAL(run_loop(scripted), live);
}

CAF_TEST(a strict replay notices a different request) {
  auto rec = std::make_shared<recording>();
  exchange x;
  x.url = "http://127.0.0.1:1/v1/chat/completions";
  x.request = {{"model", "other"}};
  x.status = 200;
  x.response_body = "{}";
  rec->add(x);
  replay_transport replay{rec};
  http_request req;
  req.url = x.url;
  req.body = R"({"model":"gpt-4o"})";
  auto r = replay.post(req);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::replay_mismatch);
}

CAF_TEST(a scripted brain replays and then reports exhaustion) {
  scripted_brain b{
    {{"", "get_weather", {{"location", "SF"}, {"units", "f"}}, ""},
     {"", "done", {{"answer", "sunny"}}, ""}}};
  conversation conv;
  conv.add_user("weather?");
  auto tools = kit_tools();
  CAF_REQUIRE(!tools.add(tool_definition{"done", "Finish."}));
  auto first = b.decide(conv, tools);
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->id, "scripted_1");
  CAF_CHECK_EQUAL(conv.pending_calls().size(), 1u);
  conv.add_tool_result(first->id, "68F");
  auto decided = b.decide(conv, tools);
  CAF_REQUIRE(decided);
  CAF_CHECK_EQUAL(decided->name, "done");
  auto end = b.decide(conv, tools);
  CAF_REQUIRE(!end);
  CAF_CHECK_EQUAL(llm_code(end.error()), llm_errc::script_exhausted);
}

CAF_TEST(the loop label travels from the brain to exchanges and decisions) {
  auto rec = std::make_shared<recording>();
  std::vector<exchange> seen_by_services;
  std::vector<exchange> seen_by_registry;
  mock_provider mock;
  mock.script(path, {mock_reply::fixture("openai_tool_calls"),
                     mock_reply::fixture("openai_text")});
  auto clk = std::make_shared<manual_clock>();
  auto svc = mock_services(clk);
  svc.recording = rec;
  svc.on_exchange = [&](const exchange& x) { seen_by_services.push_back(x); };
  auto reg = std::make_shared<client_registry>();
  // Observed before the client is added: clients added later are observed
  // too.
  auto observer = std::make_shared<const exchange_observer>(
    [&](const exchange& x) { seen_by_registry.push_back(x); });
  reg->observe(observer);
  reg->observe(observer); // once only
  CAF_REQUIRE(!reg->add(
    mock_config("m", provider_kind::openai_compatible, mock.openai_base_url()),
    svc));
  llm_brain b{reg};
  b.label("operator:alpha");
  CAF_CHECK_EQUAL(b.label(), "operator:alpha");
  b.record_to(rec);
  CAF_CHECK_EQUAL(run_loop(b),
                  (std::vector<std::string>{"get_weather", "done"}));
  CAF_REQUIRE_EQUAL(rec->exchanges().size(), 2u);
  for (auto& x : rec->exchanges())
    CAF_CHECK_EQUAL(x.loop, "operator:alpha");
  CAF_REQUIRE_EQUAL(seen_by_services.size(), 2u);
  CAF_CHECK_EQUAL(seen_by_services[1].loop, "operator:alpha");
  CAF_CHECK_EQUAL(seen_by_services[1].status, 200);
  CAF_REQUIRE_EQUAL(seen_by_registry.size(), 2u);
  CAF_CHECK_EQUAL(seen_by_registry[0].request, seen_by_services[0].request);
  for (auto& d : rec->decisions())
    CAF_CHECK_EQUAL(d.loop, "operator:alpha");
  // The label survives the JSON round trip; a document without it (older
  // recordings) reads as unlabelled.
  auto doc = rec->to_json();
  CAF_CHECK_EQUAL(doc["exchanges"][0]["loop"], "operator:alpha");
  CAF_CHECK_EQUAL(doc["decisions"][0]["loop"], "operator:alpha");
  auto back = recording::from_json(doc);
  CAF_REQUIRE(back);
  // exchanges() and decisions() return copies: bind them before checking
  // (CAF_CHECK_EQUAL keeps references; found by ASan in CI).
  auto back_exchanges = (*back)->exchanges();
  auto back_decisions = (*back)->decisions();
  CAF_CHECK_EQUAL(back_exchanges[1].loop, "operator:alpha");
  CAF_CHECK_EQUAL(back_decisions[1].loop, "operator:alpha");
  doc["decisions"][0].erase("loop");
  doc["exchanges"][0].erase("loop");
  auto old = recording::from_json(doc);
  CAF_REQUIRE(old);
  auto old_decisions = (*old)->decisions();
  auto old_exchanges = (*old)->exchanges();
  CAF_CHECK_EQUAL(old_decisions[0].loop, "");
  CAF_CHECK_EQUAL(old_exchanges[0].loop, "");
  auto one = exchange_from_json(to_json(rec->exchanges()[0]));
  CAF_REQUIRE(one);
  CAF_CHECK_EQUAL(to_json(*one), to_json(rec->exchanges()[0]));
  CAF_CHECK(!exchange_from_json(nlohmann::json{{"status", "ok"}}));
  // After unobserve the registry's observer hears nothing more.
  reg->unobserve(observer);
  mock.script(path, {mock_reply::fixture("openai_text")});
  llm_brain again{reg};
  conversation conv{"system", "trace-2"};
  conv.add_user("hello");
  CAF_REQUIRE(again.decide(conv, kit_tools()));
  CAF_CHECK_EQUAL(seen_by_services.size(), 3u);
  CAF_CHECK_EQUAL(seen_by_services[2].loop, ""); // an unlabelled brain
  CAF_CHECK_EQUAL(seen_by_registry.size(), 2u);
}

CAF_TEST(a scripted brain replays one loop of a recorded investigation) {
  recording rec;
  auto call = [](std::string id, std::string name) {
    return tool_call{std::move(id), std::move(name), nlohmann::json::object(),
                     ""};
  };
  rec.add(decision{"t1", 1, call("c1", "get_weather"), "coordinator"});
  rec.add(decision{"t1", 1, call("o1", "get_weather"), "operator:alpha"});
  rec.add(decision{"t1", 2, call("o2", "done"), "operator:alpha"});
  rec.add(decision{"t1", 2, call("c2", "done"), "coordinator"});
  rec.add(decision{"t2", 1, call("x1", "done"), "operator:alpha"});
  auto op = scripted_brain::from_recording(rec, "t1", "operator:alpha");
  CAF_CHECK_EQUAL(op.remaining(), 2u);
  conversation conv;
  conv.add_user("weather?");
  auto tools = kit_tools();
  CAF_REQUIRE(!tools.add(tool_definition{"done", "Finish."}));
  auto first = op.decide(conv, tools);
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(first->id, "o1");
  conv.add_tool_result(first->id, "68F");
  auto second = op.decide(conv, tools);
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->id, "o2");
  CAF_CHECK_EQUAL(
    scripted_brain::from_recording(rec, "t1", "coordinator").remaining(), 2u);
  // Every trace of the loop when no trace is named.
  CAF_CHECK_EQUAL(
    scripted_brain::from_recording(rec, "", "operator:alpha").remaining(), 3u);
  CAF_CHECK_EQUAL(
    scripted_brain::from_recording(rec, "t1", "operator:beta").remaining(), 0u);
}
