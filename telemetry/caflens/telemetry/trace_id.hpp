#pragma once

#include <string>

namespace caflens::telemetry {

/// Returns a fresh random 128-bit trace id as 32 lowercase hex characters
/// (the W3C trace-context form). Thread-safe; never all zeros.
std::string generate_trace_id();

/// True when `id` looks like a trace id from `generate_trace_id`.
bool is_trace_id(std::string_view id) noexcept;

} // namespace caflens::telemetry
