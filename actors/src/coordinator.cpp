#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"

#include "actors_impl.hpp"
#include "admission.hpp"
#include "engine.hpp"
#include "investigation.hpp"
#include "loop.hpp"
#include "tools.hpp"
#include "triggers.hpp"

#include "caflens/actors/actors_errc.hpp"
#include "caflens/actors/rule_brain.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reason.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/trace_id.hpp"

namespace caflens::actors {

using json = nlohmann::json;

namespace {

struct coordinator_data {
  static inline const char* name = "caflens.coordinator";
  std::shared_ptr<engine> eng;
  std::unique_ptr<investigation> cur;
  admission queue{0};
  uint64_t gen = 0;
  uint64_t seq = 0;
  /// caflens.anomaly.baseline_ready was emitted.
  bool baseline_reported = false;
};

using coordinator_ptr
  = coordinator_engine_actor::stateful_pointer<coordinator_data>;

void emit_co(const std::string& trace_id, std::string_view what,
             std::initializer_list<telemetry::meta_entry> extra = {}) {
  std::vector<telemetry::meta_entry> md{{"trace_id", trace_id}};
  md.insert(md.end(), extra.begin(), extra.end());
  emit("coordinator", what, md);
}

/// The coordinator actor's handlers: a view made per message. It drives
/// the investigation's lifecycle (begin, tick, degrade, finish) and the
/// tools that act (invoke and message operators, schedule, wait, done);
/// admission (admission.hpp), the bookkeeping and the result
/// (investigation.hpp) and triggers (triggers.hpp) live apart.
class coordinator_loop {
public:
  explicit coordinator_loop(coordinator_ptr self)
    : self_(self), s_(self->state) {
  }

  investigation_env env() const {
    auto eng = s_.eng;
    return {eng->node(),
            [eng](const char* prefix) { return eng->next_id(prefix); },
            &eng->processes()};
  }

  // -- admission --------------------------------------------------------------

  result_promise on_request(investigate_request& req) {
    // Read the sender first: making the promise moves it out of the
    // current message.
    auto sender = self_->current_sender();
    auto rp = self_->make_response_promise<investigation_result>();
    if (auto err = admission::validate(req, *s_.eng)) {
      rp.deliver(std::move(err));
      return rp;
    }
    request_entry e;
    e.trace_id = telemetry::generate_trace_id();
    e.req = std::move(req);
    waiter w{rp, {}};
    if (sender) {
      w.caller = caf::actor_cast<caf::actor_addr>(sender);
      self_->monitor(caf::actor_cast<caf::actor>(sender));
      e.has_callers = true;
    }
    e.waiters.push_back(std::move(w));
    submit(std::move(e));
    return rp;
  }

  /// Starts `e` or queues it (or refuses it: its waiters get the error).
  void submit(request_entry e) {
    if (!s_.cur) {
      begin(std::move(e));
      return;
    }
    auto trace = e.trace_id;
    auto reason = e.req.reason;
    if (s_.queue.enqueue(std::move(e), s_.cur->entry.trace_id))
      emit_co(trace, "investigation_queued",
              {{"reason", reason},
               {"queue_length", static_cast<int64_t>(s_.queue.size())}});
  }

  void automatic(std::string reason, std::string trigger,
                 std::string context = {}) {
    request_entry e;
    e.trace_id = telemetry::generate_trace_id();
    e.req.reason = std::move(reason);
    e.req.options.trigger = std::move(trigger);
    e.req.options.context = std::move(context);
    submit(std::move(e));
  }

  bool cancel(const std::string& trace_id) {
    if (s_.cur && (trace_id.empty() || trace_id == s_.cur->entry.trace_id)) {
      finish("cancelled", make_error(actors_errc::cancelled,
                                     "investigation " + s_.cur->entry.trace_id
                                       + " was cancelled"));
      return true;
    }
    return s_.queue.cancel(trace_id);
  }

  void on_caller_down(const caf::down_msg& dm) {
    s_.queue.drop_caller(dm.source);
    if (s_.cur) {
      drop_waiters(s_.cur->entry.waiters, dm.source);
      if (s_.cur->entry.has_callers && s_.cur->entry.waiters.empty())
        finish("caller_down", {});
    }
  }

  // -- lifecycle --------------------------------------------------------------

