#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace caflens::llm::detail {

// Emitters for the `caflens.llm.*` and `caflens.compaction.*` events on the
// global bus (see telemetry/src/catalogue.cpp for the keys). Never throw.

struct call_labels {
  std::string_view trace_id;
  int64_t iteration = 0;
  std::string_view client;
  std::string_view provider;
  std::string_view model;
};

void emit_llm_start(const call_labels& labels, uint64_t span_id,
                    int64_t context_size, int64_t monotonic_ns);

void emit_llm_stop(const call_labels& labels, uint64_t span_id,
                   int64_t duration_ns, int64_t input_tokens,
                   int64_t output_tokens, double cost_usd, int retries,
                   std::string_view tool_selected,
                   std::string_view stop_reason);

void emit_llm_exception(const call_labels& labels, uint64_t span_id,
                        int64_t duration_ns, std::string_view kind,
                        std::string_view reason);

void emit_llm_retry(std::string_view trace_id, std::string_view client,
                    int attempt, int64_t delay_ms, std::string_view reason,
                    int status);

/// A streamed reply's progress (at most once a second per call, and once
/// when it completes).
void emit_llm_stream(std::string_view trace_id, int64_t iteration,
                     std::string_view client, int attempt, int64_t elapsed_ms,
                     int64_t events, int64_t text_bytes, int64_t tool_bytes,
                     bool complete);

/// A streamed reply stopped flowing (`client_config::stall_timeout`).
void emit_llm_stall(std::string_view trace_id, std::string_view client,
                    int attempt, int64_t silent_ms, int64_t received_bytes);

void emit_llm_fallback(std::string_view trace_id, std::string_view from,
                       std::string_view to, std::string_view reason);

void emit_circuit_open(std::string_view client, int failures,
                       std::string_view reason);

void emit_circuit_close(std::string_view client);

void emit_budget_exceeded(std::string_view trace_id, std::string_view which,
                          std::string_view limit, int64_t tokens,
                          double cost_usd);

void emit_tool_error(std::string_view trace_id, std::string_view tool_name,
                     std::string_view reason, int reasks);

void emit_compaction_start(std::string_view trace_id, int64_t iteration,
                           std::string_view strategy, std::string_view config,
                           size_t message_count, size_t context_tokens);

void emit_compaction_stop(std::string_view trace_id, int64_t iteration,
                          std::string_view strategy, size_t message_count,
                          size_t context_tokens, int64_t duration_ns);

/// A process-unique id for pairing start/stop events.
uint64_t next_span_id() noexcept;

} // namespace caflens::llm::detail
