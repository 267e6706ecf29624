#include "engine.hpp"
#include "loop.hpp"

#include <algorithm>
#include <chrono>

#include <unistd.h>

#include "caf/actor_cast.hpp"
#include "caf/send.hpp"
#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"

#include "caflens/actors/rule_brain.hpp"
#include "caflens/llm/llm_brain.hpp"
#include "caflens/skills/builtin.hpp"
#include "caflens/skills/process_table.hpp"
#include "caflens/skills/tracer.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/telemetry/trace_id.hpp"
#include "caflens/llm/redactor.hpp"
#include "caf/message.hpp"

namespace caflens::actors {

using json = nlohmann::json;

int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0)
    return "localhost";
  return buf;
}

} // namespace

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

engine::engine(caf::actor_system& sys, config cfg)
  : sys_(&sys),
    cfg_(std::move(cfg)),
    node_(cfg_.node_name.empty() ? host_name() : cfg_.node_name),
    box_(cfg_.sandbox, node_) {
  logs_ = cfg_.logs ? cfg_.logs : std::make_shared<skills::log_buffer>();
  // Secrets never enter the buffer (validated by `start`).
  if (auto red = llm::redactor::make(cfg_.redaction)) {
    auto r = std::make_shared<const llm::redactor>(std::move(*red));
    logs_->filter([r](std::string line) { return r->redact(line); });
    redactor_ = std::move(r);
  } else {
    // `start` refuses such a config; the built-in rules at least.
    redactor_ = std::make_shared<const llm::redactor>();
  }
  // The store keeps every exchange of the configured clients (the
  // environment's or the application's registry), redacted with our rules
  // whatever the client's own were.
  if (cfg_.llm && cfg_.store
      && cfg_.store->llm_exchanges == store::llm_exchanges_mode::full) {
    exchange_observer_ = std::make_shared<const llm::exchange_observer>(
      [slot = store_, red = redactor_, node = node_](const llm::exchange& x) {
        auto st = slot->get();
        if (!st || x.trace_id.empty())
          return;
        auto doc = llm::to_json(x);
        red->redact(doc);
        doc["node"] = node;
        st->consume(store::llm_exchange_record(std::move(doc)));
      });
    cfg_.llm->observe(exchange_observer_);
  }
  metrics_ = cfg_.metrics ? cfg_.metrics
                          : std::make_shared<telemetry::metric_registry>();
  // Every change of an action: audited as a telemetry event and told to
  // the subscribers.
  actions_ = std::make_unique<action_book>(
    cfg_.actions, [this](const action_record& x) {
      auto what = to_string(x.status);
      emit("action", what == "executed" ? "executed" : what,
           {{"id", x.id},
            {"action", x.action},
            {"target", x.args},
            {"trace_id", x.trace_id},
            {"by", x.approved_by.empty() ? x.by : x.approved_by},
            {"reason", x.status == action_status::denied
                           || x.status == action_status::failed
                           || x.status == action_status::rejected
                         ? x.result
                         : x.reason}});
      publish(x);
    });
  anomaly_ = std::make_shared<skills::anomaly_detector>(cfg_.anomaly);
  processes_ = cfg_.processes != nullptr ? cfg_.processes
                                         : &skills::process_table::global();
  auto& table = *processes_;
  auto& t = cfg_.thresholds;
  if (cfg_.builtin_skills) {
    skills_.push_back(skills::make_actors_skill(table, t));
    skills_.push_back(skills::make_memory_skill(table, t));
    skills_.push_back(skills::make_scheduler_skill(table, t));
    skills_.push_back(skills::make_crashes_skill(table, t));
    skills_.push_back(
      skills::make_supervision_skill([this] { return trees(); }, t));
    skills_.push_back(skills::make_logs_skill(logs_, t));
    skills_.push_back(skills::make_telemetry_skill(*metrics_, t));
    skills_.push_back(skills::make_os_skill(t));
    skills_.push_back(skills::make_anomaly_skill(anomaly_));
    tracer_ = std::make_shared<skills::tracer>(table);
    skills_.push_back(skills::make_tracer_skill(tracer_));
    for (auto& s : skills_)
      s->limits(cfg_.skill_limits);
  }
  for (auto& s : cfg_.skills) {
    if (!s)
      continue;
    auto name = s->name();
    auto i = std::find_if(skills_.begin(), skills_.end(),
                          [&](auto& x) { return x->name() == name; });
    if (i != skills_.end())
      *i = s;
    else
      skills_.push_back(s);
  }
  // The rule brain learns each skill's finding types and keywords.
  for (auto& s : skills_)
    register_skill(*s);
}

engine::~engine() {
  if (cfg_.llm && exchange_observer_)
    cfg_.llm->unobserve(exchange_observer_);
}

