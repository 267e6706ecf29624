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
#include "engine.hpp"
#include "loop.hpp"
#include "tools.hpp"

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

using result_promise = caf::typed_response_promise<investigation_result>;

struct op_entry {
  uint64_t run_id = 0;
  std::string skill;
  std::string node;
  caf::actor handle;
  operator_state state = operator_state::healthy;
  int32_t iteration = 0;
  bool running = true;
  int32_t crashes = 0;
  std::optional<operator_result> result;
  std::vector<std::string> notification_ids;
  /// Messages for an operator that has not announced itself yet.
  std::vector<std::string> pending;
};

struct waiter {
  result_promise rp;
  caf::actor_addr caller;
};

struct request_entry {
  std::string trace_id;
  investigate_request req;
  std::vector<waiter> waiters;
  /// False for automatic triggers: nobody's death cancels them.
  bool has_callers = false;
};

struct investigation {
  request_entry entry;
  int64_t started_at = 0;
  int64_t started_mono = 0;
  int32_t operator_max_iterations = 25;
  int64_t deadline_at = 0;
  uint64_t seq = 0;
  loop_core loop;
  std::vector<std::string> allowed_skills;
  std::vector<notification> notes;
  std::vector<insight> insights;
  std::map<uint64_t, op_entry> ops;
  std::vector<std::string> errors;
  bool waiting = false;
  /// The model failed: the rule brain goes on, operators start offline.
  bool offline = false;
};

struct coordinator_data {
  static inline const char* name = "caflens.coordinator";
  std::shared_ptr<engine> eng;
  std::unique_ptr<investigation> cur;
  std::deque<request_entry> queue;
  uint64_t gen = 0;
  uint64_t seq = 0;
};

using coordinator_ptr
  = coordinator_engine_actor::stateful_pointer<coordinator_data>;