  void begin(request_entry e) {
    auto& cfg = s_.eng->cfg();
    auto inv = std::make_unique<investigation>();
    inv->entry = std::move(e);
    auto& opts = inv->entry.req.options;
    auto& trace = inv->entry.trace_id;
    inv->seq = ++s_.seq;
    inv->started_at = unix_ms();
    inv->started_mono = telemetry::bus::monotonic_time();
    auto deadline_ms = opts.deadline_ms > 0 ? opts.deadline_ms
                                            : int64_t{cfg.deadline.count()};
    inv->deadline_at = inv->started_at + deadline_ms;
    inv->operator_max_iterations = opts.operator_max_iterations > 0
                                     ? opts.operator_max_iterations
                                     : cfg.operator_max_iterations;
    inv->allowed_skills = opts.skills.empty() ? s_.eng->skill_names()
                                              : opts.skills;
    auto& loop = inv->loop;
    loop.brain = s_.eng->make_brain(
      {"coordinator", "", trace, inv->entry.req.reason,
       opts.trigger + " " + opts.context});
    loop.tools = make_tools(self_, inv->allowed_skills);
    loop.intent = "coordinator";
    loop.on_call = [eng = s_.eng, trace](std::string_view brain,
                                         int64_t iteration,
                                         const llm::tool_call& call) {
      eng->record_decision(trace, "coordinator", brain, iteration, call);
    };
    loop.max_iterations = opts.max_iterations > 0 ? opts.max_iterations
                                                  : cfg.max_iterations;
    loop.max_result_bytes = cfg.max_tool_result_bytes;
    loop.generation = ++s_.gen;
    loop.conv = llm::conversation{coordinator_prompt(), trace};
    // One budget for every loop of this investigation: an LLM brain asks
    // for the final answer instead of running into the deadline.
    loop.conv.budget(s_.eng->open_budget(
      trace, std::chrono::milliseconds{deadline_ms}));
    inv->traceparent = make_traceparent(trace);
    std::string task = "Investigation reason: " + inv->entry.req.reason
                       + "\nTrigger: " + opts.trigger
                       + "\nNode: " + s_.eng->node();
    // The cluster: operators run on every connected node unless told
    // otherwise; the same finding on several nodes is one cluster-wide
    // insight.
    if (auto peers = s_.eng->cluster(); !peers.empty()) {
      task += "\nCluster nodes (invoke_operators runs on all connected "
              "ones unless you name some):";
      for (auto& p : peers)
        task += "\n- " + (p.name.empty() ? p.address : p.name) + ": "
                + std::string{to_string(p.state)}
                + (p.error.empty() ? "" : " (" + p.error + ")");
    }
    if (!opts.context.empty())
      task += "\nContext: " + opts.context;
    task += "\nSkills you can invoke:";
    for (auto& name : inv->allowed_skills)
      if (auto sk = s_.eng->find_skill(name))
        task += "\n- " + name + ": " + sk->description();
    loop.conv.add_user(std::move(task));
    s_.cur = std::move(inv);
    auto& cur = *s_.cur;
    auto& bus = telemetry::bus::global();
    bus.execute(telemetry::event_name{"caflens", "investigation", "start"},
                {{"system_time",
                  static_cast<double>(telemetry::bus::system_time())},
                 {"monotonic_time", static_cast<double>(cur.started_mono)}},
                {{"trace_id", trace},
                 {"reason", cur.entry.req.reason},
                 {"trigger", opts.trigger}});
    emit_co(trace, "started",
            {{"running", true}, {"notification_count", int64_t{0}}});
    self_->delayed_send(self_, std::chrono::milliseconds{deadline_ms},
                        deadline_tick{cur.seq});
    self_->send(self_, loop_tick{cur.loop.generation});
  }

  void tick(uint64_t gen) {
    if (!s_.cur || s_.cur->loop.finished || gen != s_.cur->loop.generation)
      return;
    auto& cur = *s_.cur;
    auto& loop = cur.loop;
    auto& trace = cur.entry.trace_id;
    cur.waiting = false;
    if (loop.iteration >= loop.max_iterations) {
      if (!loop.final_step_granted)
        emit_co(trace, "max_iterations_reached",
                {{"iteration", int64_t{loop.iteration}}});
      // A model is asked for its final answer once, then the loop stops.
      if (!loop.grant_final_step()) {
        cur.errors.push_back("max_iterations (" + std::to_string(
                               loop.max_iterations) + ") reached");
        finish("max_iterations", {});
        return;
      }
    }
    ++loop.iteration;
    loop.conv.next_iteration();
    emit_co(trace, "iteration_start", {{"iteration", int64_t{loop.iteration}}});
    auto out = loop.step();
    if (!s_.cur)
      return;
    if (!out) {
      auto reason = render_error(out.error());
      emit_co(trace, "llm_error", {{"reason", reason}});
      if (loop.final_step_granted) {
        // The step past the limit was for the final answer only.
        cur.errors.push_back("max_iterations (" + std::to_string(
                               loop.max_iterations) + ") reached; no final "
                               "answer: " + reason);
        finish("max_iterations", {});
        return;
      }
      if (s_.eng->cfg().llm_fallback && degrade(out.error())) {
        self_->send(self_, loop_tick{loop.generation});
        return;
      }
      // Out of time or cancelled: as at the deadline, what is there is
      // the result.
      if (auto code = llm::llm_code(out.error());
          code == llm::llm_errc::deadline_exceeded
          || code == llm::llm_errc::cancelled) {
        cur.errors.push_back("the coordinator's last call ended: " + reason);
        if (code == llm::llm_errc::deadline_exceeded)
          finish("deadline", {});
        else
          finish("cancelled", make_error(actors_errc::cancelled,
                                         "investigation " + trace
                                           + " was cancelled"));
        return;
      }
      // Whatever the operators found is handed in; an error only when
      // there is nothing to hand in.
      auto err = make_error(actors_errc::brain_failed,
                            "the coordinator's brain failed: " + reason);
      if (cur.has_evidence()) {
        cur.errors.push_back(render_error(err));
        finish("llm_error", {});
      } else {
        finish("llm_error", std::move(err));
      }
      return;
    }
    switch (out->next) {
      case tool_outcome::step:
        self_->send(self_, loop_tick{loop.generation});
        break;
      case tool_outcome::wait:
        cur.waiting = cur.any_running();
        self_->delayed_send(self_, std::chrono::milliseconds{out->wait_ms},
                            loop_tick{loop.generation});
        break;
      case tool_outcome::finish:
        finish("done", {}, out->summary);
        break;
    }
  }

