#define CAF_SUITE llm.compaction
#include "caf/test/unit_test.hpp"

#include <mutex>
#include <vector>

#include "caflens/llm/compaction.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/telemetry/bus.hpp"

using namespace caflens::llm;

namespace {

// An operator-style investigation: snapshots, Lua output, a notification.
conversation long_investigation(int turns) {
  conversation conv{"You investigate a CAF application.", "trace-c"};
  conv.add_user("p99 of /upload over 2 s");
  for (int i = 0; i < turns; ++i) {
    auto id = "call_" + std::to_string(i);
    tool_call call{id,
                   i % 3 == 0 ? "take_snapshot" : "execute",
                   {{"lua", "return actors_top(10)"}},
                   ""};
    conv.add(
      message::make_assistant("Looking at step " + std::to_string(i), {call}));
    std::string big(2000, 'x');
    if (i % 3 == 0) {
      auto snap = "snap-" + std::to_string(i);
      conv.add_tool_result(id, "snapshot " + snap + ": " + big, false, {snap});
    } else {
      conv.add_tool_result(id, "lua output: " + big);
    }
    if (i == 4) {
      auto note = message::make_user(
        "notification n-1: worker-7 mailbox 48213 and growing");
      note.notification = true;
      conv.add(note);
    }
  }
  return conv;
}

bool mentions(const conversation& conv, const std::string& text) {
  for (auto& m : conv.messages())
    if (m.text.find(text) != std::string::npos)
      return true;
  return false;
}

// Every assistant tool call is answered right after it, and every result
// answers a call of the assistant message before it.
bool well_paired(const conversation& conv) {
  auto& xs = conv.messages();
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].role == role::tool) {
      size_t j = i;
      while (j > 0 && xs[j - 1].role == role::tool)
        --j;
      if (j == 0 || xs[j - 1].role != role::assistant)
        return false;
    }
    if (xs[i].role == role::assistant)
      for (auto& call : xs[i].tool_calls) {
        bool found = false;
        for (size_t k = i + 1; k < xs.size() && xs[k].role == role::tool; ++k)
          found = found || xs[k].tool_call_id == call.id;
        if (!found)
          return false;
      }
  }
  return true;
}

} // namespace

CAF_TEST(a long conversation stays under budget and keeps the evidence) {
  namespace tm = caflens::telemetry;
  struct seen {
    std::string name;
    double tokens;
    std::string strategy;
    std::string trace_id;
  };
  std::mutex mtx;
  std::vector<seen> events;
  tm::bus::global().attach_many(
    "llm.compaction.test",
    {tm::event_name{"caflens", "compaction", "start"},
     tm::event_name{"caflens", "compaction", "stop"}},
    [&](const tm::event_name& name, const tm::measurements& ms,
        const tm::metadata& md, const std::any&) {
      std::lock_guard<std::mutex> guard{mtx};
      auto* strategy = md.find("strategy");
      auto* trace = md.find("trace_id");
      events.push_back({name.str(), ms.find("context_tokens").value_or(-1),
                        strategy ? std::string{strategy->as_string()} : "",
                        trace ? std::string{trace->as_string()} : ""});
    });
  auto conv = long_investigation(40);
  compaction_policy policy;
  policy.max_context_tokens = 6000;
  policy.keep_last_tool_results = 3;
  CAF_REQUIRE(needs_compaction(conv, policy));
  auto before = conv.estimated_tokens();
  auto r = compact(conv, policy);
  tm::bus::global().detach("llm.compaction.test");
  CAF_REQUIRE(r);
  // One compaction span: start with the tokens before, stop with after.
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[0].name, "caflens.compaction.start");
  CAF_CHECK_EQUAL(events[1].name, "caflens.compaction.stop");
  CAF_CHECK_EQUAL(events[0].tokens, static_cast<double>(before));
  CAF_CHECK_EQUAL(events[1].tokens,
                  static_cast<double>(conv.estimated_tokens()));
  CAF_CHECK_EQUAL(events[0].trace_id, "trace-c");
  CAF_CHECK(!events[1].strategy.empty());
  CAF_MESSAGE("tokens " << before << " -> " << conv.estimated_tokens());
  CAF_CHECK(conv.estimated_tokens() <= policy.max_context_tokens);
  CAF_CHECK(r->dropped > 0);
  // Snapshot ids and the notification survive.
  for (int i = 0; i < 40; i += 3)
    CAF_CHECK(mentions(conv, "snap-" + std::to_string(i)));
  CAF_CHECK(mentions(conv, "notification n-1"));
  // The task survives as the first message.
  CAF_CHECK_EQUAL(conv.messages().front().text, "p99 of /upload over 2 s");
  // The last 3 tool results are verbatim.
  int verbatim = 0;
  for (auto i = conv.messages().rbegin(); i != conv.messages().rend(); ++i)
    if (i->role == role::tool && i->text.size() > 2000)
      ++verbatim;
  CAF_CHECK(verbatim >= 3);
  CAF_CHECK(well_paired(conv));
}

