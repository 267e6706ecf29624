#define CAF_SUITE actors.prompts
// The reviewed prompt files: within their token budgets, with the pattern
// table filled in from what the skills declare.

#include "../../actors/src/prompts.hpp"

#include "caflens/actors/rule_brain.hpp"
#include "caflens/llm/conversation.hpp"

#include "caf/test/unit_test.hpp"

using namespace caflens;
using namespace caflens::actors;

CAF_TEST(every prompt file declares a budget and keeps it) {
  for (auto name : {"coordinator", "operator"}) {
    auto p = load_prompt(name);
    CAF_MESSAGE(name << ": " << llm::estimate_tokens(p.text) << " of "
                     << p.budget_tokens << " tokens");
    CAF_CHECK(p.budget_tokens > 0);
    CAF_CHECK(!p.text.empty());
    CAF_CHECK(p.text.find("# budget") == std::string::npos);
  }
  auto co = coordinator_prompt();
  auto budget = load_prompt("coordinator").budget_tokens;
  CAF_MESSAGE("coordinator with its table: " << llm::estimate_tokens(co)
                                             << " of " << budget);
  CAF_CHECK_LESS_OR_EQUAL(llm::estimate_tokens(co), budget);
  auto op = operator_protocol();
  CAF_CHECK_LESS_OR_EQUAL(llm::estimate_tokens(op), load_prompt("operator").budget_tokens);
}

CAF_TEST(the coordinator prompt lists every pattern with its types) {
  auto co = coordinator_prompt();
  CAF_CHECK(co.find("{patterns}") == std::string::npos);
  for (auto& p : failure_patterns()) {
    auto line = "- " + p.id + " (rank " + std::to_string(p.rank) + "): ";
    auto at = co.find(line);
    CAF_CHECK(at != std::string::npos);
    if (at == std::string::npos)
      continue;
    auto eol = co.find('\n', at);
    for (auto& t : p.anomaly_types)
      CAF_CHECK(co.substr(at, eol - at).find(t) != std::string::npos);
  }
  // The suspect convention and the refusal of uncited culprits are taught.
  CAF_CHECK(operator_protocol().find("recheck_ms") != std::string::npos);
  CAF_CHECK(co.find("refused") != std::string::npos);
}
