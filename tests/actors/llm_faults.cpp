#define CAF_SUITE actors.llm_faults
// Investigations through the LLM path against the plausible model (a server
// that derives its tool calls from what it is sent, over both protocols),
// with the provider trouble of real life: a burst of errors, a hang longer
// than the deadline, operators that never finish, a model that never calls
// done, malformed and unknown tool calls, an exhausted quota. Each ends with
// a result or a partial result within deadline + 2 s.

#include <chrono>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors_test_support.hpp"
#include "plausible_model.hpp"

#include "caflens/llm/client_registry.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace test_support;
using namespace std::chrono_literals;

namespace {

const char* key_env = "CAFLENS_TEST_FAULTS_KEY";

struct fixture {
  plausible_model model;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    ::setenv(key_env, "sk-test-faults-0123456789abcdef", 1);
    ::unsetenv("CAFLENS_BRAIN");
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~fixture() {
    ::unsetenv(key_env);
  }

  /// Two skills that see one culprit from two sides: a backlog (actors)
  /// and a blocked handler (scheduler) on ledger-writer.
  config lens_config(bool anthropic) {
    config c;
    c.node_name = "faults-node";
    c.builtin_skills = false;
    c.skills = {
      counting_skill("queues",
                     {{"mailbox_growth", severity::warning,
                       "ledger-writer mailbox 4120 msgs, +380 msg/s",
                       {"ledger-writer"},
                       json{{"mailbox_depth", 4120}, {"growth", 380}}}}),
      counting_skill("threads",
                     {{"blocked_handler", severity::critical,
                       "ledger-writer inside one handler for 2400 ms",
                       {"ledger-writer"},
                       json{{"handler_ms", 2400}}}})};
    c.rule.sample_interval = 10ms;
    llm::client_config cc;
    cc.name = "plausible";
    cc.provider = anthropic ? llm::provider_kind::anthropic
                            : llm::provider_kind::openai_compatible;
    cc.base_url = anthropic ? model.base_url() : model.openai_base_url();
    cc.model = anthropic ? "claude-plausible" : "gpt-plausible";
    cc.api_key_env = key_env;
    cc.retry.initial_backoff = 50ms;
    cc.breaker.open_duration = 500ms;
    auto reg = std::make_shared<llm::client_registry>();
    CAF_REQUIRE(!reg->add(cc));
    c.llm = reg;
    return c;
  }

  struct outcome {
    caf::expected<investigation_result> res{caf::error{}};
    std::chrono::milliseconds took{0};
  };

