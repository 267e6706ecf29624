// caflens::llm — the brain of an investigation.
//
// A `brain` turns a conversation and a tool list into the next tool call.
// `llm_brain` asks a model through a `client_registry` of `client`s that
// speak the Anthropic Messages API or OpenAI-compatible Chat Completions over
// libcurl, with retries, a circuit breaker, fallback chains, redaction,
// compaction, budgets, token/cost accounting and telemetry events.
// `scripted_brain` replays recorded calls.
//
//   using namespace caflens::llm;
//   auto reg = std::make_shared<client_registry>();
//   client_config cfg;
//   cfg.name = "claude";
//   cfg.provider = provider_kind::anthropic;
//   cfg.base_url = "https://api.anthropic.com";
//   cfg.model = "claude-haiku-4-5";
//   cfg.api_key_env = "ANTHROPIC_API_KEY";
//   reg->add(cfg);
//   llm_brain brain{reg};
//   tool_set tools{tool_definition{"done", "Finish.", {}}};
//   conversation conv{"You investigate CAF applications.", trace_id};
//   conv.add_user("p99 of /upload over 2 s");
//   auto call = brain.decide(conv, tools); // caf::expected<tool_call>
#pragma once

#include "caflens/llm/brain.hpp"
#include "caflens/llm/budget.hpp"
#include "caflens/llm/circuit_breaker.hpp"
#include "caflens/llm/client.hpp"
#include "caflens/llm/client_config.hpp"
#include "caflens/llm/client_registry.hpp"
#include "caflens/llm/clock.hpp"
#include "caflens/llm/compaction.hpp"
#include "caflens/llm/conversation.hpp"
#include "caflens/llm/fwd.hpp"
#include "caflens/llm/http_transport.hpp"
#include "caflens/llm/llm_brain.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/message.hpp"
#include "caflens/llm/recording.hpp"
#include "caflens/llm/redactor.hpp"
#include "caflens/llm/retry_policy.hpp"
#include "caflens/llm/scripted_brain.hpp"
#include "caflens/llm/tool_definition.hpp"
#include "caflens/llm/wire_format.hpp"