  /// The coordinator's model failed: the rule brain takes the loop over
  /// and every operator started from now on runs offline.
  bool degrade(const caf::error& err) {
    auto& cur = *s_.cur;
    auto& loop = cur.loop;
    auto& opts = cur.entry.req.options;
    brain_request req{"coordinator", "", cur.entry.trace_id,
                      cur.entry.req.reason, opts.trigger + " " + opts.context,
                      std::max(loop.max_iterations - loop.iteration, 1)};
    req.offline = true;
    if (!loop.degrade(err, s_.eng->make_brain(req)))
      return false;
    cur.offline = true;
    auto reason = render_error(err);
    cur.errors.push_back("the coordinator's brain failed (" + reason
                         + "); the rule engine went on with the evidence");
    emit_co(cur.entry.trace_id, "brain_fallback",
            {{"reason", reason}, {"iteration", int64_t{loop.iteration}}});
    // The rule brain plans from its first step: room for its steps.
    loop.max_iterations = std::max(loop.max_iterations, loop.iteration + 12);
    return true;
  }

  /// Wakes a coordinator waiting for its operators once none runs.
  void maybe_wake() {
    if (!s_.cur || !s_.cur->waiting || s_.cur->any_running())
      return;
    s_.cur->waiting = false;
    s_.cur->loop.generation = ++s_.gen;
    self_->send(self_, loop_tick{s_.cur->loop.generation});
  }

  void finish(const std::string& stop_reason, caf::error err,
              std::string summary = {}) {
    if (!s_.cur)
      return;
    auto inv = std::move(s_.cur);
    auto trace = inv->entry.trace_id;
    inv->loop.finished = true;
    s_.eng->close_budget(trace);
    for (auto& [id, op] : inv->ops)
      if (op.running && op.handle)
        self_->send(caf::actor_cast<operator_actor>(op.handle),
                    operator_cancel{stop_reason, inv->traceparent});
    // Remote nodes forget the investigation's budget.
    for (auto& name : inv->remote_nodes)
      if (auto peer = s_.eng->connected(name))
        self_->send(peer->agent,
                    remote_done{peer->session, trace, inv->traceparent});
    auto brain = inv->loop.brain ? std::string{inv->loop.brain->kind()}
                                 : s_.eng->brain_kind();
    if (!inv->loop.degraded.empty())
      brain = s_.eng->brain_kind() + "+rule";
    auto res = inv->result(stop_reason, s_.eng->node(), std::move(brain),
                           std::move(summary));
    for (auto& id : inv->action_ids)
      if (auto rec = s_.eng->actions().find(id))
        res.actions.push_back(std::move(*rec));
    size_t unread = 0;
    for (auto& n : res.notifications)
      if (n.status == "unread")
        ++unread;
    if (stop_reason == "done")
      emit_co(trace, "done", {{"has_unread", unread > 0},
                              {"unread_count", static_cast<int64_t>(unread)}});
    emit_co(trace, "loop_stopped", {{"reason", stop_reason}});
    auto& bus = telemetry::bus::global();
    auto now = telemetry::bus::monotonic_time();
    auto duration = static_cast<double>(now - inv->started_mono);
    if (err) {
      auto reason = render_error(err);
      bus.execute(
        telemetry::event_name{"caflens", "investigation", "exception"},
        {{"duration", duration}, {"monotonic_time", static_cast<double>(now)}},
        {{"trace_id", trace}, {"kind", "error"}, {"reason", reason}});
      inv->entry.fail(err);
    } else {
      // The store queues it (never blocks); it is written with the
      // investigation's timeline in the writer's next transaction. Queued
      // before the stop event: whoever reacts to that event finds the result
      // stored once the store is flushed (`lens::flush_telemetry`).
      if (auto st = s_.eng->store())
        st->consume(store::result_record(to_json(res)));
      bus.execute(
        telemetry::event_name{"caflens", "investigation", "stop"},
        {{"duration", duration},
         {"monotonic_time", static_cast<double>(now)},
         {"insights", static_cast<double>(res.insights.size())},
         {"notifications", static_cast<double>(res.notifications.size())},
         {"input_tokens", static_cast<double>(res.input_tokens)},
         {"output_tokens", static_cast<double>(res.output_tokens)},
         {"cost_usd", res.cost_usd}},
        {{"trace_id", trace}, {"partial", res.partial}});
      for (auto& w : inv->entry.waiters)
        w.rp.deliver(res);
    }
    if (auto next = s_.queue.next())
      begin(std::move(*next));
  }

