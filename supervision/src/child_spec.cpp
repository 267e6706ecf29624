#include "caflens/supervision/child_spec.hpp"

#include <unordered_set>

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/supervision_errc.hpp"

namespace caflens::supervision {

std::string to_string(strategy x) {
  switch (x) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
    case strategy::simple_one_for_one:
      return "simple_one_for_one";
  }
  return "?";
}

std::string to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "?";
}

std::string to_string(child_type x) {
  return x == child_type::worker ? "worker" : "supervisor";
}

std::string to_string(auto_shutdown x) {
  switch (x) {
    case auto_shutdown::never:
      return "never";
    case auto_shutdown::any_significant:
      return "any_significant";
    case auto_shutdown::all_significant:
      return "all_significant";
  }
  return "?";
}

std::string to_string(child_status x) {
  switch (x) {
    case child_status::running:
      return "running";
    case child_status::restarting:
      return "restarting";
    case child_status::stopped:
      return "stopped";
  }
  return "?";
}

std::string to_string(const shutdown_policy& x) {
  switch (x.kind) {
    case shutdown_policy::kind_t::brutal_kill:
      return "brutal_kill";
    case shutdown_policy::kind_t::infinity:
      return "infinity";
    case shutdown_policy::kind_t::timeout:
      break;
  }
  return std::to_string(x.timeout_ms);
}

child_spec worker(std::string id, start_function start, restart_type restart) {
  child_spec result;
  result.id = std::move(id);
  result.start = std::move(start);
  result.restart = restart;
  return result;
}

caf::error validate(const supervisor_flags& flags) {
  if (flags.period.count() <= 0)
    return make_error(supervision_errc::invalid_flags,
                      "period must be > 0 ms, got " +
                        std::to_string(flags.period.count()));
  if (flags.window == restart_window::seconds
      && flags.period.count() % 1000 != 0)
    return make_error(supervision_errc::invalid_flags,
                      "period " + std::to_string(flags.period.count())
                        + " ms is not whole seconds: OTP counts restarts "
                          "in whole seconds (restart_window::seconds); set "
                          "window = restart_window::milliseconds for a "
                          "sub-second window");
  return caf::none;
}

std::string_view to_string(restart_window x) noexcept {
  return x == restart_window::seconds ? "seconds" : "milliseconds";
}

caf::error validate(const child_spec& spec, auto_shutdown mode) {
  if (spec.id.empty())
    return make_error(supervision_errc::invalid_child_spec,
                      "a child spec needs a non-empty id");
  if (!spec.start)
    return make_error(supervision_errc::invalid_child_spec,
                      "child '" + spec.id + "' has no start function");
  if (spec.significant && mode == auto_shutdown::never)
    return make_error(supervision_errc::bad_combination,
                      "child '" + spec.id +
                        "': significant with auto_shutdown never");
  if (spec.significant && spec.restart == restart_type::permanent)
    return make_error(supervision_errc::bad_combination,
                      "child '" + spec.id + "': significant and permanent");
  return caf::none;
}

caf::error validate(const supervisor_flags& flags,
                    const std::vector<child_spec>& specs) {
  if (auto err = validate(flags))
    return err;
  if (flags.strategy == strategy::simple_one_for_one && specs.size() != 1)
    return make_error(supervision_errc::invalid_child_spec,
                      "simple_one_for_one needs exactly one child spec, got " +
                        std::to_string(specs.size()));
  std::unordered_set<std::string> ids;
  for (auto& spec : specs) {
    if (auto err = validate(spec, flags.auto_shutdown))
      return err;
    if (!ids.insert(spec.id).second)
      return make_error(supervision_errc::duplicate_child_id,
                        "duplicate child id '" + spec.id + "'");
  }
  return caf::none;
}

} // namespace caflens::supervision
