#include "caflens/actors/actions.hpp"

#include <chrono>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include "caflens/skills/process_table.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/telemetry/error.hpp"

#include "caflens/actors/actors_errc.hpp"

#include "action_book.hpp"

namespace caflens {

using json = nlohmann::json;

std::string to_string(action_mode x) {
  switch (x) {
    case action_mode::read_only:
      return "read_only";
    case action_mode::approve:
      return "approve";
    case action_mode::autonomous:
      return "autonomous";
  }
  return "read_only";
}

bool parse_action_mode(std::string_view x, action_mode& out) {
  if (x == "read_only" || x == "read-only")
    out = action_mode::read_only;
  else if (x == "approve")
    out = action_mode::approve;
  else if (x == "autonomous")
    out = action_mode::autonomous;
  else
    return false;
  return true;
}

std::string to_string(action_status x) {
  switch (x) {
    case action_status::proposed:
      return "proposed";
    case action_status::approved:
      return "approved";
    case action_status::rejected:
      return "rejected";
    case action_status::denied:
      return "denied";
    case action_status::executed:
      return "executed";
    case action_status::failed:
      return "failed";
  }
  return "proposed";
}

json to_json(const action_record& x) {
  auto args = json::parse(x.args, nullptr, false);
  auto result = json::parse(x.result, nullptr, false);
  return {{"id", x.id},
          {"action", x.action},
          {"args", args.is_discarded() ? json(x.args) : args},
          {"status", to_string(x.status)},
          {"reason", x.reason},
          {"trace_id", x.trace_id},
          {"insight_id", x.insight_id},
          {"by", x.by},
          {"approved_by", x.approved_by},
          {"result", result.is_discarded() ? json(x.result) : result},
          {"at", x.at}};
}

namespace actions {

namespace {

using std::chrono::seconds;

caf::error failed(std::string text) {
  return make_error(actors_errc::not_found, std::move(text));
}

/// The supervisor of `supervisors` named `name` (its flags' name), asked
/// through `get_tree` within 2 s each.
caf::expected<caf::actor> find_supervisor(caf::actor_system& sys,
                                          const std::vector<caf::actor>& sups,
                                          const std::string& name) {
  caf::scoped_actor self{sys};
  std::vector<std::string> known;
  for (auto& s : sups) {
    std::string found;
    self->request(s, seconds{2}, supervision::get_tree{})
      .receive(
        [&](const std::string& tree) {
          auto j = json::parse(tree, nullptr, false);
          if (j.is_object())
            found = j.value("name", std::string{});
        },
        [](caf::error&) {});
    if (found == name)
      return s;
    if (!found.empty())
      known.push_back(found);
  }
  std::string list;
  for (auto& k : known)
    list += (list.empty() ? "" : ", ") + k;
  return failed("no supervisor named '" + name + "' (known: "
                + (list.empty() ? "none" : list) + ")");
}

/// The supervisor and child a crash loop insight names: the first cited
/// notification of a crash loop with a supervisor in its context.
std::optional<json> child_of_crash_loop(const insight&,
                                        const std::vector<notification>& ns) {
  for (auto& n : ns) {
    if (n.anomaly_type != "crash_loop" || n.actors.empty())
      continue;
    auto ctx = json::parse(n.context, nullptr, false);
    if (!ctx.is_object())
      continue;
    auto sup = ctx.value("supervisor", std::string{});
    if (!sup.empty())
      return json{{"supervisor", sup}, {"child", n.actors.front()}};
  }
  return std::nullopt;
}

/// One request from a scoped actor: its answer or its error.
template <class T, class Request>
caf::expected<T> ask(caf::scoped_actor& self, const caf::actor& dest,
                     Request req) {
  caf::expected<T> result = caf::make_error(caf::sec::request_timeout);
  self->request(dest, seconds{5}, std::move(req))
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

/// What the two child actions share: parameters, pattern, finding the
/// supervisor by name; `body(self, supervisor, child)` does the rest.
template <class Body>
action_definition child_action(caf::actor_system& sys,
                               std::vector<caf::actor> supervisors,
                               std::string name, std::string description,
                               Body body) {
  action_definition d;
  d.name = std::move(name);
  d.description = std::move(description);
  d.params = {sandbox::param::needed("supervisor", sandbox::param_type::string),
              sandbox::param::needed("child", sandbox::param_type::string)};
  d.patterns = {"crash_loop"};
  d.for_insight = child_of_crash_loop;
  d.run = [&sys, supervisors, body](const json& args) -> caf::expected<json> {
    auto name = args.value("supervisor", std::string{});
    auto child = args.value("child", std::string{});
    auto sup = find_supervisor(sys, supervisors, name);
    if (!sup)
      return sup.error();
    caf::scoped_actor self{sys};
    auto result = body(self, *sup, child);
    if (result) {
      (*result)["supervisor"] = name;
      (*result)["child"] = child;
    }
    return result;
  };
  return d;
}

} // namespace

action_definition restart_child(caf::actor_system& sys,
                                std::vector<caf::actor> supervisors) {
  return child_action(
    sys, std::move(supervisors), "restart_child",
    "stop a supervised child and start it again with fresh state "
    "(terminate_child + restart_child)",
    [](caf::scoped_actor& self, const caf::actor& sup,
       const std::string& child) -> caf::expected<json> {
      // terminate_child deletes a temporary child: it could not come back.
      auto spec = ask<supervision::child_spec>(
        self, sup, supervision::get_childspec{child, {}});
      if (!spec)
        return spec.error();
      if (spec->restart == supervision::restart_type::temporary)
        return failed("child '" + child
                      + "' is temporary: stopping it deletes it, so it "
                        "could not be restarted (use terminate_child)");
      auto stopped = ask<caf::ok_atom>(self, sup,
                                       supervision::terminate_child{child, {}});
      if (!stopped)
        return stopped.error();
      auto fresh = ask<caf::actor>(self, sup,
                                   supervision::restart_child{child});
      if (!fresh)
        return fresh.error();
      return json{{"restarted", static_cast<bool>(*fresh)},
                  {"actor", *fresh ? fresh->id() : 0}};
    });
}

action_definition terminate_child(caf::actor_system& sys,
                                  std::vector<caf::actor> supervisors) {
  return child_action(
    sys, std::move(supervisors), "terminate_child",
    "stop a supervised child and leave it stopped",
    [](caf::scoped_actor& self, const caf::actor& sup,
       const std::string& child) -> caf::expected<json> {
      auto stopped = ask<caf::ok_atom>(self, sup,
                                       supervision::terminate_child{child, {}});
      if (!stopped)
        return stopped.error();
      return json{{"stopped", true}};
    });
}

action_definition stop_actor(caf::actor_system&,
                             skills::process_table& table) {
  action_definition d;
  d.name = "stop_actor";
  d.description = "ask a tracked actor to stop (user_shutdown)";
  d.params = {sandbox::param::needed("actor", sandbox::param_type::string)};
  d.run = [&table](const json& args) -> caf::expected<json> {
    auto name = args.value("actor", std::string{});
    auto info = table.find(name);
    if (!info)
      return failed("no tracked actor named '" + name + "'");
    auto handle = caf::actor_cast<caf::actor>(info->addr);
    if (!handle)
      return failed("actor '" + name + "' (" + std::to_string(info->id)
                    + ") is gone");
    caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    return json{{"actor", name}, {"id", info->id}, {"stopped", true}};
  };
  return d;
}

} // namespace actions

namespace actors {

void run_detached(caf::actor_system& sys, std::function<void()> fn) {
  // The function goes in as an argument (CAF 0.17 binds the arguments of
  // a function-based actor; one without any dereferences a null tuple).
  sys.spawn<caf::detached>(
    [](caf::event_based_actor* helper,
       const std::function<void()>& f) -> caf::behavior {
      f();
      helper->quit();
      return {};
    },
    std::move(fn));
}

} // namespace actors

} // namespace caflens