  // -- operators --------------------------------------------------------------

  /// "n-4" of node "b" as "n-4@b".
  static std::string remote_id(const std::string& id, const std::string& node) {
    return id + "@" + node;
  }

  op_entry* find_op(uint64_t run_id) {
    return s_.cur ? s_.cur->find_op(run_id) : nullptr;
  }

  void on_started(operator_started& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr || !op->running) {
      // A restarted operator of a finished (or given-up) run.
      self_->send(caf::actor_cast<operator_actor>(msg.self),
                  operator_cancel{"investigation over", msg.traceparent});
      return;
    }
    op->handle = msg.self;
    self_->monitor(msg.self);
    if (op->crashes > 0)
      report(operator_event::restarted, *op, {});
    for (auto& text : op->pending)
      self_->send(caf::actor_cast<operator_actor>(op->handle),
                  operator_message{text, s_.cur->traceparent});
    op->pending.clear();
  }

  void on_notification(operator_notification& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr)
      return;
    auto& n = msg.note;
    // Ids are unique per node: those of other nodes carry their node.
    if (op->node != s_.eng->node()) {
      n.id = remote_id(n.id, op->node);
      for (auto& s : n.snapshot_ids)
        s = remote_id(s, op->node);
    }
    emit_co(s_.cur->entry.trace_id, "operator_notification_received",
            {{"notification_id", n.id}, {"skill", n.skill},
             {"node", n.node}});
    s_.cur->add_notification(*op, std::move(n));
  }

  void on_progress(operator_progress& msg) {
    if (auto* op = find_op(msg.run_id)) {
      op->state = msg.state;
      op->iteration = msg.iteration;
    }
  }

