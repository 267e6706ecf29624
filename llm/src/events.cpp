#include "caflens/llm/detail/events.hpp"

#include <atomic>

#include "caflens/telemetry/bus.hpp"

namespace caflens::llm::detail {

namespace tm = caflens::telemetry;

namespace {

tm::event intern(std::initializer_list<std::string_view> name) {
  return tm::bus::global().intern(tm::event_name{name});
}

struct llm_events {
  tm::event start = intern({"caflens", "llm", "start"});
  tm::event stop = intern({"caflens", "llm", "stop"});
  tm::event exception = intern({"caflens", "llm", "exception"});
  tm::event retry = intern({"caflens", "llm", "retry"});
  tm::event stream = intern({"caflens", "llm", "stream"});
  tm::event stall = intern({"caflens", "llm", "stall"});
  tm::event fallback = intern({"caflens", "llm", "fallback"});
  tm::event circuit_open = intern({"caflens", "llm", "circuit_open"});
  tm::event circuit_close = intern({"caflens", "llm", "circuit_close"});
  tm::event budget_exceeded = intern({"caflens", "llm", "budget_exceeded"});
  tm::event tool_error = intern({"caflens", "llm", "tool_error"});
  tm::event compaction_start = intern({"caflens", "compaction", "start"});
  tm::event compaction_stop = intern({"caflens", "compaction", "stop"});
};

const llm_events& events() {
  static const llm_events instance;
  return instance;
}

double now_sys() {
  return static_cast<double>(tm::bus::system_time());
}

double now_mono() {
  return static_cast<double>(tm::bus::monotonic_time());
}

} // namespace

uint64_t next_span_id() noexcept {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void emit_llm_start(const call_labels& l, uint64_t span_id,
                    int64_t context_size, int64_t monotonic_ns) {
  tm::bus::global().execute(
    events().start,
    {{"system_time", now_sys()},
     {"monotonic_time", static_cast<double>(monotonic_ns)}},
    {{"trace_id", l.trace_id},
     {"iteration", l.iteration},
     {"context_size", context_size},
     {"client", l.client},
     {"provider", l.provider},
     {"model", l.model},
     {"telemetry_span_context", span_id}});
}

void emit_llm_stop(const call_labels& l, uint64_t span_id, int64_t duration_ns,
                   int64_t input_tokens, int64_t output_tokens, double cost_usd,
                   int retries, std::string_view tool_selected,
                   std::string_view stop_reason) {
  tm::bus::global().execute(
    events().stop,
    {{"duration", static_cast<double>(duration_ns)},
     {"monotonic_time", now_mono()},
     {"input_tokens", static_cast<double>(input_tokens)},
     {"output_tokens", static_cast<double>(output_tokens)},
     {"cost_usd", cost_usd},
     {"retries", static_cast<double>(retries)}},
    {{"trace_id", l.trace_id},
     {"iteration", l.iteration},
     {"client", l.client},
     {"provider", l.provider},
     {"model", l.model},
     {"tool_selected", tool_selected},
     {"stop_reason", stop_reason},
     {"telemetry_span_context", span_id}});
}

void emit_llm_exception(const call_labels& l, uint64_t span_id,
                        int64_t duration_ns, std::string_view kind,
                        std::string_view reason) {
  tm::bus::global().execute(events().exception,
                            {{"duration", static_cast<double>(duration_ns)},
                             {"monotonic_time", now_mono()}},
                            {{"trace_id", l.trace_id},
                             {"iteration", l.iteration},
                             {"client", l.client},
                             {"provider", l.provider},
                             {"model", l.model},
                             {"kind", kind},
                             {"reason", reason},
                             {"telemetry_span_context", span_id}});
}

void emit_llm_retry(std::string_view trace_id, std::string_view client,
                    int attempt, int64_t delay_ms, std::string_view reason,
                    int status) {
  tm::bus::global().execute(events().retry,
                            {{"system_time", now_sys()},
                             {"attempt", static_cast<double>(attempt)},
                             {"delay_ms", static_cast<double>(delay_ms)}},
                            {{"trace_id", trace_id},
                             {"client", client},
                             {"reason", reason},
                             {"status", status}});
}

void emit_llm_stream(std::string_view trace_id, int64_t iteration,
                     std::string_view client, int attempt, int64_t elapsed_ms,
                     int64_t event_count, int64_t text_bytes,
                     int64_t tool_bytes, bool complete) {
  tm::bus::global().execute(events().stream,
                            {{"system_time", now_sys()},
                             {"elapsed_ms", static_cast<double>(elapsed_ms)},
                             {"events", static_cast<double>(event_count)},
                             {"text_bytes", static_cast<double>(text_bytes)},
                             {"tool_bytes", static_cast<double>(tool_bytes)}},
                            {{"trace_id", trace_id},
                             {"iteration", iteration},
                             {"client", client},
                             {"attempt", attempt},
                             {"complete", complete}});
}

void emit_llm_stall(std::string_view trace_id, std::string_view client,
                    int attempt, int64_t silent_ms, int64_t received_bytes) {
  tm::bus::global().execute(events().stall,
                            {{"system_time", now_sys()},
                             {"silent_ms", static_cast<double>(silent_ms)},
                             {"received_bytes",
                              static_cast<double>(received_bytes)}},
                            {{"trace_id", trace_id},
                             {"client", client},
                             {"attempt", attempt}});
}

void emit_llm_fallback(std::string_view trace_id, std::string_view from,
                       std::string_view to, std::string_view reason) {
  tm::bus::global().execute(events().fallback, {{"system_time", now_sys()}},
                            {{"trace_id", trace_id},
                             {"from_client", from},
                             {"to_client", to},
                             {"reason", reason}});
}

void emit_circuit_open(std::string_view client, int failures,
                       std::string_view reason) {
  tm::bus::global().execute(
    events().circuit_open,
    {{"system_time", now_sys()}, {"failures", static_cast<double>(failures)}},
    {{"client", client}, {"reason", reason}});
}

void emit_circuit_close(std::string_view client) {
  tm::bus::global().execute(events().circuit_close,
                            {{"system_time", now_sys()}}, {{"client", client}});
}

void emit_budget_exceeded(std::string_view trace_id, std::string_view which,
                          std::string_view limit, int64_t tokens,
                          double cost_usd) {
  tm::bus::global().execute(
    events().budget_exceeded,
    {{"system_time", now_sys()},
     {"tokens", static_cast<double>(tokens)},
     {"cost_usd", cost_usd}},
    {{"trace_id", trace_id}, {"budget", which}, {"limit", limit}});
}

void emit_tool_error(std::string_view trace_id, std::string_view tool_name,
                     std::string_view reason, int reasks) {
  tm::bus::global().execute(
    events().tool_error,
    {{"system_time", now_sys()}, {"reasks", static_cast<double>(reasks)}},
    {{"trace_id", trace_id}, {"tool_name", tool_name}, {"reason", reason}});
}

void emit_compaction_start(std::string_view trace_id, int64_t iteration,
                           std::string_view strategy, std::string_view config,
                           size_t message_count, size_t context_tokens) {
  tm::bus::global().execute(
    events().compaction_start,
    {{"system_time", now_sys()},
     {"message_count", static_cast<double>(message_count)},
     {"context_tokens", static_cast<double>(context_tokens)}},
    {{"trace_id", trace_id},
     {"iteration", iteration},
     {"strategy", strategy},
     {"config", config}});
}

void emit_compaction_stop(std::string_view trace_id, int64_t iteration,
                          std::string_view strategy, size_t message_count,
                          size_t context_tokens, int64_t duration_ns) {
  tm::bus::global().execute(
    events().compaction_stop,
    {{"system_time", now_sys()},
     {"message_count", static_cast<double>(message_count)},
     {"context_tokens", static_cast<double>(context_tokens)},
     {"duration", static_cast<double>(duration_ns)}},
    {{"trace_id", trace_id}, {"iteration", iteration}, {"strategy", strategy}});
}

} // namespace caflens::llm::detail