void emit_co(const std::string& trace_id, std::string_view what,
             std::initializer_list<telemetry::meta_entry> extra = {}) {
  std::vector<telemetry::meta_entry> md{{"trace_id", trace_id}};
  md.insert(md.end(), extra.begin(), extra.end());
  emit("coordinator", what, md);
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

class coordinator_loop {
public:
  explicit coordinator_loop(coordinator_ptr self)
    : self_(self), s_(self->state) {
  }

  // -- requests ---------------------------------------------------------------

  caf::error validate(const investigate_request& req) const {
    if (req.reason.empty())
      return make_error(actors_errc::invalid_request,
                        "reason must not be empty");
    if (req.reason.size() > 8192)
      return make_error(actors_errc::invalid_request,
                        "reason is longer than 8192 bytes");
    auto& o = req.options;
    if (o.max_iterations < 0 || o.max_iterations > 1000)
      return make_error(actors_errc::invalid_request,
                        "options.max_iterations must be within 0..1000, got "
                          + std::to_string(o.max_iterations));
    if (o.operator_max_iterations < 0 || o.operator_max_iterations > 1000)
      return make_error(actors_errc::invalid_request,
                        "options.operator_max_iterations must be within "
                        "0..1000, got "
                          + std::to_string(o.operator_max_iterations));
    if (o.deadline_ms < 0)
      return make_error(actors_errc::invalid_request,
                        "options.deadline_ms must not be negative, got "
                          + std::to_string(o.deadline_ms));
    for (auto& sk : o.skills)
      if (!s_.eng->find_skill(sk))
        return make_error(actors_errc::invalid_request,
                          "options.skills: no skill named '" + sk
                            + "'; known: " + join(s_.eng->skill_names()));
    return {};
  }

  result_promise on_request(investigate_request& req) {
    // Read the sender first: making the promise moves it out of the
    // current message.
    auto sender = self_->current_sender();
    auto rp = self_->make_response_promise<investigation_result>();
    if (auto err = validate(req)) {
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

  /// Starts `e` or queues it; answers its waiters with an error when that is
  /// not possible.
  void submit(request_entry e) {
    if (!s_.cur) {
      begin(std::move(e));
      return;
    }
    caf::error err;
    if (!e.req.options.queue)
      err = make_error(actors_errc::busy, "investigation "
                                            + s_.cur->entry.trace_id
                                            + " is running");
    else if (s_.queue.size() >= s_.eng->cfg().max_queue)
      err = make_error(actors_errc::queue_full,
                       "the queue holds "
                         + std::to_string(s_.queue.size())
                         + " investigations (max_queue)");
    if (err) {
      for (auto& w : e.waiters)
        w.rp.deliver(err);
      return;
    }
    emit_co(e.trace_id, "investigation_queued",
            {{"reason", e.req.reason},
             {"queue_length", static_cast<int64_t>(s_.queue.size() + 1)}});
    s_.queue.push_back(std::move(e));
  }

  void automatic(std::string reason, std::string trigger) {
    request_entry e;
    e.trace_id = telemetry::generate_trace_id();
    e.req.reason = std::move(reason);
    e.req.options.trigger = std::move(trigger);
    submit(std::move(e));
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
    loop.max_iterations = opts.max_iterations > 0 ? opts.max_iterations
                                                  : cfg.max_iterations;
    loop.max_result_bytes = cfg.max_tool_result_bytes;
    loop.generation = ++s_.gen;
    loop.conv = llm::conversation{coordinator_prompt(), trace};
    // One budget for every loop of this investigation: an LLM brain asks
    // for the final answer instead of running into the deadline.
    loop.conv.budget(s_.eng->open_budget(
      trace, std::chrono::milliseconds{deadline_ms}));
    std::string task = "Investigation reason: " + inv->entry.req.reason
                       + "\nTrigger: " + opts.trigger
                       + "\nNode: " + s_.eng->node();
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
      if (has_evidence()) {
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
        cur.waiting = any_running();
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

  /// True when the investigation has anything to hand in.
  bool has_evidence() const {
    if (!s_.cur)
      return false;
    if (!s_.cur->notes.empty() || !s_.cur->insights.empty())
      return true;
    for (auto& [id, op] : s_.cur->ops)
      if (op.result || !op.notification_ids.empty())
        return true;
    return false;
  }

  bool any_running() const {
    if (!s_.cur)
      return false;
    for (auto& [id, op] : s_.cur->ops)
      if (op.running)
        return true;
    return false;
  }

  /// Wakes a coordinator waiting for its operators once none runs.
  void maybe_wake() {
    if (!s_.cur || !s_.cur->waiting || any_running())
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
    auto& trace = inv->entry.trace_id;
    inv->loop.finished = true;
    s_.eng->close_budget(trace);
    investigation_result res;
    res.trace_id = trace;
    res.reason = inv->entry.req.reason;
    res.trigger = inv->entry.req.options.trigger;
    res.node = s_.eng->node();
    res.brain = inv->loop.brain ? std::string{inv->loop.brain->kind()}
                                : s_.eng->brain_kind();
    if (!inv->loop.degraded.empty())
      res.brain = s_.eng->brain_kind() + "+rule";
    res.summary = std::move(summary);
    res.iterations = inv->loop.iteration;
    res.started_at = inv->started_at;
    bool partial = stop_reason != "done" || !inv->loop.degraded.empty();
    for (auto& [id, op] : inv->ops) {
      if (op.running) {
        if (op.handle)
          self_->send(caf::actor_cast<operator_actor>(op.handle),
                      operator_cancel{stop_reason});
        partial = true;
      }
      operator_result r;
      if (op.result) {
        r = *op.result;
      } else {
        r.skill = op.skill;
        r.node = op.node;
        r.state = op.state;
        r.iterations = op.iteration;
        r.notification_ids = op.notification_ids;
        // Still running when the coordinator finished: cancelled (or
        // stopped by what stopped the investigation).
        r.stop_reason = op.crashes > 0 ? "crashed"
                        : op.running && stop_reason == "done" ? "cancelled"
                                                              : stop_reason;
      }
      r.restarts = std::max(r.restarts, op.crashes);
      if (!r.error.empty() || r.stop_reason == "crashed")
        partial = true;
      res.input_tokens += r.input_tokens;
      res.output_tokens += r.output_tokens;
      res.cost_usd += r.cost_usd;
      res.llm_calls += r.llm_calls;
      res.llm_retries += r.llm_retries;
      res.operators.push_back(std::move(r));
    }
    auto own = inv->loop.usage();
    res.input_tokens += own.input_tokens;
    res.output_tokens += own.output_tokens;
    res.cost_usd += own.cost_usd;
    res.llm_calls += own.calls;
    res.llm_retries += own.retries;
    res.partial = partial;
    res.errors = std::move(inv->errors);
    if (stop_reason != "done" && stop_reason != "max_iterations"
        && stop_reason != "llm_error")
      res.errors.push_back(stop_reason);
    res.notifications = std::move(inv->notes);
    res.insights = std::move(inv->insights);
    // Warning-or-worse first; otherwise the brain's order (it puts root
    // causes before their symptoms).
    std::stable_sort(res.insights.begin(), res.insights.end(),
                     [](const insight& x, const insight& y) {
                       return (x.severity >= severity::warning)
                              > (y.severity >= severity::warning);
                     });
    res.finished_at = unix_ms();
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
      for (auto& w : inv->entry.waiters)
        w.rp.deliver(err);
    } else {
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
    if (!s_.queue.empty()) {
      auto next = std::move(s_.queue.front());
      s_.queue.pop_front();
      begin(std::move(next));
    }
  }

  bool cancel(const std::string& trace_id) {
    if (s_.cur && (trace_id.empty() || trace_id == s_.cur->entry.trace_id)) {
      finish("cancelled", make_error(actors_errc::cancelled,
                                     "investigation " + s_.cur->entry.trace_id
                                       + " was cancelled"));
      return true;
    }
    for (auto i = s_.queue.begin(); i != s_.queue.end(); ++i)
      if (i->trace_id == trace_id) {
        for (auto& w : i->waiters)
          w.rp.deliver(make_error(actors_errc::cancelled,
                                  "investigation " + trace_id
                                    + " was cancelled while queued"));
        s_.queue.erase(i);
        return true;
      }
    return false;
  }

  // -- operators --------------------------------------------------------------

  op_entry* find_op(uint64_t run_id) {
    if (!s_.cur)
      return nullptr;
    auto i = s_.cur->ops.find(run_id);
    return i == s_.cur->ops.end() ? nullptr : &i->second;
  }

  void on_started(operator_started& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr || !op->running) {
      // A restarted operator of a finished (or given-up) run.
      self_->send(caf::actor_cast<operator_actor>(msg.self),
                  operator_cancel{"investigation over"});
      return;
    }
    op->handle = msg.self;
    self_->monitor(msg.self);
    for (auto& text : op->pending)
      self_->send(caf::actor_cast<operator_actor>(op->handle),
                  operator_message{text});
    op->pending.clear();
  }

  void on_notification(operator_notification& msg) {
    auto* op = find_op(msg.run_id);
    if (op == nullptr)
      return;
    auto& n = msg.note;
    op->notification_ids.push_back(n.id);
    emit_co(s_.cur->entry.trace_id, "operator_notification_received",
            {{"notification_id", n.id}, {"skill", n.skill},
             {"node", n.node}});
    n.status = "unread";
    s_.cur->notes.push_back(std::move(n));
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
    op->running = false;
    op->state = msg.result.state;
    op->iteration = msg.result.iterations;
    if (!msg.result.error.empty())
      s_.cur->errors.push_back("operator " + op->skill + ": "
                               + msg.result.error);
    emit_co(s_.cur->entry.trace_id, "operator_complete",
            {{"skill", op->skill}, {"result", msg.result.stop_reason}});
    op->result = std::move(msg.result);
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
      crashed(op, render_error(dm.reason));
      return true;
    }
    return false;
  }

  void crashed(op_entry& op, const std::string& reason) {
    auto& cur = *s_.cur;
    auto& cfg = s_.eng->cfg();
    ++op.crashes;
    emit_co(cur.entry.trace_id, "operator_crashed",
            {{"skill", op.skill}, {"reason", reason}});
    bool give_up = op.crashes > cfg.operator_max_restarts;
    notification n;
    n.id = s_.eng->next_id("n");
    n.skill = op.skill;
    n.anomaly_type = "operator_crashed";
    n.severity = severity::warning;
    n.observation = "the " + op.skill + " operator crashed (" + reason + ")"
                    + (give_up ? "; given up after "
                                   + std::to_string(op.crashes) + " crashes"
                               : "; restarted by its supervisor");
    n.context = json{{"reason", reason}, {"crashes", op.crashes}}.dump();
    n.detected_at = unix_ms();
    n.node = op.node;
    n.trace_id = cur.entry.trace_id;
    op.notification_ids.push_back(n.id);
    cur.notes.push_back(std::move(n));
    cur.errors.push_back("operator " + op.skill + " crashed: " + reason);
    if (give_up) {
      op.running = false;
      operator_result r;
      r.skill = op.skill;
      r.node = op.node;
      r.state = op.state;
      r.iterations = op.iteration;
      r.notification_ids = op.notification_ids;
      r.stop_reason = "crashed";
      r.error = reason;
      r.restarts = op.crashes - 1;
      op.result = std::move(r);
      maybe_wake();
      return;
    }
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
    crashed(*op, "not restarted within 5 s");
  }

  void on_caller_down(const caf::down_msg& dm) {
    auto drop = [&](std::vector<waiter>& ws) {
      ws.erase(std::remove_if(ws.begin(), ws.end(),
                              [&](auto& w) { return w.caller == dm.source; }),
               ws.end());
    };
    for (auto i = s_.queue.begin(); i != s_.queue.end();) {
      drop(i->waiters);
      if (i->has_callers && i->waiters.empty())
        i = s_.queue.erase(i);
      else
        ++i;
    }
    if (s_.cur) {
      drop(s_.cur->entry.waiters);
      if (s_.cur->entry.has_callers && s_.cur->entry.waiters.empty())
        finish("caller_down", {});
    }
  }

  // -- tools ------------------------------------------------------------------

  /// The coordinator's tools: each definition (tools.cpp) with its handler.
  static tool_table make_tools(coordinator_ptr self,
                               const std::vector<std::string>& skills) {
    auto defs = coordinator_tools(skills);
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
                                a.value("message", std::string{}));
    });
    on("get_operator_statuses", [](coordinator_loop& c, const json&) {
      return c.operator_statuses();
    });
    on("produce_insight", [](coordinator_loop& c, const json& a) {
      return c.produce_insight(a);
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
    if (!any_running())
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
    std::vector<std::string> running;
    for (auto& [id, op] : cur.ops)
      if (op.running)
        running.push_back(op.skill);
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
    json all = json::array();
    for (auto& n : s_.cur->notes) {
      if (status != "all" && n.status != status)
        continue;
      auto j = to_json(n);
      j.erase("trace_id");
      all.push_back(std::move(j));
    }
    emit_co(s_.cur->entry.trace_id, "get_notifications",
            {{"status", status},
             {"count", static_cast<int64_t>(all.size())}});
    if (limit <= 0 && offset <= 0)
      return tool_outcome::structured(std::move(all));
    // A page: whole notifications, with how many are left.
    auto total = static_cast<int64_t>(all.size());
    auto first = std::min(std::max<int64_t>(offset, 0), total);
    auto last = limit > 0 ? std::min(total, first + limit) : total;
    json page = json::array();
    for (auto i = first; i < last; ++i)
      page.push_back(std::move(all[static_cast<size_t>(i)]));
    return tool_outcome::structured(json{{"items", std::move(page)},
                                 {"total", total},
                                 {"offset", first},
                                 {"more", total - last}});
  }

  notification* find_note(const std::string& id) {
    for (auto& n : s_.cur->notes)
      if (n.id == id)
        return &n;
    return nullptr;
  }

  std::vector<std::string> unknown_notes(const json& ids) {
    std::vector<std::string> unknown;
    for (auto& id : ids)
      if (!id.is_string() || find_note(id.get<std::string>()) == nullptr)
        unknown.push_back(id.is_string() ? id.get<std::string>() : id.dump());
    return unknown;
  }

  tool_outcome update_statuses(const json& args) {
    auto ids = args.value("notification_ids", json::array());
    auto status = args.value("status", std::string{});
    if (auto unknown = unknown_notes(ids); !unknown.empty())
      return tool_outcome::error("unknown notification ids: " + join(unknown));
    std::vector<std::string> names;
    for (auto& id : ids) {
      find_note(id.get<std::string>())->status = status;
      names.push_back(id.get<std::string>());
    }
    emit_co(s_.cur->entry.trace_id, "update_notification_statuses",
            {{"notification_ids", join(names)}, {"status", status}});
    return tool_outcome::ok(
      json{{"updated", names.size()}, {"status", status}}.dump());
  }

  tool_outcome invoke_operators(const json& args) {
    auto& cur = *s_.cur;
    auto& node = s_.eng->node();
    std::vector<std::string> nodes;
    for (auto& n : args.value("nodes", json::array()))
      if (n.is_string()) {
        if (n.get<std::string>() != node)
          return tool_outcome::error(
            "node '" + n.get<std::string>() + "' is not connected: this "
            "lens runs on '" + node + "' and has no remote nodes");
        nodes.push_back(n.get<std::string>());
      }
    std::string context;
    if (auto i = args.find("context"); i != args.end() && !i->is_null())
      context = i->is_string() ? i->get<std::string>() : i->dump();
    if (context.empty())
      context = cur.entry.req.options.context;
    std::vector<std::string> started, running;
    for (auto& sk : args.value("skills", json::array())) {
      auto skill = sk.get<std::string>();
      if (std::find(cur.allowed_skills.begin(), cur.allowed_skills.end(),
                    skill)
          == cur.allowed_skills.end())
        return tool_outcome::error("skill '" + skill
                                   + "' is not available; available: "
                                   + join(cur.allowed_skills));
      bool busy = false;
      for (auto& [id, op] : cur.ops)
        if (op.skill == skill && op.running)
          busy = true;
      if (busy) {
        running.push_back(skill);
        continue;
      }
      start_operator(skill, context);
      started.push_back(skill);
    }
    emit_co(cur.entry.trace_id, "invoke_operators",
            {{"skills", join(started)},
             {"nodes", nodes.empty() ? node : join(nodes)}});
    return tool_outcome::ok(
      json{{"started", started}, {"already_running", running}}.dump());
  }

  void start_operator(const std::string& skill, const std::string& context) {
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
    op_entry op;
    op.run_id = spec.run_id;
    op.skill = skill;
    op.node = s_.eng->node();
    cur.ops.emplace(op.run_id, std::move(op));
    auto sup = s_.eng->operator_sup();
    if (!sup) {
      // Without a supervisor (tests of the bare coordinator).
      auto h = spawn_operator(self_->system(), s_.eng, std::move(spec));
      (void) h;
      return;
    }
    auto run_id = spec.run_id;
    auto seq = cur.seq;
    self_
      ->request(sup, std::chrono::seconds{10},
                supervision::start_dynamic_child{caf::make_message(spec)})
      .then([](const caf::actor&) {},
            [this, run_id, seq](caf::error& err) {
              if (!s_.cur || s_.cur->seq != seq)
                return;
              auto* op = find_op(run_id);
              if (op == nullptr || !op->running)
                return;
              op->running = false;
              operator_result r;
              r.skill = op->skill;
              r.node = op->node;
              r.stop_reason = "start_failed";
              r.error = render_error(err);
              op->result = r;
              s_.cur->errors.push_back("operator " + op->skill
                                       + " failed to start: " + r.error);
              maybe_wake();
            });
  }

  tool_outcome message_operator(const std::string& skill,
                                const std::string& text) {
    for (auto& [id, op] : s_.cur->ops)
      if (op.skill == skill && op.running) {
        emit_co(s_.cur->entry.trace_id, "message_operator",
                {{"skill", skill}});
        if (!op.handle) {
          // Still starting: delivered once it announces itself.
          op.pending.push_back(text);
          return tool_outcome::ok(R"({"delivered":false,"queued":true})");
        }
        self_->send(caf::actor_cast<operator_actor>(op.handle),
                    operator_message{text});
        return tool_outcome::ok(R"({"delivered":true})");
      }
    return tool_outcome::error("no running operator for skill '" + skill
                               + "'");
  }

  tool_outcome operator_statuses() {
    json xs = json::array();
    for (auto& [id, op] : s_.cur->ops) {
      xs.push_back(
        {{"skill", op.skill},
         {"node", op.node},
         {"running", op.running},
         {"state", std::string{to_string(op.state)}},
         {"iteration", op.iteration},
         {"notifications", op.notification_ids.size()},
         {"crashes", op.crashes},
         {"stop_reason", op.result ? op.result->stop_reason : ""}});
      // What a finished operator concluded, in its own words.
      if (op.result) {
        xs.back()["summary"] = op.result->summary;
        if (!op.result->error.empty())
          xs.back()["error"] = op.result->error;
      }
    }
    emit_co(s_.cur->entry.trace_id, "get_operator_statuses");
    return tool_outcome::structured(std::move(xs));
  }

  /// What `name` is: the skills that named it in the cited notifications
  /// (a metric's series, a log source), else the process table (a live
  /// actor or supervisor, with its id), else the notifications' context.
  culprit resolve_culprit(const std::string& name, const json& ids) {
    culprit c;
    c.name = name;
    c.node = s_.eng->node();
    std::set<std::string> skills;
    bool named_supervisor = false;
    for (auto& id : ids) {
      auto* n = find_note(id.get<std::string>());
      if (n == nullptr)
        continue;
      if (std::find(n->actors.begin(), n->actors.end(), name)
          != n->actors.end())
        skills.insert(n->skill);
      auto ctx = json::parse(n->context, nullptr, false);
      if (ctx.is_object() && ctx.value("supervisor", std::string{}) == name)
        named_supervisor = true;
      if (!n->node.empty() && n->node == name)
        c.kind = "node";
    }
    if (c.kind == "node")
      return c;
    if (!skills.empty()
        && std::all_of(skills.begin(), skills.end(),
                       [](auto& x) { return x == "telemetry"; })) {
      c.kind = "metric_series";
      return c;
    }
    if (!skills.empty()
        && std::all_of(skills.begin(), skills.end(),
                       [](auto& x) { return x == "logs"; })) {
      c.kind = "log_source";
      return c;
    }
    if (auto a = s_.eng->processes().find(name)) {
      c.kind = a->kind == "supervisor" || named_supervisor ? "supervisor"
                                                           : "actor";
      c.id = a->id;
      return c;
    }
    if (named_supervisor)
      c.kind = "supervisor";
    else if (!skills.empty())
      c.kind = "actor"; // named by an operator, no longer alive
    return c;
  }

  tool_outcome produce_insight(const json& args) {
    auto& cur = *s_.cur;
    auto ids = args.value("notification_ids", json::array());
    if (auto unknown = unknown_notes(ids); !unknown.empty())
      return tool_outcome::error("unknown notification ids: " + join(unknown)
                                 + " (see get_notifications)");
    insight x;
    x.id = s_.eng->next_id("i");
    x.pattern = args.value("pattern", std::string{});
    if (x.pattern.empty())
      return tool_outcome::error("pattern must not be empty");
    for (auto& c : args.value("culprits", json::array()))
      if (c.is_string())
        x.culprits.push_back(c.get<std::string>());
    // A culprit must come from the evidence: named by a cited notification
    // (its actors, observation, context or node).
    std::vector<std::string> uncited;
    for (auto& name : x.culprits) {
      bool named = false;
      for (auto& id : ids) {
        auto* n = find_note(id.get<std::string>());
        if (std::find(n->actors.begin(), n->actors.end(), name)
              != n->actors.end()
            || n->observation.find(name) != std::string::npos
            || n->context.find(name) != std::string::npos || n->node == name)
          named = true;
      }
      if (!named)
        uncited.push_back(name);
    }
    if (!uncited.empty())
      return tool_outcome::error(
        "culprits not named by any cited notification: " + join(uncited)
        + "; cite the notifications that name them (get_notifications) or "
          "leave them out");
    std::set<std::string> skills;
    auto worst = severity::info;
    for (auto& id : ids) {
      auto* n = find_note(id.get<std::string>());
      x.notification_ids.push_back(n->id);
      skills.insert(evidence_source(*n));
      worst = std::max(worst, n->severity);
    }
    parse_correlation(args.value("correlation", std::string{"temporal"}),
                      x.correlation);
    x.summary = args.value("summary", std::string{});
    for (auto& o : args.value("matched_observations", json::array()))
      if (o.is_string())
        x.matched_observations.push_back(o.get<std::string>());
    for (auto& name : x.culprits)
      x.culprit_details.push_back(resolve_culprit(name, ids));
    bool claimed = args.value("grounded", false);
    x.grounded = claimed && skills.size() >= 2;
    x.root_cause = args.value("root_cause", std::string{});
    x.confidence = args.value("confidence", std::string{"medium"});
    x.severity = worst;
    if (auto i = args.find("severity"); i != args.end() && i->is_string())
      parse_severity(i->get<std::string>(), x.severity);
    x.created_at = unix_ms();
    x.trace_id = cur.entry.trace_id;
    json reply{{"insight_id", x.id}, {"grounded", x.grounded}};
    if (claimed && !x.grounded)
      reply["note"] = "grounded set to false: its notifications come from "
                      "one data source only";
    emit_co(cur.entry.trace_id, "insight_produced", {{"insight", x.id}});
    cur.insights.push_back(std::move(x));
    return tool_outcome::ok(reply.dump());
  }

  // -- always-on --------------------------------------------------------------

  void on_scheduled(scheduled_check& msg) {
    auto& cfg = s_.eng->cfg();
    if (msg.trigger == "anomaly_poll") {
      self_->delayed_send(self_, cfg.anomaly_interval, msg);
      poll_anomalies();
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

  void poll_anomalies() {
    auto& det = *s_.eng->anomaly();
    std::vector<skills::anomaly> found;
    for (auto& sk : s_.eng->skills()) {
      if (sk->name() == "anomaly" || sk->name() == "supervision")
        continue;
      try {
        auto xs = det.observe(sk->name(), sk->snapshot());
        found.insert(found.end(), xs.begin(), xs.end());
      } catch (const std::exception&) {
        // A failing snapshot is not an anomaly of the application.
      }
    }
    if (found.empty() || s_.cur || !s_.eng->admit_trigger())
      return;
    auto& a = found.front();
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "anomaly: %s.%s = %.6g (baseline %.6g, z = %.1f)",
                  a.skill.c_str(), a.field.c_str(), a.value, a.mean, a.z);
    automatic(buf, "anomaly");
  }

  std::string status() const {
    json j{{"node", s_.eng->node()}, {"brain", s_.eng->brain_kind()}};
    if (s_.cur) {
      json ops = json::array();
      for (auto& [id, op] : s_.cur->ops)
        ops.push_back({{"skill", op.skill},
                       {"running", op.running},
                       {"state", std::string{to_string(op.state)}},
                       {"iteration", op.iteration}});
      j["running"] = {{"trace_id", s_.cur->entry.trace_id},
                      {"reason", s_.cur->entry.req.reason},
                      {"iteration", s_.cur->loop.iteration},
                      {"notifications", s_.cur->notes.size()},
                      {"insights", s_.cur->insights.size()},
                      {"operators", ops}};
    } else {
      j["running"] = nullptr;
    }
    json q = json::array();
    for (auto& e : s_.queue)
      q.push_back({{"trace_id", e.trace_id}, {"reason", e.req.reason}});
    j["queue"] = q;
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
  if (cfg.check_interval.count() > 0)
    self->delayed_send(self, cfg.check_interval,
                       scheduled_check{cfg.check_reason, "schedule", true});
  if (cfg.anomaly_trigger)
    self->delayed_send(self, cfg.anomaly_interval,
                       scheduled_check{"", "anomaly_poll", true});
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
    [self](alert_request& req) {
      if (!self->state.eng->admit_trigger())
        return false;
      coordinator_loop{self}.automatic("alert " + req.name
                                         + (req.details.empty()
                                              ? std::string{}
                                              : ": " + req.details),
                                       "alert");
      return true;
    },
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
  };
}

} // namespace

coordinator_actor spawn_coordinator(caf::actor_system& sys,
                                    std::shared_ptr<engine> eng) {
  if (eng->blocking_brain())
    return sys.spawn<caf::detached>(coordinator_impl, std::move(eng));
  return sys.spawn(coordinator_impl, std::move(eng));
}

} // namespace caflens::actors
