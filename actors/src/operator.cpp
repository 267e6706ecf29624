#include <chrono>
#include <map>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors_impl.hpp"
#include "engine.hpp"
#include "loop.hpp"
#include "tools.hpp"

#include "caflens/telemetry/bus.hpp"

namespace caflens::actors {

using json = nlohmann::json;

namespace {

struct stored_snapshot {
  std::string id;
  int64_t captured_at = 0;
  json data;
};

struct operator_data {
  static inline const char* name = "caflens.operator";
  std::shared_ptr<engine> eng;
  operator_spec spec;
  skills::skill_ptr skill;
  loop_core loop;
  operator_state st = operator_state::healthy;
  std::vector<stored_snapshot> snapshots;
  std::vector<std::string> notification_ids;
  std::vector<sandbox::callback> callbacks;
  bool callbacks_ready = false;
  /// Steady clock at its start (the run's own duration).
  std::chrono::steady_clock::time_point started
    = std::chrono::steady_clock::now();
};

using operator_ptr = operator_actor::stateful_pointer<operator_data>;

class operator_loop {
public:
  explicit operator_loop(operator_ptr self) : self_(self), s_(self->state) {
  }

  std::string actor_name() const {
    return "operator:" + s_.spec.skill;
  }

  void emit_op(std::string_view what,
               std::initializer_list<telemetry::meta_entry> extra = {}) {
    // The common metadata first, then the event's own (the entries are
    // views: `name` must outlive the call).
    auto name = actor_name();
    std::vector<telemetry::meta_entry> md{
      {"operator", name},
      {"skill", s_.spec.skill},
      {"trace_id", s_.spec.trace_id},
      {"node", s_.eng->node()}};
    md.insert(md.end(), extra.begin(), extra.end());
    emit("operator", what, md);
  }

  void start() {
    auto& sp = s_.spec;
    s_.skill = s_.eng->find_skill(sp.skill);
    emit_op("started");
    self_->send(caf::actor_cast<coordinator_engine_actor>(sp.coordinator),
                operator_started{sp.run_id, caf::actor_cast<caf::actor>(self_),
                                 sp.traceparent});
    if (!s_.skill) {
      finish("error", "", "no skill named '" + sp.skill + "'");
      return;
    }
    auto& loop = s_.loop;
    brain_request breq{"operator", sp.skill, sp.trace_id, sp.reason, "",
                       sp.max_iterations};
    breq.offline = sp.offline;
    loop.brain = s_.eng->make_brain(breq);
    loop.tools = make_tools(self_);
    loop.intent = sp.skill;
    loop.on_call = [eng = s_.eng, trace = sp.trace_id,
                    label = loop_label(breq)](std::string_view brain,
                                              int64_t iteration,
                                              const llm::tool_call& call) {
      eng->record_decision(trace, label, brain, iteration, call);
    };
    loop.max_iterations = sp.max_iterations;
    loop.max_result_bytes = s_.eng->cfg().max_tool_result_bytes;
    loop.conv = llm::conversation{s_.skill->system_prompt()
                                    + operator_protocol(),
                                  sp.trace_id};
    std::string task = "Investigation reason: " + sp.reason + "\nSkill: "
                       + s_.skill->name() + " — " + s_.skill->title() + ": "
                       + s_.skill->description();
    if (!sp.context.empty())
      task += "\nCoordinator context: " + sp.context;
    task += "\nCallbacks for execute: ";
    for (auto& cb : s_.skill->callbacks())
      task += "\n- " + cb.doc;
    // What the detectors' findings mean, as the skill declares them.
    if (auto types = s_.skill->finding_types(); !types.empty()) {
      task += "\nFinding types of this skill (type -> pattern: meaning):";
      for (auto& ft : types)
        task += "\n- " + ft.type + " -> " + ft.pattern + ": "
                + ft.description;
    }
    // What the snapshot's fields mean and their units.
    if (auto fields = s_.skill->snapshot_fields(); !fields.empty()) {
      task += "\nSnapshot fields (path [unit]: meaning; [] = each entry of a "
              "list, * = any key or list):";
      for (auto& f : fields)
        task += "\n- " + f.path + (f.unit.empty() ? "" : " [" + f.unit + "]")
                + ": " + f.meaning;
    }
    loop.conv.add_user(std::move(task));
    // A remote operator (no shared budget here) still has its deadline.
    if (auto b = s_.eng->budget_of(sp.trace_id))
      loop.conv.budget(std::move(b));
    auto left = sp.deadline_at - unix_ms();
    if (sp.deadline_at > 0)
      self_->delayed_send(self_, std::chrono::milliseconds{std::max<int64_t>(
                                   left, 0)},
                          deadline_tick{loop.generation});
    // A model's first call can take seconds: the first look is taken now,
    // as if it had asked, so the evidence is from the moment of the
    // trigger and waits in its conversation.
    if (loop.brain && loop.brain->model_backed() && loop.max_iterations > 1) {
      llm::tool_call first;
      first.id = "caflens_first_look";
      first.name = "take_snapshot";
      first.arguments = json::object();
      loop.conv.add(llm::message::make_assistant("", {first}));
      ++loop.iteration;
      loop.conv.next_iteration();
      emit_op("iteration_start", {{"iteration", int64_t{loop.iteration}},
                                  {"operator_state", to_string(s_.st)}});
      loop.run(first);
    }
    self_->send(self_, loop_tick{loop.generation});
  }

