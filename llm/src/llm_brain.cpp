#include "caflens/llm/llm_brain.hpp"

#include <algorithm>
#include <cctype>

#include "caflens/llm/detail/error.hpp"
#include "caflens/llm/detail/events.hpp"
#include "caflens/llm/detail/text_tool_calls.hpp"

namespace caflens::llm {

namespace {

std::string trim(const std::string& x) {
  auto b = x.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  auto e = x.find_last_not_of(" \t\r\n");
  return x.substr(b, e - b + 1);
}

std::string clip(const std::string& x, size_t n) {
  return x.size() <= n ? x : x.substr(0, n) + "...";
}

/// The budget's time left and cancel flag travel with the request: no call
/// outlives the investigation.
void bound(completion_request& req, const conversation& conv) {
  if (auto b = conv.budget()) {
    req.time_left = b->time_left();
    req.cancelled = [b] { return b->cancelled(); };
  }
}

} // namespace

llm_brain::llm_brain(std::shared_ptr<client_registry> clients,
                     llm_brain_config cfg)
  : clients_(std::move(clients))
  , cfg_(std::move(cfg)) {
  // A conversation must fit the smallest window it may be sent to: the
  // window less the reply and a tenth for the estimate's error.
  if (!clients_)
    return;
  for (auto& name : clients_->names())
    if (auto c = clients_->find(name); c && c->config().context_window) {
      auto& cc = c->config();
      auto fits = static_cast<size_t>(
        std::max(0, *cc.context_window * 9 / 10 - cc.max_tokens));
      cfg_.compaction.max_context_tokens
        = std::min(cfg_.compaction.max_context_tokens, fits);
    }
}

brain_usage llm_brain::usage() const {
  brain_usage u;
  for (auto& c : calls_) {
    ++u.calls;
    u.retries += c.retries;
    u.input_tokens += c.usage.prompt_tokens();
    u.output_tokens += c.usage.output_tokens;
    u.cost_usd += c.cost_usd;
  }
  return u;
}

caf::expected<tool_call> llm_brain::decide(conversation& conv,
                                           const tool_set& tools) {
  try {
    return decide_impl(conv, tools);
  } catch (const std::exception& ex) {
    return detail::llm_error(llm_errc::invalid_response,
                             std::string{"llm brain: unexpected exception: "} +
                               ex.what());
  } catch (...) {
    return detail::llm_error(llm_errc::invalid_response,
                             "llm brain: unexpected exception");
  }
}

tool_call llm_brain::remember(const conversation& conv, tool_call call) {
  if (recording_)
    recording_->add(decision{conv.trace_id(), conv.iteration(), call, label_});
  return call;
}

std::string llm_brain::check(const tool_call& call,
                             const tool_set& tools) const {
  auto* def = tools.find(call.name);
  if (def == nullptr)
    return "unknown tool '" + call.name +
           "'; available tools: " + tools.names();
  if (call.arguments.is_null())
    return "the arguments of " + call.name +
           " are not valid JSON; received: " + clip(call.arguments_text, 200) +
           ". Send the arguments as one JSON object.";
  auto problems = def->problems(call.arguments);
  if (!problems.empty())
    return call.name + ": " + problems;
  return {};
}

void llm_brain::maybe_compact(conversation& conv, size_t target) {
  summarizer sum;
  if (cfg_.compaction.strategy == compaction_strategy::summarize) {
    sum = [this, &conv](
            const std::vector<message>& dropped) -> caf::expected<std::string> {
      completion_request req;
      req.system = "You compress the history of a runtime investigation. "
                   "Summarize the messages below in at most 200 words: keep "
                   "every measured number, snapshot id, notification and "
                   "open question; drop chatter.";
      std::string text;
      for (auto& m : dropped) {
        text += "[" + std::string{to_string(m.role)} + "] " + m.text;
        for (auto& c : m.tool_calls)
          text += " call " + c.name + " " + c.arguments.dump();
        text += "\n";
      }
      req.messages.push_back(message::make_user(std::move(text)));
      req.trace_id = conv.trace_id();
      req.iteration = conv.iteration();
      if (!label_.empty())
        req.loop = label_ + "#summary";
      bound(req, conv);
      auto result = clients_->complete(req);
      if (!result)
        return result.error();
      if (auto b = conv.budget())
        b->charge(result->usage.prompt_tokens() + result->usage.output_tokens,
                  result->cost_usd);
      calls_.push_back(*result);
      return trim(result->text);
    };
  }
  compact(conv, cfg_.compaction, sum, target);
}

caf::expected<tool_call> llm_brain::decide_impl(conversation& conv,
                                                const tool_set& tools) {
  conv.next_iteration();
  if (!clients_ || clients_->empty())
    return detail::llm_error(llm_errc::no_client,
                             "llm brain: no llm client is configured");
  // 1. Calls of the last turn that the loop has not answered yet.
  if (auto pending = conv.pending_calls(); !pending.empty())
    return remember(conv, pending.front());
  // 2. Budget: ask for the final answer once, then stop.
  if (auto b = conv.budget()) {
    if (auto which = b->exceeded()) {
      if (!conv.final_answer_requested()) {
        auto limit = b->describe(*which);
        detail::emit_budget_exceeded(conv.trace_id(), *which, limit,
                                     b->tokens_used(), b->cost_used());
        conv.request_final_answer(cfg_.final_answer_instruction +
                                  " (budget: " + limit + ")");
      } else if (final_call_made_) {
        return detail::llm_error(llm_errc::budget_exhausted,
                                 "llm brain: budget exhausted (" +
                                   b->describe(*which) +
                                   ") and the final answer was already "
                                   "asked for");
      }
    }
  }
  auto final_only = conv.final_answer_requested();
  auto offered = tools;
  std::string forced;
  if (final_only && tools.find(cfg_.answer_tool) != nullptr) {
    offered = tools.only({cfg_.answer_tool});
    forced = cfg_.answer_tool;
  }
  // 3. Compaction.
  if (cfg_.compaction_enabled && needs_compaction(conv, cfg_.compaction))
    maybe_compact(conv, 0);
  bool overflow_retried = false;
  for (;;) {
    completion_request req;
    req.system = conv.system_prompt();
    req.messages = conv.messages();
    req.tools = offered;
    req.forced_tool = forced;
    req.trace_id = conv.trace_id();
    req.iteration = conv.iteration();
    req.loop = label_;
    bound(req, conv);
    auto result = clients_->complete(req);
    if (final_only)
      final_call_made_ = true;
    if (!result) {
      auto code = llm_code(result.error());
      if (code == llm_errc::context_overflow && !overflow_retried &&
          cfg_.compaction_enabled) {
        overflow_retried = true;
        auto before = conv.estimated_tokens();
        maybe_compact(conv, before / 2);
        if (conv.estimated_tokens() < before)
          continue;
      }
      return result.error();
    }
    auto& reply = *result;
    if (auto b = conv.budget())
      b->charge(reply.usage.prompt_tokens() + reply.usage.output_tokens,
                reply.cost_usd);
    calls_.push_back(reply);
    auto calls = reply.tool_calls;
    auto from_text = false;
    if (calls.empty() && cfg_.parse_text_tool_calls && !reply.text.empty()) {
      calls = detail::extract_text_tool_calls(
        reply.text, offered,
        "text_call_" + std::to_string(conv.iteration()) + "_");
      from_text = !calls.empty();
    }
    if (calls.empty()) {
      auto text = trim(reply.text);
      if (reply.truncated)
        return detail::llm_error(
          llm_errc::response_truncated,
          "llm brain: the model stopped at max_tokens (" +
            std::to_string(reply.usage.output_tokens) +
            " output tokens, stop reason " + reply.stop_reason +
            "); partial answer: " + clip(text, 120));
      if (text.empty()) {
        if (++reasks_ > cfg_.max_reasks)
          return detail::llm_error(llm_errc::invalid_tool_call,
                                   "llm brain: the model sent " +
                                     std::to_string(reasks_) +
                                     " empty replies in a row");
        ++tool_errors_;
        detail::emit_tool_error(conv.trace_id(), "", "empty reply", reasks_);
        conv.add(message::make_assistant("(no content)"));
        conv.add_user("Your reply was empty. Call one of the tools: " +
                      offered.names());
        continue;
      }
      reasks_ = 0;
      conv.add(message::make_assistant(text));
      tool_call answer;
      answer.name = cfg_.answer_tool;
      answer.arguments = {{cfg_.answer_argument, text}};
      return remember(conv, std::move(answer));
    }
    // Keep the raw text of a text-parsed call so the turn reads coherently.
    conv.add(message::make_assistant(trim(reply.text), calls));
    std::string last_problem;
    int invalid = 0;
    for (auto& call : calls) {
      auto problem = check(call, offered);
      if (problem.empty())
        continue;
      ++invalid;
      ++tool_errors_;
      last_problem = problem;
      conv.add_tool_result(
        call.id, "Error: " + problem + " Please correct the call.", true);
      detail::emit_tool_error(conv.trace_id(), call.name, problem, reasks_ + 1);
    }
    std::ignore = from_text;
    if (invalid > 0) {
      if (++reasks_ > cfg_.max_reasks)
        return detail::llm_error(llm_errc::invalid_tool_call,
                                 "llm brain: still invalid after " +
                                   std::to_string(cfg_.max_reasks) +
                                   " re-asks: " + last_problem);
    } else {
      reasks_ = 0;
    }
    if (auto pending = conv.pending_calls(); !pending.empty())
      return remember(conv, pending.front());
  }
}

} // namespace caflens::llm
