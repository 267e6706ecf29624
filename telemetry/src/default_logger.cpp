#include "caflens/telemetry/default_logger.hpp"

#include <iostream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

namespace caflens::telemetry {

namespace {

constexpr std::string_view logger_id = "caflens.default_logger";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.substr(s.size() - suffix.size()) == suffix;
}

struct logger_config {
  log_level level;
  std::ostream* out;
};

std::mutex& output_mutex() {
  static std::mutex mtx;
  return mtx;
}

} // namespace

std::string_view to_string(log_level x) noexcept {
  switch (x) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "unknown";
}

log_level level_of(const event_name& name) noexcept {
  if (name.empty())
    return log_level::debug;
  std::string_view last = name.segments().back();
  if (last == "exception" || last == "failure" || last == "crashed"
      || ends_with(last, "_error") || last == "operator_crashed"
      || last == "intensity_exceeded" || last == "circuit_open")
    return log_level::error;
  if (last == "notification_sent" || last == "insight_produced"
      || last == "fired" || last == "child_restarted"
      || last == "child_exited" || last == "auto_shutdown"
      || last == "triggered" || last == "limit_exceeded"
      || last == "budget_exceeded" || last == "dropped" || last == "denied"
      || last == "disconnected" || last == "retry" || last == "fallback"
      || last == "max_iterations_reached" || last == "overflow")
    return log_level::warning;
  if (last == "start" || last == "stop" || last == "done"
      || last == "started" || last == "stopped" || last == "resolved"
      || last == "connected")
    return log_level::info;
  return log_level::debug;
}

caf::error attach_default_logger(bus& b, log_level level, std::ostream* out) {
  logger_config cfg{level, out != nullptr ? out : &std::clog};
  auto fn = [](const event_name& name, const measurements& m,
               const metadata& md, const std::any& config) {
    auto& cfg = std::any_cast<const logger_config&>(config);
    auto lvl = level_of(name);
    if (lvl < cfg.level)
      return;
    auto line = std::string{"[caflens] "};
    line += to_string(lvl);
    line += ' ';
    line += name.str();
    line += ' ';
    line += m.to_json().dump();
    line += ' ';
    line += md.to_json().dump(-1, ' ', false,
                              nlohmann::json::error_handler_t::replace);
    line += '\n';
    std::lock_guard<std::mutex> guard{output_mutex()};
    *cfg.out << line << std::flush;
  };
  return b.attach_many(std::string{logger_id}, event_names(), fn, cfg);
}

caf::error attach_default_logger(log_level level, std::ostream* out) {
  return attach_default_logger(bus::global(), level, out);
}

caf::error detach_default_logger(bus& b) {
  return b.detach(logger_id);
}

caf::error detach_default_logger() {
  return detach_default_logger(bus::global());
}

} // namespace caflens::telemetry