  void tick(uint64_t gen) {
    auto& loop = s_.loop;
    if (loop.finished || gen != loop.generation)
      return;
    if (loop.iteration >= loop.max_iterations && !loop.grant_final_step()) {
      finish("max_iterations", "", "");
      return;
    }
    ++loop.iteration;
    loop.conv.next_iteration();
    emit_op("iteration_start", {{"iteration", int64_t{loop.iteration}},
                                {"operator_state", to_string(s_.st)}});
    self_->send(caf::actor_cast<coordinator_engine_actor>(s_.spec.coordinator),
                operator_progress{s_.spec.run_id, s_.st, loop.iteration,
                                  s_.spec.traceparent});
    auto out = loop.step();
    if (!out) {
      auto reason = render_error(out.error());
      emit_op("llm_error", {{"reason", reason},
                            {"retry_count", int64_t{0}},
                            {"will_retry", false}});
      // The rule brain takes over: the skill's detectors still report.
      auto& sp = s_.spec;
      brain_request req{"operator", sp.skill, sp.trace_id, sp.reason, "",
                        std::max(loop.max_iterations - loop.iteration, 8)};
      req.offline = true;
      if (s_.eng->cfg().llm_fallback && !loop.final_step_granted
          && loop.degrade(out.error(), s_.eng->make_brain(req))) {
        emit_op("brain_fallback", {{"reason", reason}});
        loop.max_iterations = std::max(loop.max_iterations,
                                       loop.iteration + 8);
        self_->send(self_, loop_tick{loop.generation});
        return;
      }
      finish("llm_error", "", reason);
      return;
    }
    switch (out->next) {
      case tool_outcome::step:
        self_->send(self_, loop_tick{loop.generation});
        break;
      case tool_outcome::wait:
        self_->delayed_send(self_, std::chrono::milliseconds{out->wait_ms},
                            loop_tick{loop.generation});
        break;
      case tool_outcome::finish:
        finish("done", out->summary, "");
        break;
    }
  }

  void finish(const std::string& stop_reason, const std::string& summary,
              const std::string& error) {
    auto& loop = s_.loop;
    if (loop.finished)
      return;
    loop.finished = true;
    ++loop.generation;
    operator_result res;
    res.skill = s_.spec.skill;
    res.node = s_.eng->node();
    res.state = s_.st;
    res.summary = summary;
    res.notification_ids = s_.notification_ids;
    for (auto& s : s_.snapshots)
      res.snapshot_ids.push_back(s.id);
    res.iterations = loop.iteration;
    res.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - s_.started)
                        .count();
    res.stop_reason = stop_reason;
    res.error = error;
    if (!loop.degraded.empty() && error.empty())
      res.error = "the model failed (" + loop.degraded
                  + "); the rule engine finished the look";
    auto used = loop.usage();
    res.input_tokens = used.input_tokens;
    res.output_tokens = used.output_tokens;
    res.cost_usd = used.cost_usd;
    res.llm_calls = used.calls;
    res.llm_retries = used.retries;
    if (stop_reason == "done")
      emit_op("done", {{"final_state", to_string(s_.st)}});
    emit_op("loop_stopped",
            {{"final_state", to_string(s_.st)}, {"reason", stop_reason}});
    self_->send(caf::actor_cast<coordinator_engine_actor>(s_.spec.coordinator),
                operator_complete{s_.spec.run_id, std::move(res),
                                  s_.spec.traceparent});
    self_->quit();
  }

