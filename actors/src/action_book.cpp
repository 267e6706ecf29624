#include "action_book.hpp"

#include <algorithm>

#include "caflens/actors/actors_errc.hpp"

#include "engine.hpp"

namespace caflens::actors {

using json = nlohmann::json;

namespace {

template <class Records>
auto* locate_in(Records& xs, const std::string& id) {
  auto i = std::find_if(xs.begin(), xs.end(),
                        [&](auto& r) { return r.id == id; });
  return i != xs.end() ? &*i : nullptr;
}

} // namespace

action_book::action_book(action_settings settings, listener on_change)
  : settings_(std::move(settings)), on_change_(std::move(on_change)) {
}

const action_definition*
action_book::definition(const std::string& name) const {
  for (auto& d : settings_.registered)
    if (d.name == name)
      return &d;
  return nullptr;
}

bool action_book::allowed(const std::string& name) const {
  return std::find(settings_.allow.begin(), settings_.allow.end(), name)
         != settings_.allow.end();
}

std::vector<const action_definition*> action_book::offered() const {
  std::vector<const action_definition*> result;
  if (settings_.mode == action_mode::read_only)
    return result;
  for (auto& d : settings_.registered)
    if (allowed(d.name) && d.run)
      result.push_back(&d);
  return result;
}

void action_book::changed(const action_record& x) {
  if (on_change_)
    on_change_(x);
}

action_record& action_book::add(action_record x) {
  x.id = "a-" + std::to_string(++next_id_);
  x.at = unix_ms();
  if (records_.size() >= max_records) {
    // The oldest decided record goes first; pending proposals stay.
    auto i = std::find_if(records_.begin(), records_.end(), [](auto& r) {
      return r.status != action_status::proposed
             && r.status != action_status::approved;
    });
    records_.erase(i != records_.end() ? i : records_.begin());
  }
  records_.push_back(std::move(x));
  return records_.back();
}

caf::expected<action_record>
action_book::propose(const std::string& action, const json& args,
                     std::string reason, std::string trace_id,
                     std::string insight_id, std::string by) {
  action_record rec;
  rec.action = action;
  rec.args = args.is_null() ? "{}" : args.dump();
  rec.reason = std::move(reason);
  rec.trace_id = std::move(trace_id);
  rec.insight_id = std::move(insight_id);
  rec.by = std::move(by);
  std::string why;
  auto* def = definition(action);
  if (settings_.mode == action_mode::read_only)
    why = "actions are read-only (action_mode::read_only)";
  else if (def == nullptr)
    why = "no action named '" + action + "' is registered";
  else if (!allowed(action))
    why = "action '" + action + "' is not in the allow-list";
  else if (!args.is_null() && !args.is_object())
    why = "arguments must be a JSON object";
  json checked = json::object();
  if (why.empty()) {
    // Every declared parameter, checked; nothing undeclared passes.
    if (args.is_object())
      for (auto& item : args.items()) {
        // Not a structured binding: clang 14 (the TSan build) cannot
        // capture one in the lambda.
        const auto& key = item.key();
        auto known = std::any_of(def->params.begin(), def->params.end(),
                                 [&](auto& p) { return p.name == key; });
        if (!known) {
          why = "unknown argument '" + key + "' of " + action;
          break;
        }
      }
    for (auto& p : def->params) {
      if (!why.empty())
        break;
      std::string err;
      auto given = args.is_object() && args.contains(p.name) ? args[p.name]
                                                              : json{};
      auto v = p.check(given, err);
      if (!err.empty())
        why = action + ": " + err;
      else if (v)
        checked[p.name] = *v;
    }
  }
  // The listener runs without the lock: it may call back into the book.
  action_record copy;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!why.empty()) {
      rec.status = action_status::denied;
      rec.result = why;
      copy = add(std::move(rec));
    } else {
      rec.args = checked.dump();
      // The same action with the same arguments still pending: that one.
      for (auto& r : records_)
        if (r.action == rec.action && r.args == rec.args
            && (r.status == action_status::proposed
                || r.status == action_status::approved))
          return r;
      rec.status = action_status::proposed;
      copy = add(std::move(rec));
    }
  }
  changed(copy);
  if (copy.status == action_status::denied)
    return make_error(actors_errc::action_denied, why);
  return copy;
}

