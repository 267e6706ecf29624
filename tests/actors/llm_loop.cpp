#define CAF_SUITE actors.llm_loop
// The investigation loop driven through the llm layer: the lens reads its
// provider from the environment, talks the Anthropic Messages protocol over
// a real socket to the loopback mock provider, and runs coordinator and
// operator on detached threads.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors_test_support.hpp"
#include "llm_test_support.hpp"

#include "caflens/skills/log_buffer.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace test_support;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string path = "/v1/messages";
const std::string key = "sk-ant-test-0123456789abcdef";

/// An Anthropic reply with tool_use blocks.
mock_reply tools_reply(const std::string& id, json uses) {
  json content = json::array();
  int n = 0;
  for (auto& u : uses)
    content.push_back({{"type", "tool_use"},
                       {"id", "toolu_" + id + "_" + std::to_string(++n)},
                       {"name", u[0]},
                       {"input", u[1]}});
  json body{{"id", "msg_" + id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", "claude-test"},
            {"content", content},
            {"stop_reason", "tool_use"},
            {"usage", {{"input_tokens", 100}, {"output_tokens", 20}}}};
  return mock_reply::json(200, body.dump());
}

mock_reply text_reply(const std::string& id, const std::string& text);

/// The slow-consumer investigation: one coordinator turn starts the operator
/// and waits; the operator then has the provider to itself, so the reply
/// order is deterministic.
std::vector<mock_reply> slow_consumer_script() {
  return {
    tools_reply("c1", json::array({json::array({"invoke_operators",
                                                {{"skills", {"alpha"}}}}),
                                   json::array({"wait", {{"ms", 30000}}})})),
    tools_reply("o2",
                json::array({json::array(
                  {"send_notification",
                   {{"type", "mailbox_growth"},
                    {"severity", "critical"},
                    {"context", {{"mailbox_depth", 9000}}},
                    {"observation", "worker-7 mailbox 9000 and growing"},
                    {"hypothesis", "slow consumer"},
                    {"snapshot_ids", {"s-1"}},
                    {"actors", {"worker-7"}}}})})),
    text_reply("o3", "worker-7 is backed up."),
    tools_reply("c2", json::array({json::array(
                        {"get_notifications", {{"status", "unread"}}})})),
    tools_reply("c3",
                json::array({json::array(
                  {"produce_insight",
                   {{"pattern", "slow_consumer"},
                    {"culprits", {"worker-7"}},
                    {"notification_ids", {"n-2"}},
                    {"correlation", "causal"},
                    {"summary", "worker-7 cannot keep up"},
                    {"root_cause", "slow consumer behind a fast producer"},
                    {"confidence", "medium"}}})})),
    text_reply("c4", "worker-7 is a slow consumer.")};
}

/// Every byte of an SQLite database: the file and its write-ahead log.
std::string database_bytes(const fs::path& db) {
  std::string out;
  for (auto p : {db, fs::path{db.string() + "-wal"}}) {
    std::ifstream in{p, std::ios::binary};
    out.append(std::istreambuf_iterator<char>{in},
               std::istreambuf_iterator<char>{});
  }
  return out;
}

/// The stored decisions of one loop: the calls' names.
std::vector<std::string> decided(const store::investigation_detail& d,
                                 const std::string& loop) {
  std::vector<std::string> out;
  for (auto& x : d.decisions)
    if (x["loop"] == loop)
      out.push_back(x["call"]["name"].get<std::string>());
  return out;
}

mock_reply text_reply(const std::string& id, const std::string& text) {
  json body{{"id", "msg_" + id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", "claude-test"},
            {"content", {{{"type", "text"}, {"text", text}}}},
            {"stop_reason", "end_turn"},
            {"usage", {{"input_tokens", 50}, {"output_tokens", 10}}}};
  return mock_reply::json(200, body.dump());
}

struct fixture {
  mock_provider mock;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  fs::path dir;

  fixture() {
    char tmpl[] = "/tmp/caflens-llm-loop-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::setenv("CAFLENS_LLM_BASE_URL", mock.base_url().c_str(), 1);
    ::setenv("CAFLENS_LLM_PROVIDER", "anthropic", 1);
    ::setenv("CAFLENS_LLM_MODEL", "claude-test", 1);
    ::setenv("CAFLENS_LLM_API_KEY_ENV", "CAFLENS_TEST_ANTHROPIC_KEY", 1);
    ::setenv("CAFLENS_TEST_ANTHROPIC_KEY", key.c_str(), 1);
    ::unsetenv("CAFLENS_BRAIN");
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~fixture() {
    for (auto name : {"CAFLENS_LLM_BASE_URL", "CAFLENS_LLM_PROVIDER",
                      "CAFLENS_LLM_MODEL", "CAFLENS_LLM_API_KEY_ENV",
                      "CAFLENS_TEST_ANTHROPIC_KEY"})
      ::unsetenv(name);
    sys.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  /// `c` storing into `dir/<name>`, keeping `mode` of the model calls.
  config with_store(config c, const std::string& name,
                    store::llm_exchanges_mode mode
                    = store::llm_exchanges_mode::full) {
    c.store = store::store_options{};
    c.store->path = (dir / name).string();
    c.store->llm_exchanges = mode;
    return c;
  }

  config lens_config() {
    config c;
    c.node_name = "llm-node";
    c.builtin_skills = false;
    c.skills = {counting_skill(
      "alpha", {{"mailbox_growth", severity::critical, "worker-7 mailbox 9000",
                 {"worker-7"}, json{{"mailbox_depth", 9000}}}})};
    return c;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(llm_loop_tests, fixture)

CAF_TEST(an investigation runs end to end against the provider protocol) {
  mock.script(path, slow_consumer_script());
  auto l = caflens::start(*sys, with_store(lens_config(), "e2e.db"));
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->settings().llm != nullptr, true);
  auto res = l->investigate("mailbox backlog", {}, 60s);
  if (!res)
    CAF_FAIL("investigate failed: " << render_error(res.error()));
  CAF_CHECK_EQUAL(res->brain, "llm");
  CAF_CHECK_EQUAL(res->summary, "worker-7 is a slow consumer.");
  CAF_REQUIRE_EQUAL(res->insights.size(), 1u);
  auto& top = res->insights[0];
  CAF_CHECK_EQUAL(top.pattern, "slow_consumer");
  CAF_CHECK_EQUAL(top.culprits.at(0), "worker-7");
  CAF_CHECK_EQUAL(top.severity, severity::critical);
  CAF_REQUIRE_EQUAL(res->operators.size(), 1u);
  CAF_CHECK_EQUAL(res->operators[0].stop_reason, "done");
  CAF_CHECK_EQUAL(res->operators[0].summary, "worker-7 is backed up.");
  // Token accounting from the provider's usage blocks: 6 calls.
  CAF_CHECK_EQUAL(res->input_tokens, 4 * 100 + 2 * 50);
  CAF_CHECK_EQUAL(res->output_tokens, 4 * 20 + 2 * 10);
  auto reqs = mock.requests(path);
  CAF_REQUIRE_EQUAL(reqs.size(), 6u);
  CAF_CHECK_EQUAL(res->llm_calls, 6);
  CAF_CHECK_EQUAL(res->llm_retries, 0);
  // The operator's first look was taken before its first request: that
  // request already carries the snapshot.
  CAF_CHECK(reqs[1].body.find("caflens_first_look") != std::string::npos);
  CAF_CHECK(reqs[1].body.find("s-1") != std::string::npos);
  for (auto& r : reqs) {
    CAF_CHECK_EQUAL(r.headers["x-api-key"], key);
    CAF_CHECK_EQUAL(r.json["model"], "claude-test");
    // The key goes in the header only, never into the conversation.
    CAF_CHECK(r.body.find(key) == std::string::npos);
  }
  // The coordinator's second request answers both tool calls of its turn,
  // the operator's carries its skill prompt and tools.
  auto& c2 = reqs[3].json;
  size_t results = 0;
  for (auto& m : c2["messages"])
    if (m["content"].is_array())
      for (auto& b : m["content"])
        if (b["type"] == "tool_result")
          ++results;
  CAF_CHECK_EQUAL(results, 2u);
  CAF_CHECK(reqs[1].json["system"].dump().find("You inspect alpha")
            != std::string::npos);
  bool has_snapshot_tool = false;
  for (auto& t : reqs[1].json["tools"])
    if (t["name"] == "take_snapshot")
      has_snapshot_tool = true;
  CAF_CHECK(has_snapshot_tool);
  // The store holds every exchange as sent, labelled with its loop, and
  // every call each loop ran.
  CAF_REQUIRE(!l->flush_telemetry());
  auto d = l->stored(res->trace_id);
  CAF_REQUIRE(d);
  CAF_REQUIRE_EQUAL(d->llm_exchanges.size(), reqs.size());
  std::vector<std::string> loops;
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto& x = d->llm_exchanges[i];
    loops.push_back(x["loop"].get<std::string>());
    CAF_CHECK_EQUAL(x["request"], reqs[i].json);
    CAF_CHECK_EQUAL(x["status"], 200);
    CAF_CHECK_EQUAL(x["node"], "llm-node");
    CAF_CHECK_EQUAL(x["model"], "claude-test");
  }
  CAF_CHECK_EQUAL(loops, (std::vector<std::string>{
                           "coordinator", "operator:alpha", "operator:alpha",
                           "coordinator", "coordinator", "coordinator"}));
  CAF_CHECK(d->llm_exchanges[2]["response_body"].get<std::string>().find(
              "worker-7 is backed up.")
            != std::string::npos);
  CAF_CHECK_EQUAL(decided(*d, "coordinator"),
                  (std::vector<std::string>{"invoke_operators", "wait",
                                            "get_notifications",
                                            "produce_insight", "done"}));
  CAF_CHECK_EQUAL(decided(*d, "operator:alpha"),
                  (std::vector<std::string>{"take_snapshot",
                                            "send_notification", "done"}));
  for (auto& x : d->decisions) {
    CAF_CHECK_EQUAL(x["brain"], "llm");
    CAF_CHECK_EQUAL(x["node"], "llm-node");
  }
  // The operator's first look was caflens's, before the model's first
  // answer; the plain-text answer is stored as the done it became.
  json first_op;
  for (auto& x : d->decisions)
    if (x["loop"] == "operator:alpha" && first_op.is_null())
      first_op = x;
  CAF_CHECK_EQUAL(first_op["call"]["id"], "caflens_first_look");
  CAF_CHECK_EQUAL(first_op["iteration"], 1);
  CAF_CHECK_EQUAL(d->decisions.back()["call"]["arguments"]["summary"],
                  "worker-7 is a slow consumer.");
  // Every model call has its timeline entry too.
  size_t stops = 0;
  for (auto& e : d->timeline)
    stops += e["event"] == "caflens.llm.stop" ? 1 : 0;
  CAF_CHECK_EQUAL(stops, reqs.size());
  // The API key is nowhere in the database: not in what it reads back, not
  // in the file's bytes (which do hold the answers).
  json all{d->result, d->snapshots, d->timeline, d->llm_exchanges,
           d->decisions};
  CAF_CHECK(all.dump().find(key) == std::string::npos);
  l->stop();
  auto bytes = database_bytes(dir / "e2e.db");
  CAF_CHECK(bytes.find("worker-7 is a slow consumer.") != std::string::npos);
  CAF_CHECK(bytes.find(key) == std::string::npos);
  CAF_CHECK(bytes.find("0123456789abcdef") == std::string::npos);
}

CAF_TEST(a stored investigation replays without the provider) {
  mock.script(path, slow_consumer_script());
  auto l = caflens::start(*sys, with_store(lens_config(), "recorded.db"));
  CAF_REQUIRE(l);
  auto res = l->investigate("mailbox backlog", {}, 60s);
  if (!res)
    CAF_FAIL("investigate failed: " << render_error(res.error()));
  CAF_REQUIRE(!l->flush_telemetry());
  auto d = l->stored(res->trace_id);
  CAF_REQUIRE(d);
  l->stop();
  auto asked = mock.requests(path).size();
  CAF_REQUIRE_EQUAL(asked, 6u);
  // The same as an llm::recording document: one scripted brain per loop.
  {
    store::store_options so;
    so.path = (dir / "recorded.db").string();
    auto db = store::database::open(so, true);
    CAF_REQUIRE(db);
    auto doc = (*db)->recording(res->trace_id);
    CAF_REQUIRE(doc);
    auto rec = llm::recording::from_json(*doc);
    CAF_REQUIRE(rec);
    CAF_CHECK_EQUAL((*rec)->exchanges().size(), asked);
    CAF_CHECK_EQUAL(llm::scripted_brain::from_recording(**rec, res->trace_id,
                                                        "coordinator")
                      .remaining(),
                    5u);
    CAF_CHECK_EQUAL(llm::scripted_brain::from_recording(**rec, res->trace_id,
                                                        "operator:alpha")
                      .remaining(),
                    3u);
  }
  // One script per loop from the stored decisions; a fresh lens with the
  // same skills (ids count from the start again) and no model at all: the
  // explicit brains win over the provider in the environment.
  scripts replay;
  for (auto& x : d->decisions)
    replay.by_loop[x["loop"].get<std::string>()].push_back(
      llm::tool_call_from_json(x["call"]));
  CAF_REQUIRE_EQUAL(replay.by_loop.size(), 2u);
  auto c = with_store(lens_config(), "replayed.db",
                      store::llm_exchanges_mode::decisions);
  c.brain = replay.factory();
  auto again = caflens::start(*sys, c);
  CAF_REQUIRE(again);
  CAF_CHECK(again->settings().llm == nullptr);
  auto back = again->investigate(d->row.reason, {}, 60s);
  if (!back)
    CAF_FAIL("replay failed: " << render_error(back.error()));
  CAF_CHECK_EQUAL(back->summary, res->summary);
  CAF_CHECK_EQUAL(back->summary, "worker-7 is a slow consumer.");
  CAF_REQUIRE_EQUAL(back->insights.size(), 1u);
  CAF_CHECK_EQUAL(back->insights[0].pattern, "slow_consumer");
  CAF_CHECK_EQUAL(back->insights[0].culprits.at(0), "worker-7");
  CAF_CHECK_EQUAL(back->insights[0].severity, res->insights.at(0).severity);
  CAF_REQUIRE_EQUAL(back->operators.size(), 1u);
  CAF_CHECK_EQUAL(back->operators[0].summary, "worker-7 is backed up.");
  CAF_CHECK_EQUAL(back->operators[0].stop_reason, "done");
  CAF_CHECK(back->errors.empty());
  // Not one more request, and each loop asked for its brain once.
  CAF_CHECK_EQUAL(mock.requests(path).size(), asked);
  CAF_CHECK_EQUAL(replay.made["coordinator"], 1);
  CAF_CHECK_EQUAL(replay.made["operator:alpha"], 1);
  // The replay ran the same calls, now decided by scripted brains, and
  // (decisions only) stored no exchange.
  CAF_REQUIRE(!again->flush_telemetry());
  auto r = again->stored(back->trace_id);
  CAF_REQUIRE(r);
  CAF_CHECK(r->llm_exchanges.empty());
  for (auto loop : {"coordinator", "operator:alpha"})
    CAF_CHECK_EQUAL(decided(*r, loop), decided(*d, loop));
  for (auto& x : r->decisions)
    CAF_CHECK_EQUAL(x["brain"], "scripted");
  again->stop();
}

CAF_TEST(the exchanges of an application registry are stored redacted) {
  // The application's client redacts only the built-in rules; the lens's
  // redaction covers what the store keeps all the same.
  mock.script(path, {text_reply("c1", "ACCT-424242 looks fine.")});
  auto reg = std::make_shared<llm::client_registry>();
  CAF_REQUIRE(!reg->add(
    mock_config("app", llm::provider_kind::anthropic, mock.base_url()),
    mock_services(std::make_shared<llm::manual_clock>())));
  auto c = with_store(lens_config(), "app.db");
  c.llm = reg;
  c.redaction.patterns = {"ACCT-[0-9]{6}"};
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("anything", {}, 60s);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->summary, "ACCT-424242 looks fine.");
  CAF_REQUIRE(!l->flush_telemetry());
  auto d = l->stored(res->trace_id);
  CAF_REQUIRE(d);
  CAF_REQUIRE_EQUAL(d->llm_exchanges.size(), 1u);
  CAF_CHECK_EQUAL(d->llm_exchanges[0]["client"], "app");
  CAF_CHECK_EQUAL(d->llm_exchanges[0]["loop"], "coordinator");
  CAF_CHECK(d->llm_exchanges[0]["response_body"].get<std::string>().find(
              "[REDACTED] looks fine.")
            != std::string::npos);
  CAF_REQUIRE_EQUAL(d->decisions.size(), 1u);
  CAF_CHECK_EQUAL(d->decisions[0]["call"]["arguments"]["summary"],
                  "[REDACTED] looks fine.");
  CAF_CHECK_EQUAL(d->row.summary, "[REDACTED] looks fine.");
  l->stop();
  auto bytes = database_bytes(dir / "app.db");
  CAF_CHECK(bytes.find("looks fine.") != std::string::npos);
  CAF_CHECK(bytes.find("424242") == std::string::npos);
  CAF_CHECK(bytes.find("sk-test-key") == std::string::npos);
}

CAF_TEST(a provider error in the coordinator goes on offline and is named) {
  mock.script(path,
              {mock_reply::json(
                400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                     R"("message":"bad request"}})")});
  auto c = lens_config();
  c.rule.sample_interval = std::chrono::milliseconds{10};
  event_recorder events{"llm_loop.fallback"};
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("anything", {}, 60s);
  if (!res)
    CAF_FAIL("investigate failed: " << render_error(res.error()));
  // The failed call ended its span with an exception, and the coordinator
  // said it went on with the rule engine.
  auto thrown = events.metadata_of("caflens.llm.exception");
  CAF_REQUIRE_EQUAL(thrown.size(), 1u);
  CAF_CHECK_EQUAL(thrown[0]["trace_id"], res->trace_id);
  CAF_CHECK(thrown[0]["reason"].get<std::string>().find("bad request")
            != std::string::npos);
  auto fell = events.metadata_of("caflens.coordinator.brain_fallback");
  CAF_REQUIRE_EQUAL(fell.size(), 1u);
  CAF_CHECK_EQUAL(fell[0]["trace_id"], res->trace_id);
  // The rule engine went on: the finding is there, the failure is named.
  CAF_CHECK_EQUAL(res->brain, "llm+rule");
  CAF_CHECK(res->partial);
  auto* top = res->top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->culprits.at(0), "worker-7");
  bool named = false;
  for (auto& e : res->errors)
    if (e.find("bad request") != std::string::npos)
      named = true;
  CAF_CHECK(named);
  // Operators started after the failure run offline: one request in all.
  CAF_CHECK_EQUAL(mock.requests(path).size(), 1u);
  // The lens keeps working: the next investigation asks the model again.
  mock.script(path, {text_reply("c1", "nothing to do")});
  auto again = l->investigate("again", {}, 60s);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->summary, "nothing to do");
  CAF_CHECK_EQUAL(again->brain, "llm");
  l->stop();
}

CAF_TEST(a provider error in an operator finishes its look offline) {
  // The coordinator starts the operator and waits; the operator's first
  // call fails, the rule engine finishes its look, the coordinator answers.
  mock.script(
    path,
    {tools_reply("c1", json::array({json::array({"invoke_operators",
                                                 {{"skills", {"alpha"}}}}),
                                    json::array({"wait", {{"ms", 30000}}})})),
     mock_reply::json(
       400, R"({"type":"error","error":{"type":"invalid_request_error",)"
            R"("message":"operator request refused"}})"),
     text_reply("c2", "alpha looked offline.")});
  event_recorder events{"llm_loop.operator_fallback"};
  auto c = lens_config();
  c.rule.sample_interval = std::chrono::milliseconds{10};
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("mailbox backlog", {}, 60s);
  if (!res)
    CAF_FAIL("investigate failed: " << render_error(res.error()));
  CAF_CHECK_EQUAL(res->summary, "alpha looked offline.");
  auto fell = events.metadata_of("caflens.operator.brain_fallback");
  CAF_REQUIRE_EQUAL(fell.size(), 1u);
  CAF_CHECK_EQUAL(fell[0]["skill"], "alpha");
  CAF_CHECK(fell[0]["reason"].get<std::string>().find("operator request "
                                                      "refused")
            != std::string::npos);
  CAF_CHECK(!events.has("caflens.coordinator.brain_fallback"));
  // The operator's rule engine found what the skill reports.
  CAF_REQUIRE_EQUAL(res->operators.size(), 1u);
  CAF_CHECK(!res->operators[0].notification_ids.empty());
  l->stop();
}

CAF_TEST(without the offline fallback an error with nothing found is returned) {
  mock.script(path,
              {mock_reply::json(
                400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                     R"("message":"bad request"}})")});
  auto c = lens_config();
  c.llm_fallback = false;
  auto l = caflens::start(*sys, c);
  CAF_REQUIRE(l);
  auto res = l->investigate("anything", {}, 60s);
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(res.error().category(), actors_errc_category);
  CAF_CHECK_EQUAL(res.error().code(),
                  static_cast<uint8_t>(actors_errc::brain_failed));
  CAF_CHECK(render_error(res.error()).find("bad request")
            != std::string::npos);
  l->stop();
}

CAF_TEST(CAFLENS_BRAIN=rule keeps the lens offline) {
  ::setenv("CAFLENS_BRAIN", "rule", 1);
  auto c = lens_config();
  c.rule.sample_interval = 10ms;
  auto l = caflens::start(*sys, c);
  ::unsetenv("CAFLENS_BRAIN");
  CAF_REQUIRE(l);
  auto res = l->investigate("mailbox", {}, 30s);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->brain, "rule");
  CAF_CHECK(mock.requests(path).empty());
  auto* top = res->top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->culprits.at(0), "worker-7");
  l->stop();
}