  // -- tools ------------------------------------------------------------------

  /// The operator's tools: each definition (tools.cpp) with its handler.
  static tool_table make_tools(operator_ptr self) {
    auto defs = operator_tools();
    tool_table t;
    auto on = [&](const char* name,
                  tool_outcome (*fn)(operator_loop&, const json&)) {
      bind_tool(t, defs, name, self, fn);
    };
    on("take_snapshot",
       [](operator_loop& l, const json&) { return l.take_snapshot(); });
    on("get_snapshot", [](operator_loop& l, const json& a) {
      return l.get_snapshot(a.value("id", std::string{}));
    });
    on("get_snapshots", [](operator_loop& l, const json& a) {
      return l.get_snapshots(a.value("limit", 5), a.value("offset", 0));
    });
    on("execute", [](operator_loop& l, const json& a) {
      return l.execute(a.value("code", std::string{}));
    });
    on("send_notification", [](operator_loop& l, const json& a) {
      return l.send_notification(a);
    });
    on("set_state", [](operator_loop& l, const json& a) {
      return l.set_state(a.value("state", std::string{}),
                         a.value("reason", std::string{}));
    });
    on("think", [](operator_loop& l, const json& a) { return l.think(a); });
    on("wait", [](operator_loop& l, const json& a) { return l.wait(a); });
    on("done", [](operator_loop& l, const json& a) { return l.done(a); });
    return t;
  }

  tool_outcome think(const json& args) {
    auto thought = args.value("thought", std::string{});
    emit_op("think", {{"thought", thought}});
    return tool_outcome::ok(R"({"ok":true})");
  }

  tool_outcome wait(const json& args) {
    auto ms = args.value("ms", int64_t{0});
    emit_op("wait", {{"ms", ms}});
    auto out = tool_outcome::ok(R"({"ok":true,"waited_ms":)"
                                + std::to_string(ms) + "}");
    out.next = tool_outcome::wait;
    out.wait_ms = ms;
    return out;
  }

  static tool_outcome done(const json& args) {
    return tool_outcome::done(args);
  }

