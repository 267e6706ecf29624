#define CAF_SUITE cluster.causality
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "cluster_support.hpp"

#include "caf/test/unit_test.hpp"

#include "../sanitizer.hpp"

using namespace caflens;
using namespace cluster_test;

// Another application than the demo (tests/cluster/shop_node.cpp): the
// cause sits on one node, its symptoms on the other.
CAF_TEST(a slow consumer on one node is linked to its callers on another) {
  auto ledger = caflens::cli::start_node_process(SHOP_EXE,
                                                 {"--role", "ledger",
                                                  "--name", "books"});
  CAF_REQUIRE(ledger.pid > 0);
  auto at = ledger.output.find("app ");
  CAF_REQUIRE(at != std::string::npos);
  auto app = ledger.output.substr(at + 4);
  app = app.substr(0, app.find('\n'));
  auto shop = caflens::cli::start_node_process(SHOP_EXE,
                                               {"--role", "checkout",
                                                "--name", "storefront",
                                                "--ledger", app});
  CAF_REQUIRE(shop.pid > 0);
  coordinator co{{address(ledger), address(shop)}};
  CAF_REQUIRE(co.wait_connected(2));
  std::this_thread::sleep_for(3500ms); // the backlog builds up
  investigate_options o;
  o.skills = {"actors", "logs"};
  o.deadline_ms = 30'000;
  auto r = co.lens.investigate("checkout errors", o);
  CAF_REQUIRE(r);
  CAF_MESSAGE(render_report(*r));
  if (test::under_tsan) {
    // Both nodes answered and something was diagnosed; which node backs
    // up first is TSan's doing here (see sanitizer.hpp).
    CAF_CHECK(r->errors.empty());
    CAF_CHECK(!r->insights.empty());
    co.lens.stop();
    shop.kill9();
    ledger.kill9();
    return;
  }
  const insight* cause = nullptr;
  const insight* symptom = nullptr;
  for (auto& i : r->insights) {
    if (i.pattern == "slow_consumer" && cause == nullptr)
      cause = &i;
    if (i.pattern == "error_burst")
      symptom = &i;
  }
  CAF_REQUIRE(cause != nullptr);
  CAF_REQUIRE(!cause->culprit_details.empty());
  CAF_CHECK_EQUAL(cause->culprit_details.front().name, "ledger");
  CAF_CHECK_EQUAL(cause->culprit_details.front().node, "books");
  CAF_REQUIRE(symptom != nullptr);
  CAF_CHECK(symptom->nodes == std::vector<std::string>{"storefront"});
  CAF_CHECK_EQUAL(symptom->correlation, correlation::symptomatic);
  CAF_CHECK(symptom->root_cause.find("a symptom of the slow_consumer on "
                                     "books")
            != std::string::npos);
  // The cause comes first.
  CAF_CHECK(cause < symptom);
  co.lens.stop();
  // The ledger would book its backlog for seconds before it exits.
  shop.kill9();
  ledger.kill9();
}