  void on_complete(operator_complete& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr || !op->running)
      return;
    emit_co(s_.cur->entry.trace_id, "operator_complete",
            {{"skill", op->skill}, {"result", msg.result.stop_reason}});
    if (op->node != s_.eng->node()) {
      for (auto& id : msg.result.notification_ids)
        id = remote_id(id, op->node);
      for (auto& id : msg.result.snapshot_ids)
        id = remote_id(id, op->node);
    }
    s_.cur->complete(*op, std::move(msg.result));
    if (op->handle)
      self_->demonitor(op->handle);
    maybe_wake();
  }

  /// True when `dm` was about an operator.
  bool on_operator_down(const caf::down_msg& dm) {
    if (!s_.cur)
      return false;
    for (auto& [id, op] : s_.cur->ops) {
      if (!op.handle || op.handle.address() != dm.source)
        continue;
      op.handle = nullptr;
      if (!op.running || supervision::is_normal_exit(dm.reason))
        return true;
      if (dm.reason == caf::exit_reason::remote_link_unreachable
          && op.node != s_.eng->node()) {
        // The node is gone, not the operator's fault.
        on_node_lost(op.node, "the link to the node broke");
        return true;
      }
      if (dm.reason == caf::exit_reason::unknown && op.node != s_.eng->node()) {
        // CAF's answer to a monitor that reached a remote actor already
        // gone: its result may still be on the way (or a restarted
        // incarnation). Given up only when neither comes.
        self_->delayed_send(self_, std::chrono::seconds{2},
                            restart_check{op.run_id, op.crashes});
        return true;
      }
      crashed(op, render_error(dm.reason));
      return true;
    }
    return false;
  }

  /// A node came back or went away (the connector).
  void on_node_event(const node_event& ev) {
    if (!ev.up)
      on_node_lost(ev.node, ev.reason, ev.at);
  }

  void on_node_lost(const std::string& node, const std::string& why,
                    int64_t at = 0) {
    if (!s_.cur)
      return;
    auto& cur = *s_.cur;
    auto skills = cur.node_lost(node, why, at > 0 ? at : unix_ms(), env());
    if (skills.empty())
      return;
    emit_co(cur.entry.trace_id, "node_lost",
            {{"node", node}, {"reason", why}, {"skills", join(skills)}});
    maybe_wake();
  }

  /// Tells the lens's subscribers (`lens::subscribe`).
  void report(operator_event what, const op_entry& op, std::string reason) {
    operator_report x;
    x.event = what;
    x.skill = op.skill;
    x.node = op.node;
    x.trace_id = s_.cur->entry.trace_id;
    x.reason = std::move(reason);
    x.crashes = op.crashes;
    x.max_restarts = s_.eng->cfg().operator_max_restarts;
    x.at = unix_ms();
    s_.eng->publish(x);
  }

  void crashed(op_entry& op, const std::string& reason) {
    emit_co(s_.cur->entry.trace_id, "operator_crashed",
            {{"skill", op.skill}, {"reason", reason}});
    if (s_.cur->crashed(op, reason, s_.eng->cfg().operator_max_restarts,
                        env())) {
      report(operator_event::given_up, op, reason);
      maybe_wake();
      return;
    }
    report(operator_event::crashed, op, reason);
    // The supervisor restarts it; give it up when it does not come back.
    self_->delayed_send(self_, std::chrono::seconds{5},
                        restart_check{op.run_id, op.crashes});
  }

  void on_restart_check(const restart_check& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr || !op->running || op->handle
        || op->crashes != msg.crashes)
      return;
    op->crashes = s_.eng->cfg().operator_max_restarts;
    crashed(*op, op->node == s_.eng->node()
                   ? "not restarted within 5 s"
                   : "gone from node " + op->node
                       + " without a result or a restart");
  }

  // -- tools ------------------------------------------------------------------

  /// The coordinator's tools: each definition (tools.cpp) with its handler.
  static tool_table make_tools(coordinator_ptr self,
                               const std::vector<std::string>& skills) {
    // Actions reach a brain only when allow-listed and not read-only.
    auto& book = self->state.eng->actions();
    std::vector<action_offer> offers;
    for (auto* d : book.offered()) {
      std::string params;
      for (auto& p : d->params)
        params += (params.empty() ? "" : ", ") + p.describe();
      offers.push_back({d->name, params, d->description});
    }
    auto defs = coordinator_tools(skills, offers,
                                  book.mode() == action_mode::autonomous);
    tool_table t;
    auto on = [&](const char* name,
                  tool_outcome (*fn)(coordinator_loop&, const json&)) {
      bind_tool(t, defs, name, self, fn);
    };
    on("get_notifications", [](coordinator_loop& c, const json& a) {
      return c.get_notifications(a.value("status", std::string{"unread"}),
                                 a.value("limit", int64_t{0}),
                                 a.value("offset", int64_t{0}));
    });
    on("update_notification_statuses",
       [](coordinator_loop& c, const json& a) {
         return c.update_statuses(a);
       });
    on("invoke_operators", [](coordinator_loop& c, const json& a) {
      return c.invoke_operators(a);
    });
    on("message_operator", [](coordinator_loop& c, const json& a) {
      return c.message_operator(a.value("skill", std::string{}),
                                a.value("node", std::string{}),
                                a.value("message", std::string{}));
    });
    on("get_operator_statuses", [](coordinator_loop& c, const json&) {
      return c.operator_statuses();
    });
    on("produce_insight", [](coordinator_loop& c, const json& a) {
      return c.produce_insight(a);
    });
    on("propose_action", [](coordinator_loop& c, const json& a) {
      return c.propose_action(a);
    });
    on("schedule",
       [](coordinator_loop& c, const json& a) { return c.schedule(a); });
    on("think", [](coordinator_loop& c, const json& a) { return c.think(a); });
    on("wait", [](coordinator_loop& c, const json& a) { return c.wait(a); });
    on("done", [](coordinator_loop& c, const json& a) { return c.done(a); });
    return t;
  }

  tool_outcome schedule(const json& args) {
    auto& trace = s_.cur->entry.trace_id;
    auto ms = args.value("ms", int64_t{0});
    auto reason = args.value("reason", std::string{});
    emit_co(trace, "schedule", {{"ms", ms}, {"reason", reason}});
    self_->delayed_send(self_, std::chrono::milliseconds{ms},
                        scheduled_check{reason, "follow_up", false});
    return tool_outcome::ok(
      json{{"scheduled_in_ms", ms}, {"reason", reason}}.dump());
  }

  tool_outcome think(const json& args) {
    auto& trace = s_.cur->entry.trace_id;
    emit_co(trace, "think",
            {{"thought", args.value("thought", std::string{})}});
    return tool_outcome::ok(R"({"ok":true})");
  }

  tool_outcome wait(const json& args) {
    auto& cur = *s_.cur;
    auto& trace = cur.entry.trace_id;
    auto ms = args.value("ms", int64_t{0});
    emit_co(trace, "wait", {{"ms", ms}});
    if (!cur.any_running())
      // The coordinator waits for operators; with none running there is
      // nothing to wait for.
      return tool_outcome::ok(
        json{{"waited_ms", 0}, {"note", "no operator is running"}}.dump());
    // A model-backed brain is asked for its final answer at 90 % of the
    // deadline: a wait never sleeps through that moment.
    if (auto b = cur.loop.conv.budget();
        b && cur.loop.brain && cur.loop.brain->model_backed()
        && !cur.loop.conv.final_answer_requested())
      if (auto left = b->time_to_final_answer())
        ms = std::clamp<int64_t>(left->count() + 1, 1, ms);
    auto out = tool_outcome::ok(
      json{{"waited_up_to_ms", ms},
           {"note", "returns early when every operator has finished"}}
        .dump());
    out.next = tool_outcome::wait;
    out.wait_ms = ms;
    return out;
  }

  tool_outcome done(const json& args) {
    auto& cur = *s_.cur;
    auto running = cur.running_skills();
    // Asked for the final answer (deadline near, budget spent, iteration
    // limit): finishing cancels the operators and keeps their evidence.
    if (!running.empty() && !cur.loop.conv.final_answer_requested())
      return tool_outcome::error(
        "done refused: operators still running: " + join(running)
        + "; wait for them (wait) or check get_operator_statuses");
    return tool_outcome::done(args);
  }

  tool_outcome get_notifications(const std::string& status, int64_t limit,
                                 int64_t offset) {
    auto out = s_.cur->notifications(status, limit, offset);
    auto count = out.data && out.data->is_array()
                   ? out.data->size()
                   : out.data ? out.data->value("total", size_t{0}) : 0;
    emit_co(s_.cur->entry.trace_id, "get_notifications",
            {{"status", status}, {"count", static_cast<int64_t>(count)}});
    return out;
  }

  tool_outcome update_statuses(const json& args) {
    auto out = s_.cur->update_statuses(args);
    if (!out.is_error) {
      std::vector<std::string> names;
      for (auto& id : args.value("notification_ids", json::array()))
        names.push_back(id.get<std::string>());
      emit_co(s_.cur->entry.trace_id, "update_notification_statuses",
              {{"notification_ids", join(names)},
               {"status", args.value("status", std::string{})}});
    }
    return out;
  }

  /// This node and every connected one.
  std::vector<std::string> all_nodes() const {
    std::vector<std::string> xs;
    auto& cl = s_.eng->cfg().cluster;
    auto peers = s_.eng->connected();
    if (cl.local_operators || peers.empty())
      xs.push_back(s_.eng->node());
    for (auto& p : peers)
      if (std::find(xs.begin(), xs.end(), p.name) == xs.end())
        xs.push_back(p.name);
    return xs;
  }

  tool_outcome invoke_operators(const json& args) {
    auto& cur = *s_.cur;
    auto& node = s_.eng->node();
    // Named nodes, or this node and every connected one.
    std::vector<std::string> nodes;
    auto known = all_nodes();
    for (auto& n : args.value("nodes", json::array()))
      if (n.is_string()) {
        auto name = n.get<std::string>();
        if (name != node
            && std::find(known.begin(), known.end(), name) == known.end()) {
          std::string states;
          for (auto& x : s_.eng->cluster())
            states += (states.empty() ? "" : ", ")
                      + (x.name.empty() ? x.address : x.name) + " ("
                      + std::string{to_string(x.state)} + ")";
          return tool_outcome::error(
            "node '" + name + "' is not connected; connected: "
            + join(known) + (states.empty() ? "" : "; peers: " + states));
        }
        if (std::find(nodes.begin(), nodes.end(), name) == nodes.end())
          nodes.push_back(std::move(name));
      }
    if (nodes.empty())
      nodes = std::move(known);
    std::string context;
    if (auto i = args.find("context"); i != args.end() && !i->is_null())
      context = i->is_string() ? i->get<std::string>() : i->dump();
    if (context.empty())
      context = cur.entry.req.options.context;
    std::vector<std::string> skills;
    for (auto& sk : args.value("skills", json::array())) {
      auto skill = sk.get<std::string>();
      if (std::find(cur.allowed_skills.begin(), cur.allowed_skills.end(),
                    skill)
          == cur.allowed_skills.end())
        return tool_outcome::error("skill '" + skill
                                   + "' is not available; available: "
                                   + join(cur.allowed_skills));
      skills.push_back(std::move(skill));
    }
    // What each remote node has (its handshake said so).
    std::map<std::string, std::vector<std::string>> has;
    for (auto& x : s_.eng->cluster())
      if (x.state == node_state::connected)
        has[x.name] = x.skills;
    std::vector<std::string> started, running, missing;
    for (auto& n : nodes) {
      auto label = [&](const std::string& skill) {
        return nodes.size() == 1 && n == node ? skill : skill + "@" + n;
      };
      for (auto& skill : skills) {
        if (auto i = has.find(n); n != node && i != has.end()
            && std::find(i->second.begin(), i->second.end(), skill)
                 == i->second.end()) {
          missing.push_back(label(skill));
          continue;
        }
        if (cur.running_op(skill, n) != nullptr) {
          running.push_back(label(skill));
          continue;
        }
        start_operator(skill, n, context);
        started.push_back(label(skill));
      }
    }
    emit_co(cur.entry.trace_id, "invoke_operators",
            {{"skills", join(started)}, {"nodes", join(nodes)}});
    json reply{{"started", started}, {"already_running", running}};
    if (nodes.size() > 1 || nodes.front() != node)
      reply["nodes"] = nodes;
    if (!missing.empty())
      reply["not_on_node"] = missing;
    return tool_outcome::ok(reply.dump());
  }

  void start_operator(const std::string& skill, const std::string& node,
                      const std::string& context) {
    auto& cur = *s_.cur;
    operator_spec spec;
    spec.trace_id = cur.entry.trace_id;
    spec.run_id = s_.eng->next_run_id();
    spec.skill = skill;
    spec.reason = cur.entry.req.reason;
    spec.context = context;
    spec.max_iterations = cur.operator_max_iterations;
    spec.deadline_at = cur.deadline_at;
    spec.offline = cur.offline;
    spec.coordinator = caf::actor_cast<caf::actor>(self_);
    spec.traceparent = make_traceparent(cur.entry.trace_id);
    op_entry op;
    op.run_id = spec.run_id;
    op.skill = skill;
    op.node = node;
    cur.ops.emplace(op.run_id, std::move(op));
    auto run_id = spec.run_id;
    auto seq = cur.seq;
    // A failed start gives the operator up; a view lives for one message:
    // the handler makes its own.
    auto on_error = [self = self_, run_id, seq](std::string why) {
      coordinator_loop c{self};
      auto& cur = c.s_.cur;
      if (!cur || cur->seq != seq)
        return;
      auto* op = c.find_op(run_id);
      if (op == nullptr || !op->running)
        return;
      cur->start_failed(*op, why);
      c.maybe_wake();
    };
    if (node != s_.eng->node()) {
      auto peer = s_.eng->connected(node);
      if (!peer) {
        on_error("node '" + node + "' is not connected");
        return;
      }
      cur.remote_nodes.insert(node);
      auto timeout = std::max<int64_t>(
        1, std::min<int64_t>(s_.eng->cfg().cluster.request_timeout.count(),
                             cur.deadline_at - unix_ms()));
      auto tp = spec.traceparent;
      self_
        ->request(peer->agent, std::chrono::milliseconds{timeout},
                  remote_invoke{peer->session, std::move(spec), std::move(tp)})
        .then([](bool) {},
              [on_error, node](caf::error& err) {
                on_error(err == caf::sec::request_timeout
                           ? "node '" + node + "' did not start it in time"
                           : render_error(err));
              });
      return;
    }
    auto sup = s_.eng->operator_sup();
    if (!sup) {
      // Without a supervisor (tests of the bare coordinator).
      auto h = spawn_operator(self_->system(), s_.eng, std::move(spec));
      (void) h;
      return;
    }
    self_
      ->request(sup, std::chrono::seconds{10},
                supervision::start_dynamic_child{caf::make_message(spec)})
      .then([](const caf::actor&) {},
            [on_error](caf::error& err) { on_error(render_error(err)); });
  }

  tool_outcome message_operator(const std::string& skill,
                                const std::string& node,
                                const std::string& text) {
    // One node's operator, or the skill's operators on every node.
    std::vector<op_entry*> targets;
    for (auto& [id, op] : s_.cur->ops)
      if (op.skill == skill && op.running && (node.empty() || op.node == node))
        targets.push_back(&op);
    if (targets.empty())
      return tool_outcome::error("no running operator for skill '" + skill
                                 + "'" + (node.empty() ? "" : " on " + node));
    emit_co(s_.cur->entry.trace_id, "message_operator", {{"skill", skill}});
    size_t delivered = 0, queued = 0;
    for (auto* op : targets) {
      if (!op->handle) {
        // Still starting: delivered once it announces itself.
        op->pending.push_back(text);
        ++queued;
        continue;
      }
      self_->send(caf::actor_cast<operator_actor>(op->handle),
                  operator_message{text, s_.cur->traceparent});
      ++delivered;
    }
    if (targets.size() == 1)
      return tool_outcome::ok(delivered ? R"({"delivered":true})"
                                        : R"({"delivered":false,"queued":true})");
    return tool_outcome::ok(
      json{{"delivered", delivered}, {"queued", queued}}.dump());
  }

  tool_outcome operator_statuses() {
    emit_co(s_.cur->entry.trace_id, "get_operator_statuses");
    return s_.cur->operator_statuses();
  }

  tool_outcome produce_insight(const json& args) {
    auto out = s_.cur->produce_insight(args, env());
    if (out.is_error)
      return out;
    auto& x = s_.cur->insights.back();
    emit_co(s_.cur->entry.trace_id, "insight_produced", {{"insight", x.id}});
    // The insight proposes the allowed actions that remedy its pattern.
    auto& book = s_.eng->actions();
    if (book.mode() == action_mode::read_only)
      return out;
    std::vector<notification> cited;
    for (auto& id : x.notification_ids)
      if (auto* n = s_.cur->find_note(id))
        cited.push_back(*n);
    auto proposed = book.propose_for(x, cited, brain_name());
    if (proposed.empty())
      return out;
    auto reply = json::parse(out.content, nullptr, false);
    json ids = json::array();
    for (auto& rec : proposed) {
      track_action(rec);
      ids.push_back(rec.id + " " + rec.action + " " + rec.args);
    }
    if (reply.is_object()) {
      reply[book.mode() == action_mode::autonomous ? "actions_running"
                                                   : "actions_proposed"]
        = ids;
      out.content = reply.dump();
    }
    return out;
  }

  std::string brain_name() const {
    auto& loop = s_.cur->loop;
    return loop.brain ? std::string{loop.brain->kind()} : "rule";
  }

  /// Keeps `rec` with the investigation; autonomous: runs it now, on a
  /// helper actor (it may block briefly), and the audit tells the outcome.
  void track_action(const action_record& rec) {
    s_.cur->action_ids.push_back(rec.id);
    if (s_.eng->actions().mode() != action_mode::autonomous)
      return;
    auto eng = s_.eng;
    auto id = rec.id;
    run_detached(self_->system(), [eng, id] {
      std::ignore = eng->actions().execute(id, "autonomous");
    });
  }

  /// propose_action: a model asks for an action (approve: for a human;
  /// autonomous: run now). Refusals are tool errors the model can read.
  tool_outcome propose_action(const json& args) {
    auto rec = s_.eng->actions().propose(
      args.value("action", std::string{}),
      args.value("arguments", json::object()),
      args.value("reason", std::string{}), s_.cur->entry.trace_id,
      args.value("insight_id", std::string{}), brain_name());
    if (!rec)
      return tool_outcome::error("action refused: "
                                 + render_error(rec.error()));
    track_action(*rec);
    auto autonomous = s_.eng->actions().mode() == action_mode::autonomous;
    return tool_outcome::ok(
      json{{"action_id", rec->id},
           {"status", autonomous ? "running" : "proposed"},
           {"note", autonomous ? "runs now; the audit records its outcome"
                               : "waits for a human's approval"}}
        .dump());
  }

  // -- triggers ---------------------------------------------------------------

  void on_scheduled(scheduled_check& msg) {
    auto& cfg = s_.eng->cfg();
    if (msg.trigger == "anomaly_poll") {
      self_->delayed_send(self_, cfg.anomaly_interval, msg);
      if (auto reason = poll_anomalies(*s_.eng, s_.baseline_reported);
          reason && !s_.cur && s_.eng->admit_trigger())
        automatic(std::move(*reason), "anomaly");
      return;
    }
    if (msg.periodic) {
      self_->delayed_send(self_, cfg.check_interval, msg);
      // A periodic check never piles up behind a running investigation.
      if (!s_.cur)
        automatic(msg.reason, msg.trigger);
      return;
    }
    if (s_.eng->admit_trigger())
      automatic(msg.reason, msg.trigger);
  }

  bool on_alert(const alert_request& req) {
    if (!s_.eng->admit_trigger())
      return false;
    automatic(alert_reason(req), "alert", req.context);
    return true;
  }

  std::string status() const {
    json j{{"node", s_.eng->node()}, {"brain", s_.eng->brain_kind()}};
    j["running"] = s_.cur ? s_.cur->status() : json(nullptr);
    j["queue"] = s_.queue.status();
    return j.dump();
  }