  tool_outcome take_snapshot() {
    // The skill times the look, emits its events, keeps its history and
    // runs its detectors (skill::observe).
    auto obs = s_.skill->observe(s_.spec.trace_id);
    if (!obs)
      return tool_outcome::error(render_error(obs.error()));
    auto& data = obs->data;
    auto text_size = obs->bytes;
    json fs = json::array();
    for (auto& f : obs->findings)
      fs.push_back(skills::to_json(f));
    stored_snapshot snap{s_.eng->next_id("s"), unix_ms(), data};
    emit_op("take_snapshot", {{"snapshot_id", snap.id}});
    // Stored as the model sees it: redacted.
    if (auto st = s_.eng->store())
      st->consume(store::snapshot_record(s_.spec.trace_id, snap.id,
                                         s_.spec.skill, s_.eng->node(),
                                         snap.captured_at,
                                         s_.eng->redact_json(data)));
    // The complete result (every finding, the whole snapshot) stays with
    // the message for brains that read data; the text for a model is
    // bounded by whole items: the findings first (the worst first, counted
    // when some are left out), then the data within what is left.
    auto plan = s_.skill->plan();
    json plan_json{{"looks", plan.looks},
                   {"interval_ms", plan.interval.count()},
                   {"taken", s_.snapshots.size() + 1}};
    json full{{"snapshot_id", snap.id},
              {"captured_at", snap.captured_at},
              {"plan", plan_json},
              {"findings", fs},
              {"data", data}};
    auto budget = s_.loop.max_result_bytes;
    std::string text;
    if (text_size + 512 + fs.dump().size() <= budget) {
      text = full.dump();
    } else {
      auto sorted = fs;
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const json& x, const json& y) {
                         severity sx = severity::info, sy = severity::info;
                         parse_severity(x.value("severity", "info"), sx);
                         parse_severity(y.value("severity", "info"), sy);
                         return sx > sy;
                       });
      json counts = json::object();
      for (auto& f : fs)
        counts[f.value("type", std::string{"?"})] =
          counts.value(f.value("type", std::string{"?"}), 0) + 1;
      json head{{"snapshot_id", snap.id},
                {"captured_at", snap.captured_at},
                {"plan", plan_json},
                {"finding_count", fs.size()},
                {"finding_types", counts},
                {"findings", sorted}};
      head = bound_result(head, budget * 3 / 4);
      auto used = head.dump().size() + 64;
      if (used + text_size <= budget)
        head["data"] = data;
      else if (budget > used + 256)
        head["data"] = bound_result(data, budget - used);
      else
        head["data"] = json{{"omitted", true},
                            {"note", "use get_snapshot or execute to read "
                                     "parts of it"}};
      text = head.dump();
    }
    tool_outcome out;
    out.content = std::move(text);
    out.data = std::make_shared<const json>(std::move(full));
    out.snapshot_ids.push_back(snap.id);
    s_.snapshots.push_back(std::move(snap));
    return out;
  }

  const stored_snapshot* find_snapshot(const std::string& id) const {
    for (auto& s : s_.snapshots)
      if (s.id == id)
        return &s;
    return nullptr;
  }

  tool_outcome get_snapshot(const std::string& id) {
    auto* s = find_snapshot(id);
    if (s == nullptr) {
      std::string known;
      for (auto& x : s_.snapshots)
        known += (known.empty() ? "" : ", ") + x.id;
      return tool_outcome::error("no snapshot '" + id + "'; known: "
                                 + (known.empty() ? "none" : known));
    }
    emit_op("get_snapshot", {{"snapshot_id", id}});
    json j{{"snapshot_id", s->id},
           {"captured_at", s->captured_at},
           {"data", s->data}};
    auto out = tool_outcome::ok(j.dump());
    out.snapshot_ids.push_back(s->id);
    return out;
  }

  tool_outcome get_snapshots(int limit, int offset) {
    json xs = json::array();
    std::vector<std::string> ids;
    int skipped = 0;
    for (auto i = s_.snapshots.rbegin(); i != s_.snapshots.rend(); ++i) {
      if (skipped++ < offset)
        continue;
      if (static_cast<int>(xs.size()) >= limit)
        break;
      xs.push_back({{"snapshot_id", i->id},
                    {"captured_at", i->captured_at},
                    {"data", i->data}});
      ids.push_back(i->id);
    }
    emit_op("get_snapshots", {{"count", static_cast<int64_t>(xs.size())}});
    json j{{"total", s_.snapshots.size()}, {"snapshots", xs}};
    auto out = tool_outcome::ok(j.dump());
    out.snapshot_ids = std::move(ids);
    return out;
  }

  tool_outcome execute(const std::string& code) {
    if (!s_.callbacks_ready) {
      s_.callbacks = skills::sandbox_callbacks(*s_.skill);
      s_.callbacks_ready = true;
    }
    emit_op("execute_start", {{"code", code}});
    auto res = s_.eng->box().execute(code, s_.callbacks, s_.spec.trace_id);
    if (!res) {
      auto reason = render_error(res.error());
      emit_op("execute_error", {{"code", code}, {"reason", reason}});
      return tool_outcome::error("execute failed: " + reason);
    }
    json j{{"value", res->value},
           {"output", res->output},
           {"output_truncated", res->output_truncated},
           {"instructions", res->instructions},
           {"duration_ms",
            std::chrono::duration<double, std::milli>(res->duration).count()}};
    auto text = j.dump();
    emit_op("execute_complete", {{"code", code}, {"result", text}});
    return tool_outcome::ok(std::move(text));
  }

  tool_outcome send_notification(const json& args) {
    notification n;
    n.id = s_.eng->next_id("n");
    n.skill = s_.spec.skill;
    n.anomaly_type = args.value("type", std::string{});
    auto sev = args.value("severity", std::string{"warning"});
    std::string problem;
    if (!parse_severity(sev, n.severity))
      problem = "unknown severity '" + sev + "'";
    if (auto i = args.find("context"); i != args.end())
      n.context = i->is_string() ? i->get<std::string>() : i->dump();
    n.observation = args.value("observation", std::string{});
    n.hypothesis = args.value("hypothesis", std::string{});
    for (auto& id : args.value("snapshot_ids", json::array()))
      if (id.is_string()) {
        auto sid = id.get<std::string>();
        if (find_snapshot(sid) == nullptr && problem.empty())
          problem = "snapshot_ids: no snapshot '" + sid
                    + "' was taken by this operator (take_snapshot first)";
        n.snapshot_ids.push_back(std::move(sid));
      }
    if (n.snapshot_ids.empty() && problem.empty())
      problem = "snapshot_ids: cite at least one snapshot";
    if (n.anomaly_type.empty() && problem.empty())
      problem = "type must not be empty";
    for (auto& a : args.value("actors", json::array()))
      if (a.is_string())
        n.actors.push_back(a.get<std::string>());
    if (!problem.empty()) {
      emit_op("notification_failed", {{"reason", problem}});
      return tool_outcome::error("send_notification rejected: " + problem);
    }
    n.detected_at = unix_ms();
    n.node = s_.eng->node();
    n.trace_id = s_.spec.trace_id;
    s_.notification_ids.push_back(n.id);
    auto id = n.id;
    emit_op("notification_sent", {{"notification", id}});
    self_->send(caf::actor_cast<coordinator_engine_actor>(s_.spec.coordinator),
                operator_notification{s_.spec.run_id, std::move(n),
                                      s_.spec.traceparent});
    auto out = tool_outcome::ok(json{{"notification_id", id}}.dump());
    out.notification = true;
    return out;
  }

  tool_outcome set_state(const std::string& state, const std::string& reason) {
    operator_state next;
    if (!parse_operator_state(state, next))
      return tool_outcome::error("unknown state '" + state + "'");
    auto prev = s_.st;
    s_.st = next;
    emit_op("state_change",
            {{"from", to_string(prev)}, {"to", to_string(next)},
             {"reason", reason}});
    self_->send(caf::actor_cast<coordinator_engine_actor>(s_.spec.coordinator),
                operator_progress{s_.spec.run_id, s_.st, s_.loop.iteration,
                                  s_.spec.traceparent});
    return tool_outcome::ok(json{{"state", state}}.dump());
  }

