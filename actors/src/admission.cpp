#include "admission.hpp"

#include <algorithm>

#include "caflens/actors/actors_errc.hpp"

#include "engine.hpp"

namespace caflens::actors {

namespace {

caf::error invalid(std::string text) {
  return make_error(actors_errc::invalid_request, std::move(text));
}

} // namespace

caf::error admission::validate(const investigate_request& req,
                               const engine& eng) {
  if (req.reason.empty())
    return invalid("reason must not be empty");
  if (req.reason.size() > 8192)
    return invalid("reason is longer than 8192 bytes");
  auto& o = req.options;
  if (o.max_iterations < 0 || o.max_iterations > 1000)
    return invalid("options.max_iterations must be within 0..1000, got "
                   + std::to_string(o.max_iterations));
  if (o.operator_max_iterations < 0 || o.operator_max_iterations > 1000)
    return invalid("options.operator_max_iterations must be within 0..1000, "
                   "got "
                   + std::to_string(o.operator_max_iterations));
  if (o.deadline_ms < 0)
    return invalid("options.deadline_ms must not be negative, got "
                   + std::to_string(o.deadline_ms));
  for (auto& sk : o.skills)
    if (!eng.find_skill(sk))
      return invalid("options.skills: no skill named '" + sk + "'; known: "
                     + join(eng.skill_names()));
  return {};
}

bool admission::enqueue(request_entry e, const std::string& running) {
  if (!e.req.options.queue) {
    e.fail(make_error(actors_errc::busy,
                      "investigation " + running + " is running"));
    return false;
  }
  if (queue_.size() >= max_queue_) {
    e.fail(make_error(actors_errc::queue_full,
                      "the queue holds " + std::to_string(queue_.size())
                        + " investigations (max_queue)"));
    return false;
  }
  queue_.push_back(std::move(e));
  return true;
}

std::optional<request_entry> admission::next() {
  if (queue_.empty())
    return std::nullopt;
  auto e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool admission::cancel(const std::string& trace_id) {
  for (auto i = queue_.begin(); i != queue_.end(); ++i)
    if (i->trace_id == trace_id) {
      i->fail(make_error(actors_errc::cancelled,
                         "investigation " + trace_id
                           + " was cancelled while queued"));
      queue_.erase(i);
      return true;
    }
  return false;
}

void drop_waiters(std::vector<waiter>& ws, const caf::actor_addr& caller) {
  ws.erase(std::remove_if(ws.begin(), ws.end(),
                          [&](auto& w) { return w.caller == caller; }),
           ws.end());
}

void admission::drop_caller(const caf::actor_addr& caller) {
  for (auto i = queue_.begin(); i != queue_.end();) {
    drop_waiters(i->waiters, caller);
    if (i->has_callers && i->waiters.empty())
      i = queue_.erase(i);
    else
      ++i;
  }
}

nlohmann::json admission::status() const {
  auto q = nlohmann::json::array();
  for (auto& e : queue_)
    q.push_back({{"trace_id", e.trace_id}, {"reason", e.req.reason}});
  return q;
}

} // namespace caflens::actors