std::string loop_label(const brain_request& req) {
  return req.role == "coordinator" ? std::string{"coordinator"}
                                   : "operator:" + req.skill;
}

skills::skill_ptr engine::find_skill(const std::string& name) const {
  for (auto& s : skills_)
    if (s->name() == name)
      return s;
  return nullptr;
}

std::vector<std::string> engine::skill_names() const {
  std::vector<std::string> xs;
  for (auto& s : skills_)
    xs.push_back(s->name());
  return xs;
}

std::unique_ptr<llm::brain> engine::make_brain(const brain_request& req) const {
  if (req.offline)
    return make_rule_brain(req, cfg_.rule);
  if (cfg_.brain)
    if (auto b = cfg_.brain(req))
      return b;
  // A plain-text answer arrives as done{answer}; the loop maps it to the
  // summary for every brain (loop_core::normalize_final_answer).
  if (cfg_.llm) {
    auto b = std::make_unique<llm::llm_brain>(cfg_.llm, cfg_.llm_brain);
    b->label(loop_label(req));
    return b;
  }
  return make_rule_brain(req, cfg_.rule);
}

void engine::record_decision(const std::string& trace_id,
                             const std::string& loop, std::string_view brain,
                             int64_t iteration,
                             const llm::tool_call& call) const {
  if (!cfg_.store
      || cfg_.store->llm_exchanges == store::llm_exchanges_mode::none)
    return;
  auto st = store();
  if (!st)
    return;
  // A model may write a secret it read into a call's arguments.
  st->consume(store::decision_record(trace_id, loop, node_, std::string{brain},
                                     iteration,
                                     redact_json(llm::to_json(call))));
}

std::string engine::brain_kind() const {
  if (cfg_.brain)
    return "custom";
  if (cfg_.llm)
    return "llm";
  return "rule";
}

std::shared_ptr<llm::budget>
engine::open_budget(const std::string& trace_id,
                    std::chrono::milliseconds deadline) {
  llm::budget_limits limits;
  limits.max_tokens = cfg_.max_tokens;
  limits.max_cost_usd = cfg_.max_cost_usd;
  // The brain gets the last tenth of the deadline to give its final answer.
  limits.time_limit = deadline * 9 / 10;
  // No call outlives the deadline.
  limits.hard_limit = deadline;
  auto b = std::make_shared<llm::budget>(limits);
  std::lock_guard<std::mutex> guard{mtx_};
  budgets_[trace_id] = b;
  return b;
}

std::shared_ptr<llm::budget>
engine::budget_of(const std::string& trace_id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = budgets_.find(trace_id);
  return i == budgets_.end() ? nullptr : i->second;
}

void engine::close_budget(const std::string& trace_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  // Calls still in flight for it (operators being cancelled) end now.
  if (auto i = budgets_.find(trace_id); i != budgets_.end()) {
    i->second->cancel();
    budgets_.erase(i);
  }
}

void engine::cancel_budgets() {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [trace, b] : budgets_)
    b->cancel();
}

std::string engine::next_id(const char* prefix) {
  return std::string{prefix} + "-" + std::to_string(++ids_);
}

void engine::set_root(caf::actor x) {
  std::lock_guard<std::mutex> guard{mtx_};
  root_ = x.address();
}

void engine::set_coordinator(coordinator_actor x) {
  std::lock_guard<std::mutex> guard{mtx_};
  coordinator_ = x.address();
}

void engine::set_operator_sup(caf::actor x) {
  std::lock_guard<std::mutex> guard{mtx_};
  operator_sup_ = x.address();
}

caf::actor engine::root() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<caf::actor>(root_);
}

coordinator_actor engine::coordinator() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<coordinator_actor>(coordinator_);
}

caf::actor engine::operator_sup() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<caf::actor>(operator_sup_);
}

// -- cluster ------------------------------------------------------------------

void engine::set_peer(const std::string& address, node_info info,
                      node_agent_actor agent, std::string session) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& e = peers_[address];
  e.info = std::move(info);
  e.agent = std::move(agent);
  e.session = std::move(session);
}

std::vector<node_info> engine::cluster() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<node_info> xs;
  for (auto& [addr, e] : peers_)
    xs.push_back(e.info);
  return xs;
}

std::vector<engine::peer_link> engine::connected() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<peer_link> xs;
  for (auto& [addr, e] : peers_)
    if (e.info.state == node_state::connected && e.agent)
      xs.push_back({e.info.name, e.agent, e.session});
  return xs;
}

std::optional<engine::peer_link>
engine::connected(const std::string& name) const {
  for (auto& x : connected())
    if (x.name == name)
      return x;
  return std::nullopt;
}

void engine::set_agent(caf::actor x) {
  std::lock_guard<std::mutex> guard{mtx_};
  agent_ = x.address();
}

caf::actor engine::agent() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<caf::actor>(agent_);
}

