// Shared by the HTTP exporters (private header): URLs, client timeouts, and
// the event of an export that failed outside a sink's own spans.
#pragma once

#include <chrono>
#include <string>

#include <httplib.h>

#include "caf/error.hpp"

namespace caflens::sinks::detail {

/// Splits "http(s)://host[:port][/prefix]" into the scheme, host and port
/// (for httplib::Client) and the path prefix without a trailing '/'.
/// False when the URL is not http(s).
bool split_url(const std::string& url, std::string& base, std::string& path);

/// Applies `timeout` to connecting, reading and writing.
void set_timeouts(httplib::Client& cli, std::chrono::milliseconds timeout);

/// Emits `caflens.sink.export.exception` for `sink` (started at the
/// monotonic time `start`) with the error's text.
void emit_export_failure(const char* sink, int64_t start,
                         const caf::error& err);

} // namespace caflens::sinks::detail
