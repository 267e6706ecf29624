#include "http_util.hpp"

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/error.hpp"

namespace caflens::sinks::detail {

bool split_url(const std::string& url, std::string& base, std::string& path) {
  constexpr std::string_view http = "http://";
  constexpr std::string_view https = "https://";
  size_t start = 0;
  if (url.compare(0, http.size(), http) == 0)
    start = http.size();
  else if (url.compare(0, https.size(), https) == 0)
    start = https.size();
  else
    return false;
  auto slash = url.find('/', start);
  base = url.substr(0, slash);
  path = slash == std::string::npos ? "" : url.substr(slash);
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  return base.size() > start;
}

void set_timeouts(httplib::Client& cli, std::chrono::milliseconds timeout) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout
                                                                     - secs);
  cli.set_connection_timeout(secs.count(), usecs.count());
  cli.set_read_timeout(secs.count(), usecs.count());
  cli.set_write_timeout(secs.count(), usecs.count());
}

void emit_export_failure(const char* sink, int64_t start,
                         const caf::error& err) {
  auto now = telemetry::bus::monotonic_time();
  auto reason = render_error(err);
  telemetry::bus::global().execute(
    telemetry::event_name{"caflens", "sink", "export", "exception"},
    {{"duration", static_cast<double>(now - start)},
     {"monotonic_time", static_cast<double>(now)}},
    {{"sink", sink}, {"kind", "error"}, {"reason", reason}});
}

} // namespace caflens::sinks::detail
