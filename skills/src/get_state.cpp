#include "caf/local_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "caflens/skills/skills_errc.hpp"
#include "caflens/skills/tracked.hpp"

namespace caflens::skills {

tracked_base::~tracked_base() = default;

namespace detail {

void answer_get_state(caf::local_actor* self, caf::mailbox_element& x,
                      const std::function<nlohmann::json()>& fn) {
  if (!x.sender || x.mid.is_response())
    return;
  caf::message reply;
  if (!fn) {
    reply = caf::make_message(
      make_error(skills_errc::no_state, "actor exposes no state"));
  } else {
    try {
      reply = caf::make_message(fn().dump(-1, ' ', false,
                                          nlohmann::json::error_handler_t::
                                            replace));
    } catch (const std::exception& ex) {
      reply = caf::make_message(make_error(
        skills_errc::no_state, std::string{"state view failed: "} + ex.what()));
    }
  }
  x.sender->enqueue(self->ctrl(), x.mid.response_id(), std::move(reply),
                    self->context());
}

} // namespace detail

caf::expected<nlohmann::json> get_state(caf::actor_system& sys,
                                        const caf::actor& whom,
                                        std::chrono::milliseconds timeout) {
  if (!whom)
    return make_error(skills_errc::not_found, "get_state: invalid actor");
  caf::scoped_actor self{sys, true};
  caf::expected<nlohmann::json> result{nlohmann::json{}};
  self->request(whom, timeout, get_state_atom::value)
    .receive(
      [&](const std::string& text) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded())
          result = make_error(skills_errc::no_state, "unparsable state view");
        else
          result = std::move(j);
      },
      [&](caf::error& err) {
        if (err == caf::sec::request_timeout)
          result = make_error(skills_errc::unresponsive,
                              "no get_state answer within "
                                + std::to_string(timeout.count()) + " ms");
        else if (err == caf::sec::request_receiver_down)
          result = make_error(skills_errc::not_found, "actor is down");
        else
          result = std::move(err);
      });
  return result;
}

} // namespace caflens::skills