CAF_TEST(repeated growth and compaction stays bounded) {
  compaction_policy policy;
  policy.max_context_tokens = 5000;
  auto conv = long_investigation(5);
  for (int round = 0; round < 30; ++round) {
    auto id = "r" + std::to_string(round);
    conv.add(
      message::make_assistant("", {{id, "execute", {{"lua", "1"}}, ""}}));
    auto snap = "snap-r" + std::to_string(round);
    conv.add_tool_result(id, "snapshot " + snap + ": " + std::string(1500, 'y'),
                         false, {snap});
    if (needs_compaction(conv, policy))
      CAF_REQUIRE(compact(conv, policy));
    CAF_CHECK(conv.estimated_tokens() <= policy.max_context_tokens);
    CAF_CHECK(well_paired(conv));
  }
  for (int round = 0; round < 30; ++round)
    CAF_CHECK(mentions(conv, "snap-r" + std::to_string(round)));
  CAF_CHECK(mentions(conv, "notification n-1"));
}

CAF_TEST(summarize replaces dropped turns with one summary) {
  auto conv = long_investigation(20);
  compaction_policy policy;
  policy.strategy = compaction_strategy::summarize;
  policy.max_context_tokens = 6000;
  int calls = 0;
  size_t summarized = 0;
  auto sum =
    [&](const std::vector<message>& dropped) -> caf::expected<std::string> {
    ++calls;
    summarized = dropped.size();
    return std::string{"earlier lua runs showed nothing unusual"};
  };
  auto r = compact(conv, policy, sum);
  CAF_REQUIRE(r);
  CAF_CHECK(r->summarized);
  CAF_CHECK_EQUAL(calls, 1);
  CAF_CHECK_EQUAL(summarized, r->dropped);
  CAF_CHECK(mentions(conv, "earlier lua runs showed nothing unusual"));
  CAF_CHECK(conv.estimated_tokens() <= policy.max_context_tokens);
  CAF_CHECK(well_paired(conv));
}

CAF_TEST(a failing summarizer falls back to the sliding window) {
  auto conv = long_investigation(20);
  compaction_policy policy;
  policy.strategy = compaction_strategy::summarize;
  policy.max_context_tokens = 6000;
  auto sum = [](const std::vector<message>&) -> caf::expected<std::string> {
    return make_error(llm_errc::overloaded);
  };
  auto r = compact(conv, policy, sum);
  CAF_REQUIRE(r);
  CAF_CHECK(!r->summarized);
  CAF_CHECK(mentions(conv, "earlier messages were removed"));
  CAF_CHECK(conv.estimated_tokens() <= policy.max_context_tokens);
}

CAF_TEST(an invalid policy is an error) {
  conversation conv;
  compaction_policy policy;
  policy.target_ratio = 0;
  auto r = compact(conv, policy);
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(llm_code(r.error()), llm_errc::invalid_config);
}
