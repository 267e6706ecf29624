#include "caflens/supervision/reason.hpp"

#include "caf/exit_reason.hpp"
#include "caf/message.hpp"

#include "caflens/supervision/supervision_errc.hpp"

namespace caflens::supervision {

caf::error shutdown_reason(std::string term) {
  return make_error(supervision_errc::shutdown, std::move(term));
}

bool is_shutdown_reason(const caf::error& reason) {
  if (!reason)
    return false;
  if (reason == caf::exit_reason::user_shutdown)
    return true;
  return reason.category() == supervision_errc_category &&
         (reason.code() == static_cast<uint8_t>(supervision_errc::shutdown) ||
          reason.code() ==
            static_cast<uint8_t>(supervision_errc::failed_to_start_child));
}

bool is_normal_exit(const caf::error& reason) {
  return !reason || is_shutdown_reason(reason);
}

std::string reason_text(const caf::error& reason,
                        const reason_formatter& other) {
  if (!reason)
    return "normal";
  if (reason == caf::exit_reason::user_shutdown)
    return "shutdown";
  if (reason == caf::exit_reason::kill)
    return "killed";
  if (reason.category() == supervision_errc_category) {
    auto& ctx = reason.context();
    auto code = static_cast<supervision_errc>(reason.code());
    if (code == supervision_errc::shutdown) {
      if (ctx.size() == 1 && ctx.match_element<std::string>(0))
        return "shutdown:" + ctx.get_as<std::string>(0);
      return "shutdown:" + to_string(ctx);
    }
    if (code == supervision_errc::failed_to_start_child && ctx.size() == 2 &&
        ctx.match_element<std::string>(0) && ctx.match_element<caf::error>(1))
      return "shutdown:failed_to_start_child:" + ctx.get_as<std::string>(0) +
             ":" + reason_text(ctx.get_as<caf::error>(1), other);
  }
  return other ? other(reason) : render_error(reason);
}

std::optional<start_failure> start_error_of(const caf::error& err) {
  if (err.category() != supervision_errc_category
      || static_cast<supervision_errc>(err.code())
           != supervision_errc::start_error)
    return std::nullopt;
  auto& ctx = err.context();
  if (ctx.size() != 3 || !ctx.match_element<caf::error>(0)
      || !ctx.match_element<std::string>(1)
      || !ctx.match_element<std::string>(2))
    return std::nullopt;
  return start_failure{ctx.get_as<caf::error>(0), ctx.get_as<std::string>(1),
                       ctx.get_as<std::string>(2)};
}

} // namespace caflens::supervision