void engine::set_connector(caf::actor x) {
  std::lock_guard<std::mutex> guard{mtx_};
  connector_ = x.address();
}

caf::actor engine::connector() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<caf::actor>(connector_);
}

std::string engine::open_session(const std::string& peer) {
  auto id = telemetry::generate_trace_id();
  std::lock_guard<std::mutex> guard{mtx_};
  // A coordinator that reconnects gets a new session; the oldest are
  // forgotten past 256.
  sessions_.emplace_back(id, peer);
  if (sessions_.size() > 256)
    sessions_.pop_front();
  return id;
}

bool engine::valid_session(const std::string& id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  bool found = false;
  // Constant time in the ids' contents: every entry is compared in full.
  for (auto& [sid, peer] : sessions_)
    found |= constant_time_equal(sid, id);
  return found;
}

json engine::trees() const {
  std::vector<caf::actor> sups = cfg_.supervisors;
  if (auto r = root())
    sups.insert(sups.begin(), r);
  json out = json::array();
  caf::scoped_actor self{*sys_};
  for (auto& s : sups) {
    self->request(s, std::chrono::milliseconds{500}, supervision::get_tree{})
      .receive(
        [&](std::string& text) {
          auto j = json::parse(text, nullptr, false);
          if (!j.is_discarded())
            out.push_back(std::move(j));
        },
        [&](caf::error&) {
          // A supervisor that does not answer in time is left out.
        });
  }
  return out;
}

void engine::subscribe(const caf::actor_addr& who) {
  if (!who)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (std::find(subscribers_.begin(), subscribers_.end(), who)
      == subscribers_.end())
    subscribers_.push_back(who);
}

void engine::unsubscribe(const caf::actor_addr& who) {
  std::lock_guard<std::mutex> guard{mtx_};
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(),
                                 who),
                     subscribers_.end());
}

size_t engine::subscriber_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return subscribers_.size();
}

namespace {

template <class T>
void send_all(std::mutex& mtx, std::vector<caf::actor_addr>& subs,
              const T& x) {
  std::vector<caf::actor> live;
  {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto i = subs.begin(); i != subs.end();) {
      if (auto a = caf::actor_cast<caf::actor>(*i)) {
        live.push_back(std::move(a));
        ++i;
      } else {
        i = subs.erase(i);
      }
    }
  }
  for (auto& a : live)
    caf::anon_send(a, x);
}

} // namespace

void engine::publish(const action_record& x) {
  send_all(mtx_, subscribers_, x);
}

void engine::publish(const operator_report& x) {
  send_all(mtx_, subscribers_, x);
}

bool engine::admit_trigger() {
  auto now = unix_ms();
  std::lock_guard<std::mutex> guard{mtx_};
  if (last_trigger_ms_ != 0
      && now - last_trigger_ms_ < cfg_.min_trigger_interval.count())
    return false;
  while (!trigger_times_.empty() && now - trigger_times_.front() > 3'600'000)
    trigger_times_.pop_front();
  if (trigger_times_.size() >= cfg_.max_triggers_per_hour)
    return false;
  trigger_times_.push_back(now);
  last_trigger_ms_ = now;
  return true;
}

void subscribe_all(const std::shared_ptr<engine>& eng, const caf::actor& who) {
  if (!eng || !who)
    return;
  auto addr = who.address();
  eng->subscribe(addr);
  // It leaves when it terminates (a remote one: when its node is gone).
  std::weak_ptr<engine> weak = eng;
  who->attach_functor([weak, addr](const caf::error&) {
    if (auto e = weak.lock())
      e->unsubscribe(addr);
  });
  // The supervisors' own typed reports: the lens's root and the
  // application's supervisors (`config.supervisors`). They monitor it.
  if (auto r = eng->root())
    caf::anon_send(r, supervision::subscribe{who});
  for (auto& sup : eng->cfg().supervisors)
    if (sup)
      caf::anon_send(sup, supervision::subscribe{who});
}

void unsubscribe_all(engine& eng, const caf::actor& who) {
  if (!who)
    return;
  eng.unsubscribe(who.address());
  if (auto r = eng.root())
    caf::anon_send(r, supervision::unsubscribe{who});
  for (auto& sup : eng.cfg().supervisors)
    if (sup)
      caf::anon_send(sup, supervision::unsubscribe{who});
}

std::string engine::redact(std::string text) const {
  return redactor_ ? redactor_->redact(text) : text;
}

nlohmann::json engine::redact_json(nlohmann::json doc) const {
  if (redactor_)
    redactor_->redact(doc);
  return doc;
}

std::string engine::describe_unexpected(const caf::message& msg) const {
  constexpr size_t max_len = 200;
  auto text = to_string(msg);
  if (text.size() > max_len) {
    text.resize(max_len);
    text += "...";
  }
  return redact(std::move(text));
}

} // namespace caflens::actors