std::vector<action_record>
action_book::propose_for(const insight& x,
                         const std::vector<notification>& evidence,
                         const std::string& by) {
  std::vector<action_record> result;
  for (auto* def : offered()) {
    if (std::find(def->patterns.begin(), def->patterns.end(), x.pattern)
          == def->patterns.end()
        || !def->for_insight)
      continue;
    std::optional<json> args;
    try {
      args = def->for_insight(x, evidence);
    } catch (...) {
      continue; // a derivation that throws proposes nothing
    }
    if (!args)
      continue;
    auto reason = x.summary.empty() ? x.pattern : x.summary;
    if (auto rec = propose(def->name, *args, reason, x.trace_id, x.id, by))
      result.push_back(std::move(*rec));
  }
  return result;
}

caf::expected<action_record>
action_book::run(const std::string& id, const std::string& by) {
  const action_definition* def = nullptr;
  json args;
  action_record started;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto found = pending(id);
    if (!found)
      return found.error();
    auto* i = *found;
    def = definition(i->action);
    if (def == nullptr || !allowed(i->action) || !def->run)
      return make_error(actors_errc::action_denied,
                        "action " + i->action + " is no longer allowed");
    i->status = action_status::approved;
    i->approved_by = by;
    i->at = unix_ms();
    args = json::parse(i->args, nullptr, false);
    started = *i;
  }
  changed(started);
  caf::expected<json> out{json{}};
  try {
    out = def->run(args);
  } catch (const std::exception& ex) {
    out = make_error(actors_errc::action_failed,
                     std::string{"the action threw: "} + ex.what());
  } catch (...) {
    out = make_error(actors_errc::action_failed, "the action threw");
  }
  action_record done;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto* i = locate(id);
    if (i == nullptr)
      return make_error(actors_errc::not_found, "no action " + id);
    i->at = unix_ms();
    i->status = out ? action_status::executed : action_status::failed;
    i->result = out ? out->dump() : render_error(out.error());
    done = *i;
  }
  changed(done);
  if (done.status == action_status::executed)
    return done;
  return make_error(actors_errc::action_failed,
                    done.action + " failed: " + done.result);
}

caf::expected<action_record> action_book::approve(const std::string& id,
                                                  const std::string& who) {
  if (settings_.mode == action_mode::read_only)
    return make_error(actors_errc::action_denied,
                      "actions are read-only (action_mode::read_only)");
  return run(id, who.empty() ? "approver" : who);
}

caf::expected<action_record> action_book::execute(const std::string& id,
                                                  const std::string& by) {
  if (settings_.mode != action_mode::autonomous)
    return make_error(actors_errc::action_denied,
                      "actions run unapproved only in autonomous mode");
  return run(id, by);
}

caf::expected<action_record> action_book::reject(const std::string& id,
                                                 const std::string& who,
                                                 const std::string& why) {
  action_record copy;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto found = pending(id);
    if (!found)
      return found.error();
    auto* i = *found;
    i->status = action_status::rejected;
    i->approved_by = who.empty() ? "approver" : who;
    i->result = why;
    i->at = unix_ms();
    copy = *i;
  }
  changed(copy);
  return copy;
}

std::vector<action_record> action_book::records() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return records_;
}

std::optional<action_record>
action_book::find(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto* r = locate_in(records_, id))
    return *r;
  return std::nullopt;
}

action_record* action_book::locate(const std::string& id) {
  return locate_in(records_, id);
}

caf::expected<action_record*> action_book::pending(const std::string& id) {
  auto* r = locate(id);
  if (r == nullptr)
    return make_error(actors_errc::not_found, "no action " + id);
  if (r->status != action_status::proposed)
    return make_error(actors_errc::action_denied,
                      "action " + id + " is " + to_string(r->status)
                        + ", not proposed");
  return r;
}

} // namespace caflens::actors