CAF_TEST(a bad provider setting fails start with the key and value) {
  ::setenv("CAFLENS_LLM_PROVIDER", "carrier-pigeon", 1);
  auto l = caflens::start(*sys, lens_config());
  CAF_REQUIRE(!l);
  auto text = render_error(l.error());
  CAF_CHECK(text.find("llm-provider") != std::string::npos);
  CAF_CHECK(text.find("carrier-pigeon") != std::string::npos);
}

CAF_TEST(a local server is configured from the environment) {
  ::setenv("CAFLENS_LLM_PROVIDER", "ollama", 1);
  ::setenv("CAFLENS_LLM_CONTEXT_WINDOW", "8192", 1);
  auto l = caflens::start(*sys, lens_config());
  CAF_REQUIRE(l);
  auto c = l->settings().llm->find("env");
  CAF_REQUIRE(c != nullptr);
  CAF_CHECK_EQUAL(c->config().context_window.value_or(0), 8192);
  CAF_CHECK(c->config().send_num_ctx);
  CAF_CHECK_EQUAL(c->config().max_concurrent, 1); // one call at a time
  l->stop();
  ::setenv("CAFLENS_LLM_CONTEXT_WINDOW", "lots", 1);
  auto bad = caflens::start(*sys, lens_config());
  ::unsetenv("CAFLENS_LLM_CONTEXT_WINDOW");
  CAF_REQUIRE(!bad);
  CAF_CHECK(render_error(bad.error()).find("CAFLENS_LLM_CONTEXT_WINDOW")
            != std::string::npos);
}