private:
  operator_ptr self_;
  operator_data& s_;
};

operator_actor::behavior_type operator_impl(operator_ptr self,
                                            std::shared_ptr<engine> eng,
                                            operator_spec spec) {
  self->state.eng = std::move(eng);
  self->state.spec = std::move(spec);
  operator_loop{self}.start();
  // A message it does not understand is dropped with an event (and CAF's
  // error to a requester), never a crash or a line on stderr.
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& x) -> caf::result<caf::message> {
      auto text = self->state.eng->describe_unexpected(x.move_content_to_message());
      operator_loop{self}.emit_op("unexpected_message", {{"message", text}});
      return caf::sec::unexpected_message;
    });
  return {
    [self](operator_message& msg) {
      auto& loop = self->state.loop;
      if (loop.finished)
        return;
      loop.conv.add_user("Message from the coordinator: " + msg.text);
    },
    [self](operator_cancel& msg) {
      operator_loop{self}.finish("cancelled", "", msg.reason);
    },
    [self](loop_tick& t) { operator_loop{self}.tick(t.generation); },
    [self](deadline_tick& t) {
      if (t.generation == 0 || t.generation <= self->state.loop.generation)
        operator_loop{self}.finish("deadline", "", "deadline reached");
    },
  };
}

} // namespace

operator_actor spawn_operator(caf::actor_system& sys,
                              std::shared_ptr<engine> eng,
                              operator_spec spec) {
  if (eng->detached_loops())
    return sys.spawn<caf::detached>(operator_impl, std::move(eng),
                                    std::move(spec));
  return sys.spawn(operator_impl, std::move(eng), std::move(spec));
}

} // namespace caflens::actors