private:
  coordinator_ptr self_;
  coordinator_data& s_;
};

coordinator_engine_actor::behavior_type coordinator_impl(coordinator_ptr self,
                                                  std::shared_ptr<engine> eng) {
  self->state.eng = std::move(eng);
  auto& cfg = self->state.eng->cfg();
  self->state.queue = admission{cfg.max_queue};
  if (cfg.check_interval.count() > 0)
    self->delayed_send(self, cfg.check_interval,
                       scheduled_check{cfg.check_reason, "schedule", true});
  if (cfg.anomaly_trigger)
    self->delayed_send(self, cfg.anomaly_interval,
                       scheduled_check{"", "anomaly_poll", true});
  // A message it does not understand is dropped with an event (and CAF's
  // error to a requester), never a crash or a line on stderr.
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& x) -> caf::result<caf::message> {
      auto& st = self->state;
      auto text = st.eng->describe_unexpected(x.move_content_to_message());
      emit_co(st.cur ? st.cur->entry.trace_id : std::string{},
              "unexpected_message", {{"message", text}});
      return caf::sec::unexpected_message;
    });
  self->set_down_handler([self](caf::down_msg& dm) {
    coordinator_loop loop{self};
    if (!loop.on_operator_down(dm))
      loop.on_caller_down(dm);
  });
  return {
    [self](investigate_request& req) {
      return coordinator_loop{self}.on_request(req);
    },
    [self](cancel_request& req) {
      return coordinator_loop{self}.cancel(req.trace_id);
    },
    [self](status_request&) { return coordinator_loop{self}.status(); },
    [self](alert_request& req) { return coordinator_loop{self}.on_alert(req); },
    [self](operator_started& msg) { coordinator_loop{self}.on_started(msg); },
    [self](operator_notification& msg) {
      coordinator_loop{self}.on_notification(msg);
    },
    [self](operator_progress& msg) {
      coordinator_loop{self}.on_progress(msg);
    },
    [self](operator_complete& msg) {
      coordinator_loop{self}.on_complete(msg);
    },
    [self](loop_tick& t) { coordinator_loop{self}.tick(t.generation); },
    [self](deadline_tick& t) {
      auto& cur = self->state.cur;
      if (!cur || cur->seq != t.generation)
        return;
      coordinator_loop{self}.finish("deadline", {});
    },
    [self](scheduled_check& msg) { coordinator_loop{self}.on_scheduled(msg); },
    [self](restart_check& msg) {
      coordinator_loop{self}.on_restart_check(msg);
    },
    [self](node_event& ev) { coordinator_loop{self}.on_node_event(ev); },
  };
}

} // namespace

coordinator_actor spawn_coordinator(caf::actor_system& sys,
                                    std::shared_ptr<engine> eng) {
  if (eng->detached_loops())
    return sys.spawn<caf::detached>(coordinator_impl, std::move(eng));
  return sys.spawn(coordinator_impl, std::move(eng));
}

} // namespace caflens::actors