CAF_TEST(redaction rules from the environment cover requests and log lines) {
  ::setenv("CAFLENS_REDACT_PATTERN", "ACCT-[0-9]{6}", 1);
  ::setenv("CAFLENS_REDACT_KEYS", "customer_email, card", 1);
  auto c = with_store(lens_config(), "redacted.db");
  // The secrets are in the findings and in the snapshot itself.
  skills::skill_definition def;
  def.name = "alpha";
  def.title = "alpha skill";
  def.description = "test skill alpha";
  def.system_prompt = "You inspect alpha.";
  def.snapshot = [] {
    return json{{"value", 1},
                {"customer_email", "ann@example.org"},
                {"note", "last charge ACCT-424242"}};
  };
  def.detect = [](const json&, const std::vector<json>&) {
    return std::vector<skills::finding>{
      {"mailbox_growth", severity::critical, "worker-7 stuck on ACCT-424242",
       {"worker-7"},
       json{{"mailbox_depth", 9000}, {"customer_email", "ann@example.org"}}}};
  };
  c.skills = {skills::make_skill(std::move(def))};
  // The model writes secrets into a call's arguments (think): the decision
  // and the recorded reply must not keep them.
  mock.script(
    path,
    {tools_reply("c1", json::array({json::array({"invoke_operators",
                                                 {{"skills", {"alpha"}}}}),
                                    json::array({"wait", {{"ms", 30000}}})})),
     tools_reply("o1", json::array({json::array(
                         {"think",
                          {{"thought", "ACCT-424242 belongs to "
                                       "{\"customer_email\": "
                                       "\"ann@example.org\"}"}}})})),
     text_reply("o2", "worker-7 is stuck."),
     text_reply("c2", "done")});
  auto l = caflens::start(*sys, c);
  ::unsetenv("CAFLENS_REDACT_PATTERN");
  ::unsetenv("CAFLENS_REDACT_KEYS");
  CAF_REQUIRE(l);
  l->logs()->append("error", "billing", "charge failed for ACCT-777777");
  auto lines = l->logs()->recent(10);
  CAF_REQUIRE_EQUAL(lines.size(), 1u);
  CAF_CHECK(lines[0].message.find("777777") == std::string::npos);
  auto res = l->investigate("stuck", {}, 60s);
  CAF_REQUIRE(res);
  auto reqs = mock.requests(path);
  CAF_REQUIRE_EQUAL(reqs.size(), 4u);
  for (auto& r : reqs) {
    CAF_CHECK(r.body.find("424242") == std::string::npos);
    CAF_CHECK(r.body.find("ann@example.org") == std::string::npos);
  }
  // The operator's request did carry the (redacted) snapshot.
  CAF_CHECK(std::any_of(reqs.begin(), reqs.end(), [](auto& r) {
    return r.body.find("[REDACTED]") != std::string::npos;
  }));
  // What the store keeps of the model calls and of the snapshots is
  // redacted too (and is there: the redacted values are).
  CAF_REQUIRE(!l->flush_telemetry());
  auto d = l->stored(res->trace_id);
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->llm_exchanges.size(), 4u);
  CAF_CHECK_EQUAL(decided(*d, "operator:alpha"),
                  (std::vector<std::string>{"take_snapshot", "think", "done"}));
  CAF_REQUIRE_EQUAL(d->snapshots.size(), 1u);
  for (auto* part : {&d->llm_exchanges, &d->decisions, &d->snapshots}) {
    auto text = json(*part).dump();
    CAF_CHECK(text.find("424242") == std::string::npos);
    CAF_CHECK(text.find("ann@example.org") == std::string::npos);
    CAF_CHECK(text.find("[REDACTED]") != std::string::npos);
  }
  CAF_CHECK_EQUAL(d->snapshots[0]["data"]["value"], 1);
  CAF_CHECK_EQUAL(d->snapshots[0]["data"]["customer_email"], "[REDACTED]");
  l->stop();
  // The file's bytes: the answers are there, the secrets are not.
  auto bytes = database_bytes(dir / "redacted.db");
  CAF_CHECK(bytes.find("worker-7 is stuck.") != std::string::npos);
  CAF_CHECK(bytes.find("424242") == std::string::npos);
  CAF_CHECK(bytes.find("ann@example.org") == std::string::npos);
  // Nothing else in the database keeps them either: the timeline holds the
  // think event with the thought, the result the operator's summary.
  bool thought = false;
  for (auto& e : d->timeline)
    thought |= e["event"] == "caflens.operator.think";
  CAF_CHECK(thought);
  ::setenv("CAFLENS_REDACT_PATTERN", "([unclosed", 1);
  auto bad = caflens::start(*sys, lens_config());
  ::unsetenv("CAFLENS_REDACT_PATTERN");
  CAF_REQUIRE(!bad);
  CAF_CHECK(render_error(bad.error()).find("([unclosed") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
