#include "caflens/llm/compaction.hpp"

#include <algorithm>
#include <set>

#include "caflens/llm/detail/error.hpp"
#include "caflens/llm/detail/events.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::llm {

std::string_view to_string(compaction_strategy x) noexcept {
  switch (x) {
    case compaction_strategy::sliding_window:
      return "sliding_window";
    case compaction_strategy::summarize:
      return "summarize";
  }
  return "unknown";
}

bool needs_compaction(const conversation& conv,
                      const compaction_policy& policy) {
  return conv.estimated_tokens() > policy.max_context_tokens;
}

namespace {

// An assistant message with its tool results, or a single other message.
struct group {
  size_t begin;
  size_t end;
  bool keep_verbatim = false;
  bool must_keep = false;
  bool drop = false;
};

std::vector<group> make_groups(const std::vector<message>& xs) {
  std::vector<group> result;
  size_t i = 0;
  while (i < xs.size()) {
    auto j = i + 1;
    if (xs[i].role == role::assistant)
      while (j < xs.size() && xs[j].role == role::tool)
        ++j;
    group g{i, j};
    for (auto k = i; k < j; ++k)
      g.must_keep = g.must_keep || xs[k].must_keep();
    result.push_back(g);
    i = j;
  }
  return result;
}

size_t group_tokens(const std::vector<message>& xs, const group& g) {
  size_t result = 0;
  for (auto k = g.begin; k < g.end; ++k)
    result += estimate_tokens(xs[k]);
  return result;
}

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs)
    result += (result.empty() ? "" : ", ") + x;
  return result;
}

// Shortens a message that must survive: keeps a prefix of its text and its
// snapshot ids. Returns true when the text changed.
bool shorten(message& msg, size_t max_chars) {
  if (msg.role == role::assistant && !msg.tool_calls.empty()) {
    if (msg.text.empty())
      return false;
    msg.text.clear();
    return true;
  }
  if (!msg.must_keep()) {
    if (msg.role != role::tool)
      return false;
    static constexpr std::string_view omitted =
      "[compacted: result omitted to fit the context budget]";
    if (msg.text == omitted)
      return false;
    msg.text = std::string{omitted};
    return true;
  }
  std::string ids;
  if (!msg.snapshot_ids.empty())
    ids = " (snapshot ids: " + join(msg.snapshot_ids) + ")";
  if (msg.text.size() <= max_chars + ids.size())
    return false;
  auto cut = max_chars;
  // Do not cut a UTF-8 sequence in half.
  while (cut > 0 && (static_cast<unsigned char>(msg.text[cut]) & 0xC0) == 0x80)
    --cut;
  msg.text = "[compacted] " + msg.text.substr(0, cut) + " ..." + ids;
  return true;
}

} // namespace

caf::expected<compaction_result> compact(conversation& conv,
                                         const compaction_policy& policy,
                                         const summarizer& summarize,
                                         size_t target_tokens) {
  if (policy.target_ratio <= 0 || policy.target_ratio > 1)
    return detail::llm_error(llm_errc::invalid_config,
                             "compaction target_ratio must be in (0, 1], got " +
                               std::to_string(policy.target_ratio));
  auto started = telemetry::bus::monotonic_time();
  auto strategy = to_string(policy.strategy);
  auto& xs = conv.messages();
  compaction_result result;
  result.tokens_before = conv.estimated_tokens();
  result.messages_before = xs.size();
  auto target =
    target_tokens > 0
      ? target_tokens
      : static_cast<size_t>(policy.max_context_tokens * policy.target_ratio);
  auto config =
    "max_context_tokens=" + std::to_string(policy.max_context_tokens) +
    " target=" + std::to_string(target) +
    " keep_last_tool_results=" + std::to_string(policy.keep_last_tool_results);
  detail::emit_compaction_start(conv.trace_id(), conv.iteration(), strategy,
                                config, xs.size(), result.tokens_before);
  auto groups = make_groups(xs);
  if (!groups.empty()) {
    if (xs[groups.front().begin].role == role::user)
      groups.front().keep_verbatim = true;
    groups.back().keep_verbatim = true;
    size_t recent = 0;
    for (auto g = groups.rbegin();
         g != groups.rend() && recent < policy.keep_last_tool_results; ++g) {
      auto has_tool = std::any_of(xs.begin() + g->begin, xs.begin() + g->end,
                                  [](auto& m) { return m.role == role::tool; });
      if (has_tool) {
        g->keep_verbatim = true;
        ++recent;
      }
    }
  }
  auto tokens = result.tokens_before;
  // Phase 1: drop the oldest turns that carry nothing that must survive.
  for (auto& g : groups) {
    if (tokens <= target)
      break;
    if (g.keep_verbatim || g.must_keep)
      continue;
    g.drop = true;
    tokens -= std::min(tokens, group_tokens(xs, g));
  }
  // Phase 2: shorten old turns that must survive to their essentials.
  for (auto& g : groups) {
    if (tokens <= target)
      break;
    if (g.keep_verbatim || g.drop)
      continue;
    for (auto k = g.begin; k < g.end; ++k) {
      auto before = estimate_tokens(xs[k]);
      if (shorten(xs[k], policy.kept_result_chars)) {
        ++result.shortened;
        tokens -=
          std::min(tokens, before - std::min(before, estimate_tokens(xs[k])));
      }
    }
  }
  std::vector<message> dropped;
  std::vector<message> kept;
  size_t insert_at = 0;
  for (auto& g : groups) {
    for (auto k = g.begin; k < g.end; ++k) {
      if (g.drop)
        dropped.push_back(std::move(xs[k]));
      else
        kept.push_back(std::move(xs[k]));
    }
    if (&g == &groups.front() && g.keep_verbatim && !g.drop)
      insert_at = kept.size();
  }
  result.dropped = dropped.size();
  if (!dropped.empty()) {
    std::optional<message> note;
    if (policy.strategy == compaction_strategy::summarize && summarize) {
      auto summary = summarize(dropped);
      if (summary && !summary->empty()) {
        note = message::make_user("[compaction] Summary of " +
                                  std::to_string(dropped.size()) +
                                  " earlier messages: " + *summary);
        result.summarized = true;
      }
    }
    if (!note)
      note = message::make_user(
        "[compaction] " + std::to_string(dropped.size()) +
        " earlier messages were removed to stay within the context budget.");
    kept.insert(kept.begin() + static_cast<ptrdiff_t>(insert_at),
                std::move(*note));
  }
  xs = std::move(kept);
  result.messages_after = xs.size();
  result.tokens_after = conv.estimated_tokens();
  detail::emit_compaction_stop(conv.trace_id(), conv.iteration(), strategy,
                               xs.size(), result.tokens_after,
                               telemetry::bus::monotonic_time() - started);
  return result;
}

} // namespace caflens::llm