  outcome run(config c, investigate_options opts = {}) {
    auto l = caflens::start(*sys, std::move(c));
    CAF_REQUIRE(l);
    auto t0 = std::chrono::steady_clock::now();
    outcome out;
    out.res = l->investigate("ledger writes are slow", std::move(opts));
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    l->stop();
    return out;
  }
};

bool names(const std::vector<std::string>& errors, const std::string& what) {
  for (auto& e : errors)
    if (e.find(what) != std::string::npos)
      return true;
  return false;
}

/// The culprit the evidence names, whoever reasoned.
void check_diagnosis(const investigation_result& r) {
  auto* top = r.top(severity::warning);
  CAF_REQUIRE(top != nullptr);
  CAF_CHECK_EQUAL(top->culprits.at(0), "ledger-writer");
  CAF_CHECK_EQUAL(top->pattern, "scheduler_starvation");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(llm_fault_tests, fixture)

CAF_TEST(the plausible model diagnoses over both protocols) {
  for (bool anthropic : {true, false}) {
    CAF_MESSAGE((anthropic ? "anthropic" : "openai"));
    auto out = run(lens_config(anthropic));
    if (!out.res)
      CAF_FAIL("investigate failed: " << render_error(out.res.error()));
    auto& r = *out.res;
    CAF_CHECK_EQUAL(r.brain, "llm");
    CAF_CHECK(!r.partial);
    check_diagnosis(r);
    // The cause cites the backlog behind it too (both read the process
    // table: one source, so not grounded); the backlog is its symptom.
    CAF_CHECK_EQUAL(r.insights.front().notification_ids.size(), 2u);
    CAF_CHECK(!r.insights.front().grounded);
    CAF_REQUIRE_EQUAL(r.insights.size(), 2u);
    CAF_CHECK_EQUAL(r.insights[1].pattern, "slow_consumer");
    CAF_CHECK(r.insights[1].correlation == caflens::correlation::symptomatic);
    CAF_CHECK(!r.summary.empty());
    CAF_CHECK(r.input_tokens > 0);
    auto s = model.stats();
    CAF_CHECK(s.coordinator_requests >= 5);
    CAF_CHECK(s.operator_requests >= 8);
    CAF_CHECK(s.violations.empty());
    for (auto& v : s.violations)
      CAF_MESSAGE("violation: " << v);
  }
}

CAF_TEST(a burst of five errors while operators run loses nothing) {
  // Requests 2..6 fail: the operators' first calls, concurrently. The
  // endpoint's breaker opens; the calls wait for its half-open probe.
  model.faults({5, 2, 500});
  auto out = run(lens_config(true));
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  auto& r = *out.res;
  CAF_CHECK_EQUAL(model.stats().faults_served, 5);
  // Each failed attempt was retried, and the result says so.
  CAF_CHECK_EQUAL(r.llm_retries, 5);
  CAF_CHECK_EQUAL(r.llm_calls, model.stats().requests - 5);
  CAF_CHECK_EQUAL(r.brain, "llm");
  CAF_CHECK(!r.partial);
  for (auto& op : r.operators)
    CAF_CHECK_EQUAL(op.stop_reason, "done");
  check_diagnosis(r);
}

CAF_TEST(a server that hangs past the deadline yields a partial result in time) {
  model_faults f;
  f.hang_from = 4; // the coordinator has invoked the operators
  model.faults(f);
  investigate_options opts;
  opts.deadline_ms = 3000;
  auto out = run(lens_config(false), opts);
  CAF_MESSAGE("took " << out.took.count() << " ms");
  CAF_CHECK(out.took < 5000ms);
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  CAF_CHECK(out.res->partial);
  CAF_CHECK_EQUAL(out.res->operators.size(), 2u);
}

CAF_TEST(a hang from the first call still answers at the deadline) {
  model_faults f;
  f.hang_from = 1;
  model.faults(f);
  investigate_options opts;
  opts.deadline_ms = 2000;
  auto out = run(lens_config(true), opts);
  CAF_MESSAGE("took " << out.took.count() << " ms");
  CAF_CHECK(out.took < 4000ms);
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  CAF_CHECK(out.res->partial);
  CAF_CHECK(names(out.res->errors, "deadline"));
}

CAF_TEST(operators that never finish are cancelled at the final answer) {
  model_faults f;
  f.operator_never_done = true;
  model.faults(f);
  investigate_options opts;
  opts.deadline_ms = 4000;
  opts.operator_max_iterations = 200;
  auto out = run(lens_config(true), opts);
  CAF_MESSAGE("took " << out.took.count() << " ms");
  CAF_CHECK(out.took < 6000ms);
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  auto& r = *out.res;
  CAF_CHECK(r.partial);
  // The coordinator gave its final answer (asked at 90 % of the deadline),
  // which ended the operators; no budget_exhausted error.
  CAF_CHECK(!r.summary.empty());
  CAF_CHECK(!names(r.errors, "budget_exhausted"));
  for (auto& op : r.operators)
    CAF_CHECK_EQUAL(op.stop_reason, "cancelled");
}

CAF_TEST(a model that never calls done stops at the iteration limit) {
  model_faults f;
  f.coordinator_never_done = true;
  model.faults(f);
  investigate_options opts;
  opts.max_iterations = 12;
  auto out = run(lens_config(false), opts);
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  auto& r = *out.res;
  CAF_MESSAGE("brain " << r.brain << " iterations " << r.iterations
                       << " summary " << r.summary);
  for (auto& e : r.errors)
    CAF_MESSAGE("error: " << e);
  CAF_CHECK(r.partial);
  CAF_CHECK(names(r.errors, "max_iterations"));
  // It was asked for a final answer once (one step past the limit).
  CAF_CHECK_EQUAL(r.iterations, 13);
  // What it concluded before is kept.
  check_diagnosis(r);
}

CAF_TEST(malformed and unknown tool calls end offline with the diagnosis) {
  model_faults f;
  f.malformed_from = 1;
  model.faults(f);
  auto out = run(lens_config(true));
  if (!out.res)
    CAF_FAIL("investigate failed: " << render_error(out.res.error()));
  auto& r = *out.res;
  CAF_CHECK_EQUAL(r.brain, "llm+rule");
  CAF_CHECK(r.partial);
  CAF_CHECK(names(r.errors, "invalid_tool_call") || names(r.errors, "re-asks"));
  check_diagnosis(r);
}

CAF_TEST(an exhausted quota ends offline with the diagnosis) {
  for (bool anthropic : {true, false}) {
    model_faults f;
    f.quota_from = 1;
    model.faults(f);
    auto before = model.stats().requests;
    auto out = run(lens_config(anthropic));
    if (!out.res)
      CAF_FAIL("investigate failed: " << render_error(out.res.error()));
    auto& r = *out.res;
    CAF_CHECK_EQUAL(r.brain, "llm+rule");
    CAF_CHECK(r.partial);
    CAF_CHECK(names(r.errors, "quota"));
    check_diagnosis(r);
    // Not retried, and nothing more asked of it once it said so.
    CAF_CHECK_EQUAL(model.stats().requests - before, 1);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
