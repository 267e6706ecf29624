#include "caflens/caflens.hpp"
#include "caflens/actors/type_ids.hpp"

#include <algorithm>
#include <cstdlib>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "actors_impl.hpp"
#include "cluster_impl.hpp"
#include "engine.hpp"

#include "caflens/skills/process_table.hpp"
#include "caflens/skills/supervision_tracking.hpp"
#include "caflens/supervision/observer.hpp"

#include "caflens/llm/client_registry.hpp"
#include "caflens/llm/llm_errc.hpp"
#include "caflens/sandbox/sandbox_errc.hpp"
#include "caflens/skills/skills_errc.hpp"
#include "caflens/store/store.hpp"
#include "caflens/sinks/file_sink.hpp"
#include "caflens/sinks/prometheus.hpp"
#include "caflens/sinks/statsd_sink.hpp"
#include "caflens/telemetry/bus.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/supervisor.hpp"
#include "caflens/telemetry/trace_id.hpp"

namespace caflens {

using actors::engine;

// -- configuration ------------------------------------------------------------

namespace {

caf::error bad(const std::string& key, const std::string& value,
               const std::string& expected) {
  return make_error(actors_errc::invalid_config,
                    "caflens." + key + " = " + value + ": " + expected);
}

std::string env(const char* name) {
  auto* x = std::getenv(name);
  return x != nullptr ? std::string{x} : std::string{};
}

template <class T>
void override_from(const caf::actor_system_config& sys_cfg, const char* key,
                   T& out) {
  if (auto x = caf::get_if<T>(&sys_cfg, std::string{"caflens."} + key))
    out = *x;
}

/// "a, b,c" as {"a", "b", "c"} (an environment variable's list).
std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> result;
  std::string cur;
  for (auto c : text + ",") {
    if (c == ',') {
      if (!cur.empty())
        result.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return result;
}

/// The config file / command line, then the environment.
caf::error merge(const caf::actor_system_config& sys_cfg, config& cfg) {
  override_from(sys_cfg, "node-name", cfg.node_name);
  // Redaction: code, then [caflens], then the environment, all added up.
  if (auto xs = caf::get_if<std::vector<std::string>>(&sys_cfg,
                                                      "caflens.redact-keys"))
    for (auto& x : *xs)
      cfg.redaction.keys.push_back(x);
  if (auto xs = caf::get_if<std::vector<std::string>>(
        &sys_cfg, "caflens.redact-patterns"))
    for (auto& x : *xs)
      cfg.redaction.patterns.push_back(x);
  {
    for (auto& key : comma_list(env("CAFLENS_REDACT_KEYS")))
      cfg.redaction.keys.push_back(key);
    if (auto p = env("CAFLENS_REDACT_PATTERN"); !p.empty())
      cfg.redaction.patterns.push_back(p);
  }
  auto red = llm::redactor::make(cfg.redaction);
  if (!red)
    return red.error();
  int64_t n = 0;
  auto int_opt = [&](const char* key, auto& out) {
    n = static_cast<int64_t>(out);
    override_from(sys_cfg, key, n);
    out = static_cast<std::decay_t<decltype(out)>>(n);
  };
  int_opt("max-iterations", cfg.max_iterations);
  int_opt("operator-max-iterations", cfg.operator_max_iterations);
  int_opt("max-queue", cfg.max_queue);
  int64_t ms = cfg.deadline.count();
  override_from(sys_cfg, "deadline-ms", ms);
  cfg.deadline = std::chrono::milliseconds{ms};
  ms = cfg.check_interval.count();
  override_from(sys_cfg, "check-interval-ms", ms);
  cfg.check_interval = std::chrono::milliseconds{ms};
  override_from(sys_cfg, "anomaly-trigger", cfg.anomaly_trigger);
  override_from(sys_cfg, "isolated", cfg.isolated);
  if (auto e = env("CAFLENS_ISOLATED"); !e.empty()) {
    if (e == "1" || e == "true")
      cfg.isolated = true;
    else if (e == "0" || e == "false")
      cfg.isolated = false;
    else
      return bad("isolated", e,
                 "CAFLENS_ISOLATED expects 1, 0, true or false");
  }
  // Remediation: the mode and the allow-list may come from the
  // configuration; what can run is registered by the code.
  {
    std::string mode;
    override_from(sys_cfg, "action-mode", mode);
    if (auto e = env("CAFLENS_ACTION_MODE"); !e.empty())
      mode = e;
    if (!mode.empty() && !parse_action_mode(mode, cfg.actions.mode))
      return bad("action-mode", mode,
                 "expected read_only, approve or autonomous");
    std::vector<std::string> allow;
    override_from(sys_cfg, "action-allow", allow);
    if (auto e = env("CAFLENS_ACTION_ALLOW"); !e.empty())
      allow = comma_list(e);
    if (!allow.empty())
      cfg.actions.allow = std::move(allow);
  }
  // Distribution: code, then [caflens], then the environment.
  {
    auto& cl = cfg.cluster;
    std::string listen;
    override_from(sys_cfg, "listen", listen);
    if (auto e = env("CAFLENS_LISTEN"); !e.empty())
      listen = e;
    if (!listen.empty()) {
      if (!parse_address(listen, cl.listen_host, cl.listen_port))
        return bad("listen", listen, "expected host:port (port 0: any)");
      cl.listen = true;
    }
    std::vector<std::string> peers;
    override_from(sys_cfg, "peers", peers);
    if (auto e = env("CAFLENS_PEERS"); !e.empty())
      peers = comma_list(e);
    for (auto& p : peers)
      if (std::find(cl.peers.begin(), cl.peers.end(), p) == cl.peers.end())
        cl.peers.push_back(p);
    override_from(sys_cfg, "cluster-tls", cl.tls);
    int64_t ms = cl.heartbeat_interval.count();
    override_from(sys_cfg, "heartbeat-interval-ms", ms);
    cl.heartbeat_interval = std::chrono::milliseconds{ms};
    ms = cl.heartbeat_timeout.count();
    override_from(sys_cfg, "heartbeat-timeout-ms", ms);
    cl.heartbeat_timeout = std::chrono::milliseconds{ms};
    if (cl.token.empty() && !cl.token_env.empty())
      cl.token = env(cl.token_env.c_str());
  }
  {
    std::string hook;
    override_from(sys_cfg, "alert-webhook", hook);
    if (!hook.empty()) {
      sinks::webhook_options wo;
      wo.url = hook;
      cfg.alerts.webhooks.push_back(wo);
    }
  }
  // The store: code, then [caflens], then the environment.
  {
    std::string path;
    override_from(sys_cfg, "store", path);
    if (auto e = env("CAFLENS_STORE"); !e.empty())
      path = e;
    if (!path.empty()) {
      if (!cfg.store)
        cfg.store = store::store_options{};
      cfg.store->path = path;
    }
    // What it keeps of the model conversation (none, decisions, full).
    std::string mode;
    override_from(sys_cfg, "store-llm-exchanges", mode);
    if (auto e = env("CAFLENS_STORE_LLM_EXCHANGES"); !e.empty())
      mode = e;
    if (!mode.empty()) {
      store::llm_exchanges_mode m;
      if (!store::parse_llm_exchanges_mode(mode, m))
        return bad("store-llm-exchanges", mode,
                   "expected none, decisions or full");
      if (cfg.store)
        cfg.store->llm_exchanges = m;
    }
  }
  // Telemetry out: code, then [caflens], then the environment.
  {
    auto& out = cfg.telemetry;
    auto file = [&](const char* key, const char* env_name,
                    sinks::file_format fmt, const char* name) {
      std::string path;
      override_from(sys_cfg, key, path);
      if (env_name != nullptr)
        if (auto e = env(env_name); !e.empty())
          path = e;
      if (path.empty())
        return;
      sinks::sink_options so;
      so.name = name;
      sinks::file_sink_options fo;
      fo.path = path;
      fo.format = fmt;
      out.sinks.push_back(sinks::file_sink_factory(so, fo));
    };
    file("events-file", "CAFLENS_EVENTS_FILE", sinks::file_format::jsonl,
         "events_file");
    // The default logger as a sink: caflens's events at or above a level
    // as text lines on stderr, written by an actor (never by the emitter).
    std::string level;
    override_from(sys_cfg, "log-level", level);
    if (auto e = env("CAFLENS_LOG_LEVEL"); !e.empty())
      level = e;
    if (!level.empty() && level != "off") {
      sinks::file_sink_options fo;
      fo.path = "-";
      fo.format = sinks::file_format::text;
      if (level == "debug")
        fo.min_level = telemetry::log_level::debug;
      else if (level == "info")
        fo.min_level = telemetry::log_level::info;
      else if (level == "warning")
        fo.min_level = telemetry::log_level::warning;
      else if (level == "error")
        fo.min_level = telemetry::log_level::error;
      else
        return bad("log-level", level,
                   "expected off, debug, info, warning or error");
      sinks::sink_options so;
      so.name = "log";
      out.sinks.push_back(sinks::file_sink_factory(so, fo));
    }
    file("log-file", nullptr, sinks::file_format::text, "log_file");
    file("csv-file", nullptr, sinks::file_format::csv, "csv_file");
    std::string statsd;
    override_from(sys_cfg, "statsd", statsd);
    if (auto e = env("CAFLENS_STATSD"); !e.empty())
      statsd = e;
    if (!statsd.empty()) {
      sinks::statsd_options so;
      if (!parse_address(statsd, so.host, so.port) || so.port == 0)
        return bad("statsd", statsd, "expected host:port");
      out.statsd = so;
    }
    std::string listen;
    override_from(sys_cfg, "prometheus-listen", listen);
    if (auto e = env("CAFLENS_PROMETHEUS_LISTEN"); !e.empty())
      listen = e;
    if (!listen.empty()) {
      sinks::prometheus_options po;
      if (!parse_address(listen, po.host, po.port))
        return bad("prometheus-listen", listen,
                   "expected host:port (port 0: any)");
      out.prometheus = po;
    }
    if (out.prometheus && out.prometheus->bearer_token.empty())
      out.prometheus->bearer_token = env("CAFLENS_PROMETHEUS_TOKEN");
    std::string otlp;
    override_from(sys_cfg, "otlp-endpoint", otlp);
    if (auto e = env("OTEL_EXPORTER_OTLP_ENDPOINT"); !e.empty())
      otlp = e;
    if (auto e = env("CAFLENS_OTLP_ENDPOINT"); !e.empty())
      otlp = e;
    if (!otlp.empty()) {
      if (otlp.rfind("http://", 0) != 0 && otlp.rfind("https://", 0) != 0)
        return bad("otlp-endpoint", otlp, "expected an http(s) URL");
      if (!out.otlp)
        out.otlp = sinks::otlp_options{};
      out.otlp->endpoint = otlp;
      if (!cfg.node_name.empty())
        out.otlp->service_instance = cfg.node_name;
    }
    std::string gateway;
    override_from(sys_cfg, "pushgateway", gateway);
    if (!gateway.empty()) {
      sinks::pushgateway_options po;
      po.url = gateway;
      po.job = "caflens";
      if (!cfg.node_name.empty())
        po.grouping = {{"instance", cfg.node_name}};
      out.pushgateway = po;
    }
  }
  // The brain: explicit code wins over ambient keys, CAFLENS_BRAIN=rule or
  // caflens.brain = "rule" forces the offline brain.
  std::string brain;
  override_from(sys_cfg, "brain", brain);
  if (auto e = env("CAFLENS_BRAIN"); !e.empty())
    brain = e;
  if (!brain.empty() && brain != "rule" && brain != "llm")
    return bad("brain", brain, "expected rule or llm");
  if (brain == "rule") {
    cfg.llm = nullptr;
    return {};
  }
  if (cfg.llm || cfg.brain)
    return {};
  std::string provider, base_url, model, key_env;
  override_from(sys_cfg, "llm-provider", provider);
  override_from(sys_cfg, "llm-base-url", base_url);
  override_from(sys_cfg, "llm-model", model);
  override_from(sys_cfg, "llm-api-key-env", key_env);
  if (auto e = env("CAFLENS_LLM_PROVIDER"); !e.empty())
    provider = e;
  if (auto e = env("CAFLENS_LLM_BASE_URL"); !e.empty())
    base_url = e;
  if (auto e = env("CAFLENS_LLM_MODEL"); !e.empty())
    model = e;
  if (auto e = env("CAFLENS_LLM_API_KEY_ENV"); !e.empty())
    key_env = e;
  bool anthropic_key = !env("ANTHROPIC_API_KEY").empty();
  bool openai_key = !env("OPENAI_API_KEY").empty();
  if (provider.empty()) {
    if (!base_url.empty())
      provider = anthropic_key && !openai_key ? "anthropic" : "openai";
    else if (anthropic_key)
      provider = "anthropic";
    else if (openai_key)
      provider = "openai";
  }
  if (provider.empty()) {
    if (brain == "llm")
      return bad("brain", brain,
                 "no LLM provider configured (set ANTHROPIC_API_KEY, "
                 "OPENAI_API_KEY or CAFLENS_LLM_BASE_URL)");
    return {};
  }
  auto kind = llm::parse_provider_kind(provider);
  if (!kind)
    return bad("llm-provider", provider,
               "expected anthropic, openai, ollama, vllm, llamacpp or "
               "openrouter");
  llm::client_config cc;
  cc.name = "env";
  cc.provider = *kind;
  if (*kind == llm::provider_kind::anthropic) {
    cc.base_url = base_url.empty() ? "https://api.anthropic.com" : base_url;
    cc.model = model.empty() ? "claude-sonnet-4-5" : model;
    if (key_env.empty() && anthropic_key)
      key_env = "ANTHROPIC_API_KEY";
  } else {
    cc.base_url = base_url.empty() ? "https://api.openai.com/v1" : base_url;
    cc.model = model.empty() ? "gpt-4o-mini" : model;
    if (key_env.empty() && openai_key)
      key_env = "OPENAI_API_KEY";
  }
  cc.api_key_env = key_env;
  // Local servers: the context window (sent to Ollama as num_ctx) and how
  // many calls they take at once.
  int64_t window = 0, concurrent = -1;
  override_from(sys_cfg, "llm-context-window", window);
  override_from(sys_cfg, "llm-max-concurrent", concurrent);
  auto int_env = [&](const char* name, int64_t& out) -> caf::error {
    auto e = env(name);
    if (e.empty())
      return {};
    char* end = nullptr;
    auto v = std::strtoll(e.c_str(), &end, 10);
    if (end == e.c_str() || *end != 0 || v < 0)
      return bad(name, e, "expected a non-negative integer");
    out = v;
    return {};
  };
  if (auto err = int_env("CAFLENS_LLM_CONTEXT_WINDOW", window))
    return err;
  if (auto err = int_env("CAFLENS_LLM_MAX_CONCURRENT", concurrent))
    return err;
  bool local = provider == "ollama" || provider == "llamacpp"
               || provider == "llama.cpp";
  if (window > 0) {
    cc.context_window = static_cast<int>(window);
    cc.send_num_ctx = provider == "ollama";
  }
  cc.max_concurrent = concurrent >= 0 ? static_cast<int>(concurrent)
                                      : (local ? 1 : 0);
  // Streamed replies: progress while a slow model writes, and a reply that
  // stops flowing detected after the stall timeout.
  bool stream = false;
  int64_t stall_ms = cc.stall_timeout.count();
  override_from(sys_cfg, "llm-stream", stream);
  override_from(sys_cfg, "llm-stall-timeout-ms", stall_ms);
  if (auto e = env("CAFLENS_LLM_STREAM"); !e.empty()) {
    if (e == "1" || e == "true" || e == "on")
      stream = true;
    else if (e == "0" || e == "false" || e == "off")
      stream = false;
    else
      return bad("CAFLENS_LLM_STREAM", e, "expected 1/true/on or 0/false/off");
  }
  if (auto err = int_env("CAFLENS_LLM_STALL_TIMEOUT_MS", stall_ms))
    return err;
  cc.stream = stream;
  cc.stall_timeout = std::chrono::milliseconds{stall_ms};
  if (auto err = cc.validate())
    return err;
  auto reg = std::make_shared<llm::client_registry>();
  llm::client_services svc;
  svc.redactor = std::make_shared<const llm::redactor>(std::move(*red));
  if (auto err = reg->add(cc, std::move(svc)))
    return err;
  cfg.llm = std::move(reg);
  return {};
}

} // namespace

namespace {

/// The children of `telemetry_sup`: one actor per configured sink and
/// exporter. Each one's first instance is made here, so that a file that
/// cannot be opened or a port in use fails `start`; restarts make new ones.
caf::expected<std::vector<supervision::child_spec>>
telemetry_children_impl(const std::shared_ptr<actors::engine>& eng) {
  using namespace caflens::supervision;
  auto& out = eng->cfg().telemetry;
  std::vector<child_spec> children;
  auto sink_child = [&](std::string id,
                        sinks::sink_factory make) -> caf::error {
    auto first = make();
    if (!first)
      return std::move(first.error());
    // Attached now: what caflens emits once `start` returns is queued even
    // before the sink's actor runs.
    if (auto err = sinks::attach_sink(*first, telemetry::bus::global()))
      return err;
    eng->sink_handlers.push_back("caflens.sink." + (*first)->name());
    auto pending = std::make_shared<sinks::sink_ptr>(std::move(*first));
    children.push_back(worker(
      std::move(id),
      [make, pending](caf::actor_system& sys,
                      const caf::message&) -> start_result {
        sinks::sink_actor_options opts;
        sinks::sink_ptr s = std::move(*pending);
        if (s) {
          opts.attached = true;
        } else {
          auto made = make();
          if (!made)
            return std::move(made.error());
          s = std::move(*made);
        }
        auto h = sinks::spawn_sink(sys, std::move(s),
                                   telemetry::bus::global(), opts);
        if (!h)
          return std::move(h.error());
        return *h;
      }));
    return {};
  };
  for (size_t i = 0; i < out.sinks.size(); ++i)
    if (auto err = sink_child("sink-" + std::to_string(i + 1), out.sinks[i]))
      return err;
  if (out.statsd) {
    auto opts = *out.statsd;
    if (opts.metrics.empty())
      for (auto& name : eng->metrics()->names())
        if (auto mv = eng->metrics()->collect(name))
          opts.metrics.push_back(mv->definition);
    sinks::sink_options so;
    so.name = "statsd";
    if (auto err = sink_child("statsd", sinks::statsd_sink_factory(so, opts)))
      return err;
  }
  if (auto& al = eng->cfg().alerts; !al.rules.empty()) {
    auto first = sinks::alert_engine::make(eng->metrics(), al.rules);
    if (!first)
      return std::move(first.error());
    children.push_back(worker(
      "alerts",
      [eng](caf::actor_system& sys, const caf::message&) -> start_result {
        auto& al = eng->cfg().alerts;
        auto ae = sinks::alert_engine::make(eng->metrics(), al.rules);
        if (!ae)
          return std::move(ae.error());
        for (auto& wo : al.webhooks) {
          auto [handler, hook] = sinks::spawn_webhook(sys, wo);
          (*ae)->add_handler(handler);
        }
        for (auto& h : al.handlers)
          if (h)
            (*ae)->add_handler(h);
        if (al.investigate) {
          std::weak_ptr<actors::engine> weak = eng;
          (*ae)->add_handler([weak](const sinks::alert_event& e) {
            if (!e.fired)
              return;
            if (auto eng = weak.lock())
              if (auto c = eng->coordinator())
                caf::anon_send(c, actors::alert_request{e.rule, e.condition(),
                                                        e.to_json().dump()});
          });
        }
        return sinks::spawn_alert_evaluator(sys, *ae, al.interval);
      }));
  }
  if (auto& st = eng->cfg().store) {
    auto opts = *st;
    // Events and results may carry what a brain wrote: the store keeps them
    // redacted like everything else it holds.
    store::store_sink::redact_fn redact
      = [red = eng->redactor()](nlohmann::json& x) { red->redact(x); };
    auto first = store::store_sink::open({}, opts, redact);
    if (!first)
      return std::move(first.error());
    if (auto err = sinks::attach_sink(*first, telemetry::bus::global()))
      return err;
    eng->sink_handlers.push_back("caflens.sink." + (*first)->name());
    eng->set_store(*first);
    auto pending
      = std::make_shared<std::shared_ptr<store::store_sink>>(std::move(*first));
    children.push_back(worker(
      "store",
      [eng, opts, redact, pending](caf::actor_system& sys,
                                   const caf::message&) -> start_result {
        sinks::sink_actor_options sao;
        std::shared_ptr<store::store_sink> s = std::move(*pending);
        if (s) {
          sao.attached = true;
        } else {
          auto made = store::store_sink::open({}, opts, redact);
          if (!made)
            return std::move(made.error());
          s = std::move(*made);
        }
        eng->set_store(s);
        auto h = sinks::spawn_sink(sys, s, telemetry::bus::global(), sao);
        if (!h)
          return std::move(h.error());
        return *h;
      }));
  }
  if (out.prometheus) {
    auto opts = *out.prometheus;
    auto first = sinks::prometheus_exporter::start(eng->metrics(), opts);
    if (!first)
      return std::move(first.error());
    eng->set_prometheus_port((*first)->port());
    auto pending = std::make_shared<std::shared_ptr<sinks::prometheus_exporter>>(
      std::move(*first));
    children.push_back(worker(
      "prometheus",
      [eng, opts, pending](caf::actor_system& sys,
                           const caf::message&) -> start_result {
        std::shared_ptr<sinks::prometheus_exporter> ex = std::move(*pending);
        if (!ex) {
          auto made = sinks::prometheus_exporter::start(eng->metrics(), opts);
          if (!made)
            return std::move(made.error());
          ex = std::move(*made);
          eng->set_prometheus_port(ex->port());
        }
        return sinks::spawn_prometheus_exporter(sys, std::move(ex));
      }));
  }
  if (out.otlp) {
    auto opts = *out.otlp;
    sinks::sink_options so;
    so.name = "otlp_traces";
    if (auto err = sink_child("otlp_traces",
                              sinks::otlp_trace_sink_factory(so, opts)))
      return err;
    children.push_back(worker(
      "otlp_metrics",
      [eng, opts](caf::actor_system& sys,
                  const caf::message&) -> start_result {
        auto h = sinks::spawn_otlp_metrics_pusher(sys, eng->metrics(), opts);
        if (!h)
          return std::move(h.error());
        return *h;
      }));
  }
  if (out.pushgateway) {
    auto opts = *out.pushgateway;
    children.push_back(worker(
      "pushgateway",
      [eng, opts](caf::actor_system& sys,
                  const caf::message&) -> start_result {
        auto h = sinks::spawn_pushgateway_pusher(sys, eng->metrics(), opts);
        if (!h)
          return std::move(h.error());
        return *h;
      }));
  }
  return children;
}

/// Detaches the sinks `start` attached when it fails after all.
void detach_started_sinks(actors::engine& eng) {
  for (auto& id : eng.sink_handlers)
    telemetry::bus::global().detach(id);
  eng.sink_handlers.clear();
}

caf::expected<std::vector<supervision::child_spec>>
telemetry_children(const std::shared_ptr<actors::engine>& eng) {
  auto result = telemetry_children_impl(eng);
  if (!result)
    detach_started_sinks(*eng);
  return result;
}

} // namespace

std::vector<telemetry::metric_definition> caflens_metrics() {
  using telemetry::metric_definition;
  std::vector<metric_definition> xs;
  auto add = [&](metric_definition d, std::string description) {
    d.description = std::move(description);
    xs.push_back(std::move(d));
  };
  telemetry::event_name inv_stop{"caflens", "investigation", "stop"};
  add(metric_definition::counter("caflens.investigations", inv_stop,
                                 {"partial"}),
      "Investigations finished (partial: cut short by a deadline, a budget "
      "or a lost node).");
  add(metric_definition::distribution("caflens.investigation.duration_ns",
                                      inv_stop, "duration"),
      "Investigation wall time in nanoseconds.");
  add(metric_definition::sum("caflens.notifications", inv_stop,
                             "notifications"),
      "Notifications reported by operators.");
  add(metric_definition::sum("caflens.insights", inv_stop, "insights"),
      "Insights produced by investigations.");
  telemetry::event_name llm_stop{"caflens", "llm", "stop"};
  add(metric_definition::sum("caflens.llm.input_tokens", llm_stop,
                             "input_tokens", {"provider", "model"}),
      "LLM input tokens.");
  add(metric_definition::sum("caflens.llm.output_tokens", llm_stop,
                             "output_tokens", {"provider", "model"}),
      "LLM output tokens.");
  add(metric_definition::sum("caflens.llm.cost_usd", llm_stop, "cost_usd",
                             {"provider", "model"}),
      "LLM cost in US dollars.");
  add(metric_definition::counter("caflens.supervisor.restarts",
                                 {"caflens", "supervisor", "child_restarted"},
                                 {"supervisor"}),
      "Children restarted by caflens supervisors.");
  add(metric_definition::sum("caflens.sink.dropped",
                             {"caflens", "sink", "dropped"}, "count",
                             {"sink", "reason"}),
      "Events a sink dropped (queue_full, export_failed).");
  return xs;
}

caf::error config::validate() const {
  auto num = [](auto x) { return std::to_string(x); };
  if (max_iterations < 1 || max_iterations > 1000)
    return bad("max-iterations", num(max_iterations), "expected 1..1000");
  if (operator_max_iterations < 1 || operator_max_iterations > 1000)
    return bad("operator-max-iterations", num(operator_max_iterations),
               "expected 1..1000");
  if (deadline.count() <= 0)
    return bad("deadline-ms", num(deadline.count()), "expected > 0");
  if (max_queue > 10'000)
    return bad("max-queue", num(max_queue), "expected 0..10000");
  if (operator_max_restarts < 0 || operator_max_restarts > 10)
    return bad("operator-max-restarts", num(operator_max_restarts),
               "expected 0..10");
  if (check_interval.count() < 0
      || (check_interval.count() > 0 && check_interval.count() < 100))
    return bad("check-interval-ms", num(check_interval.count()),
               "expected 0 (off) or >= 100");
  if (anomaly_trigger && anomaly_interval.count() < 100)
    return bad("anomaly-interval-ms", num(anomaly_interval.count()),
               "expected >= 100");
  if (min_trigger_interval.count() < 0)
    return bad("min-trigger-interval-ms", num(min_trigger_interval.count()),
               "expected >= 0");
  if (max_triggers_per_hour < 1)
    return bad("max-triggers-per-hour", num(max_triggers_per_hour),
               "expected >= 1");
  if (rule.sample_interval.count() < 0 || rule.sample_interval.count() > 60'000)
    return bad("rule.sample-interval-ms", num(rule.sample_interval.count()),
               "expected 0..60000");
  if (rule.max_recheck.count() < 0 || rule.max_recheck.count() > 60'000)
    return bad("rule.max-recheck-ms", num(rule.max_recheck.count()),
               "expected 0..60000");
  if (rule.operator_wait.count() < 1 || rule.operator_wait.count() > 60'000)
    return bad("rule.operator-wait-ms", num(rule.operator_wait.count()),
               "expected 1..60000");
  if (max_tool_result_bytes < 1024)
    return bad("max-tool-result-bytes", num(max_tool_result_bytes),
               "expected >= 1024");
  if (auto err = sandbox::validate(sandbox))
    return err;
  for (size_t i = 0; i < actions.registered.size(); ++i) {
    auto& d = actions.registered[i];
    if (d.name.empty() || !d.run)
      return bad("actions.registered", d.name.empty() ? "(no name)" : d.name,
                 "an action needs a name and a run function");
    for (size_t j = 0; j < i; ++j)
      if (actions.registered[j].name == d.name)
        return bad("actions.registered", d.name, "registered twice");
  }
  for (auto& name : actions.allow)
    if (std::none_of(actions.registered.begin(), actions.registered.end(),
                     [&](auto& d) { return d.name == name; }))
      return bad("action-allow", name,
                 "no such action is registered (register it in "
                 "config.actions.registered)");
  {
    auto& cl = cluster;
    for (auto& p : cl.peers) {
      std::string host;
      uint16_t port = 0;
      if (!parse_address(p, host, port) || port == 0)
        return bad("peers", p, "expected host:port with a port 1..65535");
    }
    if (cl.listen && cl.listen_host.empty())
      return bad("listen", ":" + num(cl.listen_port),
                 "expected a host (127.0.0.1 for loopback, 0.0.0.0 for all)");
    // Safety by default: beyond loopback, only with a cluster token.
    auto& h = cl.listen_host;
    bool loopback = h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
    if (cl.listen && !loopback && cl.token.empty())
      return bad("listen", h + ":" + num(cl.listen_port),
                 "a cluster token is required to listen beyond loopback "
                 "(config.cluster.token or CAFLENS_CLUSTER_TOKEN; and TLS, "
                 "cluster-tls, since the token travels in the handshake)");
    auto positive = [&](const char* key, std::chrono::milliseconds x)
      -> caf::error {
      if (x.count() < 1 || x.count() > 3'600'000)
        return bad(key, num(x.count()), "expected 1..3600000");
      return {};
    };
    if (auto err = positive("heartbeat-interval-ms", cl.heartbeat_interval))
      return err;
    if (auto err = positive("heartbeat-timeout-ms", cl.heartbeat_timeout))
      return err;
    if (cl.heartbeat_timeout < cl.heartbeat_interval)
      return bad("heartbeat-timeout-ms", num(cl.heartbeat_timeout.count()),
                 "expected >= heartbeat-interval-ms ("
                   + num(cl.heartbeat_interval.count()) + ")");
    if (auto err = positive("cluster.connect_timeout", cl.connect_timeout))
      return err;
    if (auto err = positive("cluster.reconnect_interval",
                            cl.reconnect_interval))
      return err;
    if (auto err = positive("cluster.request_timeout", cl.request_timeout))
      return err;
  }
  if (!builtin_skills && skills.empty())
    return bad("skills", "[]", "no skills: enable builtin_skills or add one");
  return {};
}

namespace {

// CAF 0.17 keeps the option set protected (applications subclass the
// config); a member pointer taken through a subclass reaches it on any
// config object.
struct options_access : caf::actor_system_config {
  static caf::config_option_set& of(caf::actor_system_config& cfg) {
    return cfg.*(&options_access::custom_options_);
  }
};

} // namespace

void add_config_options(caf::actor_system_config& cfg) {
  caf::config_option_adder{options_access::of(cfg), "caflens"}
    .add<std::string>("node-name", "node name in notifications")
    .add<int64_t>("max-iterations", "coordinator iterations (25)")
    .add<int64_t>("operator-max-iterations", "operator iterations (25)")
    .add<int64_t>("deadline-ms", "investigation deadline (300000)")
    .add<int64_t>("max-queue", "queued investigations (16)")
    .add<int64_t>("check-interval-ms", "periodic checks (0: off)")
    .add<bool>("anomaly-trigger", "investigate on anomalies")
    .add<bool>("isolated", "threads of its own for the lens (not starved "
                           "by a busy scheduler)")
    .add<std::string>("brain", "rule or llm")
    .add<std::string>("llm-provider", "anthropic, openai, ollama, ...")
    .add<std::string>("llm-base-url", "provider base URL")
    .add<std::string>("llm-model", "model name")
    .add<std::string>("llm-api-key-env", "NAME of the key's env variable")
    .add<std::vector<std::string>>("redact-keys",
                                   "JSON keys whose values are redacted")
    .add<std::vector<std::string>>("redact-patterns",
                                   "regular expressions to redact")
    .add<int64_t>("llm-context-window", "the model's context window (tokens)")
    .add<int64_t>("llm-max-concurrent",
                  "calls at once to the endpoint (ollama/llamacpp: 1)")
    .add<std::string>("action-mode", "read_only, approve or autonomous")
    .add<std::vector<std::string>>("action-allow",
                                   "actions that may run (allow-list)")
    .add<bool>("llm-stream", "streamed replies (progress, stall detection)")
    .add<std::string>("store", "SQLite file of past investigations")
    .add<std::string>("store-llm-exchanges",
                      "what the store keeps of model calls: none, decisions "
                      "(default) or full")
    .add<std::string>("alert-webhook", "POST fired alerts to this URL")
    .add<std::string>("events-file", "JSONL file of every caflens event")
    .add<std::string>("log-file", "text file of every caflens event")
    .add<std::string>("log-level",
                      "events on stderr: off, debug, info, warning, error")
    .add<std::string>("csv-file", "CSV file of every caflens event")
    .add<std::string>("statsd", "send the metrics to StatsD at host:port")
    .add<std::string>("prometheus-listen",
                      "serve /metrics on host:port (port 0: any)")
    .add<std::string>("pushgateway", "push the metrics to this URL")
    .add<std::string>("otlp-endpoint",
                      "OTLP/HTTP collector for metrics and traces")
    .add<std::string>("listen", "publish the node agent on host:port")
    .add<std::vector<std::string>>("peers", "node agents to connect to")
    .add<bool>("cluster-tls", "node links through CAF's OpenSSL module")
    .add<int64_t>("heartbeat-interval-ms", "ping connected nodes (500)")
    .add<int64_t>("heartbeat-timeout-ms",
                  "declare a silent node lost (2000)")
    .add<int64_t>("llm-stall-timeout-ms",
                  "silence before a streamed reply counts as stalled (60000)");
}

// -- start --------------------------------------------------------------------

caf::expected<config> configure(const caf::actor_system_config& sys_cfg,
                                config cfg) {
  if (auto err = merge(sys_cfg, cfg))
    return err;
  if (auto err = cfg.validate())
    return err;
  return cfg;
}

caf::expected<lens> start(caf::actor_system& sys, config code) {
  auto merged = configure(sys.config(), std::move(code));
  if (!merged)
    return std::move(merged.error());
  auto cfg = std::move(*merged);
  if (auto err = actors::check_modules(sys, cfg.cluster))
    return err;
  // Supervisors spawned from now on register their children in the global
  // process table (names, parents, exits stopped by the supervisor are no
  // crashes), unless the application installed an observer of its own. A
  // table of the application's (`config.processes`) may die before the
  // process: the application calls `track_supervised_children` for it.
  if (cfg.processes == nullptr && !supervision::default_child_observer())
    skills::track_supervised_children(skills::process_table::global());
  auto eng = std::make_shared<engine>(sys, std::move(cfg));
  // Exported telemetry includes caflens's own metrics.
  if (auto& out = eng->cfg().telemetry;
      out.builtin_metrics
      && (out.prometheus || out.statsd || out.pushgateway || out.otlp))
    for (auto& def : caflens_metrics())
      eng->metrics()->add(def); // already_exists: the application's own
  // The cluster view shows the configured peers from the start.
  for (auto& addr : eng->cfg().cluster.peers) {
    node_info info;
    info.address = addr;
    info.changed_at = actors::unix_ms();
    eng->set_peer(addr, info);
  }
  using namespace caflens::supervision;
  // operator_sup: one operator per skill per investigation.
  auto op_template = worker(
    "operator",
    [eng](caf::actor_system& sys, const caf::message& args) -> start_result {
      if (!args.match_elements<actors::operator_spec>())
        return caf::make_error(caf::sec::unexpected_message,
                               "operator_sup: expected an operator_spec");
      return actors::spawn_operator(sys, eng,
                                    args.get_as<actors::operator_spec>(0));
    },
    restart_type::transient);
  op_template.shutdown = shutdown_policy::brutal_kill();
  supervisor_flags op_flags;
  op_flags.name = "caflens.operator_sup";
  op_flags.detached = eng->cfg().isolated;
  op_flags.strategy = strategy::simple_one_for_one;
  op_flags.intensity = 20;
  op_flags.period = std::chrono::seconds{10};
  auto op_sup = supervisor_child("operator_sup", op_flags, {op_template});
  op_sup.start = [eng, inner = op_sup.start](caf::actor_system& sys,
                                             const caf::message& args) {
    auto res = inner(sys, args);
    if (res.actor())
      eng->set_operator_sup(res.actor());
    return res;
  };
  supervisor_flags tel_flags;
  tel_flags.name = "caflens.telemetry_sup";
  tel_flags.detached = eng->cfg().isolated;
  // Sinks talk to the outside world and are restarted as often as an
  // operator: a crashing exporter must not take the coordinator down with
  // it through the root (OTP's default, 1 restart in 5 s, did: found by
  // caflens-chaos).
  tel_flags.intensity = 20;
  tel_flags.period = std::chrono::seconds{10};
  auto tel_children = telemetry_children(eng);
  if (!tel_children)
    return std::move(tel_children.error());
  auto tel_sup = supervisor_child("telemetry_sup", tel_flags,
                                  std::move(*tel_children));
  auto coord = worker(
    "coordinator",
    [eng](caf::actor_system& sys, const caf::message&) -> start_result {
      auto h = actors::spawn_coordinator(sys, eng);
      eng->set_coordinator(h);
      return h;
    });
  supervisor_flags root_flags;
  root_flags.name = "caflens.lens_root";
  root_flags.detached = eng->cfg().isolated;
  root_flags.intensity = 3;
  root_flags.period = std::chrono::seconds{10};
  std::vector<child_spec> children{std::move(tel_sup), std::move(op_sup),
                                   std::move(coord)};
  // Distribution: the agent hosts operators for remote coordinators; the
  // connector links this lens to its peers.
  if (eng->cfg().cluster.listen)
    children.push_back(worker(
      "node_agent",
      [eng](caf::actor_system& sys, const caf::message&) -> start_result {
        auto h = actors::spawn_node_agent(sys, eng);
        if (!h)
          return std::move(h.error());
        return *h;
      }));
  children.push_back(worker(
    "cluster",
    [eng](caf::actor_system& sys, const caf::message&) -> start_result {
      auto h = actors::spawn_connector(sys, eng);
      if (!h)
        return std::move(h.error());
      return *h;
    }));
  auto root = spawn_supervisor(sys, root_flags, std::move(children));
  if (!root) {
    detach_started_sinks(*eng);
    return std::move(root.error());
  }
  eng->set_root(*root);
  return lens{std::move(eng), std::move(*root)};
}

// -- lens ---------------------------------------------------------------------

lens::lens(std::shared_ptr<actors::engine> eng, caf::actor root)
  : eng_(std::move(eng)), root_(std::move(root)) {
}

namespace {

caf::error unavailable() {
  return make_error(actors_errc::unavailable,
                    "the lens is stopped or its coordinator is down");
}

/// Returns once the root supervisor has started its children (it answers
/// `which_children` only then): right after `start` they may still be
/// starting.
/// False when the root gave no answer in time (alive but not running).
bool await_children(const actors::engine& eng) {
  auto root = eng.root();
  if (!root)
    return true;
  caf::scoped_actor self{eng.system()};
  bool answered = true;
  self->request(root, std::chrono::seconds{5}, supervision::which_children{})
    .receive([](std::vector<supervision::child_info>&) {},
             [&](caf::error& err) {
               answered = err != caf::sec::request_timeout;
             });
  return answered;
}

/// The lens's actors got no thread for 5 s.
caf::error starved() {
  return make_error(actors_errc::unavailable,
                    "the lens did not answer within 5 s: its actors get no "
                    "scheduler thread (every worker is kept busy by work "
                    "that actors on it make, which CAF runs before anything "
                    "sent from outside); start the lens with "
                    "caflens.isolated");
}

caf::error not_connected(const std::string& node) {
  return make_error(actors_errc::node_unreachable,
                    "node '" + node + "' is not connected");
}

/// `node` did not answer a request within `timeout`.
caf::error no_answer(const std::string& node,
                     std::chrono::milliseconds timeout) {
  return make_error(actors_errc::node_unreachable,
                    "node '" + node + "' did not answer within "
                      + std::to_string(timeout.count()) + " ms");
}

/// One request to the agent of the connected `node`, answered within
/// `timeout` (then `node_unreachable`, as when it is not connected).
/// `make(session)` builds the request.
template <class Reply, class Make>
caf::expected<Reply> ask_agent(actors::engine& eng, const std::string& node,
                               std::chrono::milliseconds timeout, Make make) {
  auto peer = eng.connected(node);
  if (!peer)
    return not_connected(node);
  caf::expected<Reply> result{unavailable()};
  caf::scoped_actor self{eng.system()};
  self->request(peer->agent, timeout, make(peer->session))
    .receive([&](Reply& x) { result = std::move(x); },
             [&](caf::error& err) {
               if (err == caf::sec::request_timeout)
                 result = no_answer(node, timeout);
               else
                 result = std::move(err);
             });
  return result;
}

/// The coordinator; right after `start` the root may still be starting its
/// children, so ask the root (it answers once they are up) and look again.
caf::expected<actors::coordinator_actor>
find_coordinator(const std::shared_ptr<actors::engine>& eng) {
  if (!eng)
    return unavailable();
  if (auto c = eng->coordinator())
    return c;
  if (!await_children(*eng))
    return starved();
  if (auto c = eng->coordinator())
    return c;
  return unavailable();
}

actors::coordinator_actor
coordinator_of(const std::shared_ptr<actors::engine>& eng) {
  auto c = find_coordinator(eng);
  return c ? *c : actors::coordinator_actor{};
}

} // namespace

caf::expected<investigation_result>
lens::investigate(std::string reason, investigate_options options,
                  std::optional<std::chrono::milliseconds> timeout) const {
  auto found = find_coordinator(eng_);
  if (!found)
    return std::move(found.error());
  auto coord = std::move(*found);
  auto deadline = options.deadline_ms > 0
                    ? std::chrono::milliseconds{options.deadline_ms}
                    : eng_->cfg().deadline;
  auto wait = timeout ? *timeout : 2 * deadline + std::chrono::seconds{5};
  caf::expected<investigation_result> result{unavailable()};
  caf::scoped_actor self{eng_->system()};
  self
    ->request(coord, wait,
              actors::investigate_request{std::move(reason),
                                          std::move(options)})
    .receive([&](investigation_result& r) { result = std::move(r); },
             [&](caf::error& err) {
               if (err == caf::sec::request_timeout)
                 result = make_error(actors_errc::timeout,
                                     "no result within "
                                       + std::to_string(wait.count())
                                       + " ms; the investigation is "
                                         "cancelled");
               else
                 result = std::move(err);
             });
  return result;
}

void lens::investigate_async(std::string reason, caf::actor reply_to,
                             investigate_options options) const {
  if (!reply_to)
    return;
  auto found = find_coordinator(eng_);
  if (!found) {
    caf::anon_send(reply_to, std::move(found.error()));
    return;
  }
  auto coord = std::move(*found);
  actors::investigate_request req{std::move(reason), std::move(options)};
  // The request goes in as an argument (CAF 0.17 dereferences a null
  // tuple for a function-based actor without arguments).
  eng_->system().spawn([coord, reply_to](caf::event_based_actor* self,
                                         actors::investigate_request req) {
    // The relay dies with the caller; the coordinator sees it and cancels.
    self->monitor(reply_to);
    self->set_down_handler([self](caf::down_msg&) { self->quit(); });
    self->request(coord, caf::infinite, std::move(req))
      .then(
        [self, reply_to](investigation_result& r) {
          self->send(reply_to, std::move(r));
          self->quit();
        },
        [self, reply_to](caf::error& err) {
          self->send(reply_to, std::move(err));
          self->quit();
        });
  }, std::move(req));
}

namespace {

template <class Request, class Result>
Result ask(const std::shared_ptr<actors::engine>& eng, Request req, Result fallback) {
  auto coord = coordinator_of(eng);
  if (!coord)
    return fallback;
  caf::scoped_actor self{eng->system()};
  Result out = fallback;
  self->request(coord, std::chrono::seconds{5}, std::move(req))
    .receive([&](Result& x) { out = std::move(x); }, [](caf::error&) {});
  return out;
}

} // namespace

bool lens::cancel(const std::string& trace_id) const {
  // A loop blocked in an LLM call hears the cancel at once (the transfer is
  // interrupted), then the coordinator answers the request.
  if (eng_) {
    if (trace_id.empty())
      eng_->cancel_budgets();
    else if (auto b = eng_->budget_of(trace_id))
      b->cancel();
  }
  return ask(eng_, actors::cancel_request{trace_id}, false);
}

bool lens::alert(std::string name, std::string details) const {
  return ask(eng_,
             actors::alert_request{std::move(name), std::move(details), {}},
             false);
}

std::string lens::status() const {
  return ask(eng_, actors::status_request{}, std::string{"{}"});
}

void lens::stop() const {
  if (!eng_)
    return;
  eng_->cancel_budgets();
  if (auto r = eng_->root())
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
}

void lens::subscribe(const caf::actor& who) const {
  if (eng_)
    actors::subscribe_all(eng_, who);
}

void lens::unsubscribe(const caf::actor& who) const {
  if (eng_)
    actors::unsubscribe_all(*eng_, who);
}

caf::error lens::subscribe(const std::string& node,
                           const caf::actor& who) const {
  return remote_subscription(node, who, true);
}

caf::error lens::unsubscribe(const std::string& node,
                             const caf::actor& who) const {
  return remote_subscription(node, who, false);
}

caf::error lens::remote_subscription(const std::string& node,
                                     const caf::actor& who, bool on) const {
  if (!eng_)
    return unavailable();
  if (!who)
    return make_error(actors_errc::invalid_request, "no subscriber");
  if (node == eng_->node()) {
    if (on)
      subscribe(who);
    else
      unsubscribe(who);
    return {};
  }
  auto peer = eng_->connected(node);
  if (!peer)
    return not_connected(node);
  caf::error result;
  caf::scoped_actor self{eng_->system()};
  auto timeout = eng_->cfg().cluster.request_timeout;
  self
    ->request(peer->agent, timeout,
              actors::remote_subscribe{peer->session, who, on,
                                       make_traceparent(
                                         telemetry::generate_trace_id())})
    .receive([](bool) {},
             [&](caf::error& err) {
               result = err == caf::sec::request_timeout
                          ? no_answer(node, timeout)
                          : std::move(err);
             });
  return result;
}

caf::expected<action_record>
lens::approve_action(const std::string& id, const std::string& who) const {
  if (!eng_)
    return make_error(actors_errc::unavailable, "the lens is not started");
  return eng_->actions().approve(id, who);
}

caf::expected<action_record> lens::reject_action(const std::string& id,
                                                 const std::string& who,
                                                 const std::string& why) const {
  if (!eng_)
    return make_error(actors_errc::unavailable, "the lens is not started");
  return eng_->actions().reject(id, who, why);
}

std::vector<action_record> lens::actions() const {
  return eng_ ? eng_->actions().records() : std::vector<action_record>{};
}

size_t lens::subscriber_count() const {
  return eng_ ? eng_->subscriber_count() : 0;
}

uint16_t lens::node_port() const {
  if (!eng_ || !eng_->cfg().cluster.listen)
    return 0;
  if (auto port = eng_->node_port())
    return port;
  await_children(*eng_);
  return eng_->node_port();
}

namespace {

caf::expected<std::shared_ptr<store::database>>
store_of(const std::shared_ptr<actors::engine>& eng) {
  if (!eng || !eng->cfg().store)
    return make_error(actors_errc::unavailable,
                      "no store is configured (config.store, [caflens] "
                      "store, CAFLENS_STORE)");
  auto st = eng->store();
  if (!st) {
    await_children(*eng);
    st = eng->store();
  }
  auto db = st ? st->db() : nullptr;
  if (!db) // between a writer's crash and its restart
    return unavailable();
  return db;
}

} // namespace

caf::expected<std::vector<store::investigation_row>>
lens::history(const store::query& q) const {
  auto db = store_of(eng_);
  if (!db)
    return std::move(db.error());
  return (*db)->investigations(q);
}

caf::expected<store::investigation_detail>
lens::stored(const std::string& trace_id) const {
  auto db = store_of(eng_);
  if (!db)
    return std::move(db.error());
  return (*db)->investigation(trace_id);
}

caf::error lens::flush_telemetry(std::chrono::milliseconds timeout) const {
  if (!eng_ || !eng_->root())
    return unavailable();
  caf::scoped_actor self{eng_->system()};
  auto children = [&](const caf::actor& sup)
    -> caf::expected<std::vector<supervision::child_info>> {
    caf::expected<std::vector<supervision::child_info>> result{
      std::vector<supervision::child_info>{}};
    self->request(sup, timeout, supervision::which_children{})
      .receive([&](std::vector<supervision::child_info>& xs) {
                 result = std::move(xs);
               },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  auto top = children(eng_->root());
  if (!top)
    return std::move(top.error());
  caf::actor tel;
  for (auto& c : *top)
    if (c.id == "telemetry_sup")
      tel = c.actor;
  if (!tel)
    return unavailable();
  auto sinks = children(tel);
  if (!sinks)
    return std::move(sinks.error());
  caf::error first;
  for (auto& c : *sinks) {
    // The Prometheus exporter is pulled: nothing to flush.
    if (!c.actor || c.id == "prometheus")
      continue;
    self->request(c.actor, timeout, caf::flush_atom::value)
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) {
                 if (!first)
                   first = make_error(actors_errc::unavailable,
                                      "telemetry child '" + c.id
                                        + "': " + render_error(err));
               });
  }
  return first;
}

uint16_t lens::prometheus_port() const {
  if (!eng_ || !eng_->cfg().telemetry.prometheus)
    return 0;
  if (auto port = eng_->prometheus_port())
    return port;
  await_children(*eng_);
  return eng_->prometheus_port();
}

std::string lens::redact(std::string text) const {
  return eng_ ? eng_->redact(std::move(text)) : text;
}

nlohmann::json lens::redact(nlohmann::json doc) const {
  return eng_ ? eng_->redact_json(std::move(doc)) : doc;
}

std::string lens::node() const {
  return eng_ ? eng_->node() : std::string{};
}

std::vector<node_info> lens::cluster() const {
  return eng_ ? eng_->cluster() : std::vector<node_info>{};
}

void lens::connect(const std::string& address) const {
  if (!eng_)
    return;
  if (!eng_->connector())
    await_children(*eng_);
  if (auto c = eng_->connector()) {
    caf::anon_send(c, actors::connect_peer{address});
    return;
  }
  node_info info;
  info.address = address;
  info.state = node_state::unreachable;
  info.error = "the lens is stopped";
  info.changed_at = actors::unix_ms();
  eng_->set_peer(address, info);
}

caf::expected<snapshot> lens::snapshot_of(const std::string& node,
                                          const std::string& skill) const {
  if (!eng_)
    return unavailable();
  if (node == eng_->node())
    return actors::take_snapshot(*eng_, skill);
  return ask_agent<snapshot>(
    *eng_, node, eng_->cfg().cluster.request_timeout,
    [&](const std::string& session) {
      return actors::remote_snapshot{
        session, skill, make_traceparent(telemetry::generate_trace_id())};
    });
}

caf::expected<sandbox::execute_result>
lens::execute(const std::string& node, const std::string& code) const {
  if (!eng_)
    return unavailable();
  auto trace = telemetry::generate_trace_id();
  if (node.empty() || node == eng_->node())
    return actors::run_lua(*eng_, code, trace);
  auto text = ask_agent<std::string>(
    *eng_, node,
    eng_->cfg().cluster.request_timeout + eng_->box().limits().max_wall_time,
    [&](const std::string& session) {
      return actors::remote_execute{session, code, make_traceparent(trace)};
    });
  if (!text)
    return std::move(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(actors_errc::invalid_request,
                      "node '" + node
                        + "' answered execute with no JSON object");
  return actors::execute_result_from(j);
}

caf::expected<message_profile>
lens::profile(const std::string& kind, const std::string& pattern,
              std::chrono::milliseconds duration) const {
  if (!eng_)
    return unavailable();
  if (kind.empty())
    return make_error(actors_errc::invalid_request,
                      "profile: name the actor kind to trace");
  if (duration < std::chrono::milliseconds{100}
      || duration > std::chrono::seconds{60})
    return make_error(actors_errc::invalid_request,
                      "profile: duration " + std::to_string(duration.count())
                        + " ms, expected 100..60000 (the tracer's limit)");
  auto& cl = eng_->cfg().cluster;
  auto peers = eng_->connected();
  actors::remote_profile req{{}, kind, pattern, duration.count(),
                             make_traceparent(telemetry::generate_trace_id())};
  caf::scoped_actor self{eng_->system()};
  auto wait = duration + cl.request_timeout;
  std::vector<node_profile> nodes;
  std::vector<std::string> errs;
  // Every node traces at once; the answers are collected in order.
  std::vector<std::pair<std::string, caf::actor>> asked;
  if (cl.local_operators || peers.empty()) {
    auto p = actors::spawn_profiler(eng_->system(), eng_);
    self->send(p, req);
    asked.emplace_back(eng_->node(), p);
  }
  for (auto& peer : peers) {
    auto r = req;
    r.session = peer.session;
    self->send(peer.agent, std::move(r));
    asked.emplace_back(peer.name, caf::actor_cast<caf::actor>(peer.agent));
  }
  auto until = std::chrono::steady_clock::now() + wait;
  for (size_t i = 0; i < asked.size(); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    bool got = false;
    self->receive(
      [&](node_profile& p) {
        nodes.push_back(std::move(p));
        got = true;
      },
      [&](caf::error& err) {
        errs.push_back(render_error(err));
        got = true;
      },
      caf::after(std::max(left, std::chrono::milliseconds{1})) >> [] {});
    if (!got)
      break;
  }
  // Nodes that did not answer are listed with that.
  for (auto& entry : asked) {
    // Not a structured binding: clang 14 cannot capture one.
    const auto& name = entry.first;
    if (std::none_of(nodes.begin(), nodes.end(),
                     [&](const node_profile& p) { return p.node == name; })) {
      node_profile p;
      p.node = name;
      p.kind = kind;
      p.pattern = pattern;
      if (!errs.empty()) {
        p.error = errs.back();
        errs.pop_back();
      } else {
        p.error = "no answer within " + std::to_string(wait.count()) + " ms";
      }
      nodes.push_back(std::move(p));
    }
  }
  std::sort(nodes.begin(), nodes.end(),
            [](auto& x, auto& y) { return x.node < y.node; });
  return actors::merge_profiles(kind, pattern, std::move(nodes));
}

caf::actor lens::root() const {
  return eng_ ? eng_->root() : caf::actor{};
}

actors::coordinator_actor lens::coordinator() const {
  return eng_ ? eng_->coordinator() : actors::coordinator_actor{};
}

caf::actor lens::operator_supervisor() const {
  return eng_ ? eng_->operator_sup() : caf::actor{};
}

std::shared_ptr<skills::log_buffer> lens::logs() const {
  return eng_ ? eng_->logs() : nullptr;
}

std::shared_ptr<telemetry::metric_registry> lens::metrics() const {
  return eng_ ? eng_->metrics() : nullptr;
}

std::shared_ptr<skills::anomaly_detector> lens::anomaly_detector() const {
  return eng_ ? eng_->anomaly() : nullptr;
}

std::vector<std::string> lens::skill_names() const {
  return eng_ ? eng_->skill_names() : std::vector<std::string>{};
}

const caflens::config& lens::settings() const {
  static const caflens::config empty;
  return eng_ ? eng_->cfg() : empty;
}

// -- message types ------------------------------------------------------------

void add_message_types(caf::actor_system_config& cfg) {
  // Every engine message, from one type-ID block (caflens/actors/type_ids.hpp).
  cfg.add_message_types<caf::id_block::caflens_actors>();
  [[maybe_unused]] auto known = actors_errc_registered();
  // Each component registers its error renderer in the file of its
  // `to_string`: naming them keeps those files in a static link, so that
  // `render_error` prints "skills: no_state (...)", not CAF's raw form.
  (void) skills::to_string(skills::skills_errc::not_found);
  (void) sandbox::to_string(sandbox::sandbox_errc::syntax_error);
  (void) store::to_string(store::store_errc::open_failed);
  (void) llm::to_string(llm::llm_errc::invalid_config);
  supervision::add_message_types(cfg);
  add_error_categories(cfg);
}

} // namespace caflens
