// A cluster-wide profile of one message: each node traces the busiest
// tracked actor of a kind (tracer limits), the handler times are merged
// into DDSketches per node and for the cluster.
#include "cluster_impl.hpp"

#include <algorithm>
#include <chrono>

#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/response_promise.hpp"
#include "caf/stateful_actor.hpp"

#include "caflens/telemetry/ddsketch.hpp"
#include "caflens/telemetry/error.hpp"

#include "engine.hpp"

namespace caflens {

namespace {

void fill_quantiles(const telemetry::ddsketch& s, double& p50, double& p90,
                    double& p99, double& max) {
  if (s.count() == 0)
    return;
  p50 = s.quantile(0.5);
  p90 = s.quantile(0.9);
  p99 = s.quantile(0.99);
  max = s.quantile(1.0);
}

} // namespace

nlohmann::json to_json(const node_profile& x) {
  nlohmann::json j{{"node", x.node},         {"actor", x.actor},
                   {"kind", x.kind},         {"pattern", x.pattern},
                   {"captures", x.handler_ns.size()},
                   {"seen", x.seen},         {"matched", x.matched},
                   {"stop_reason", x.stop_reason},
                   {"p50_ms", x.p50_ms},     {"p90_ms", x.p90_ms},
                   {"p99_ms", x.p99_ms},     {"max_ms", x.max_ms}};
  if (!x.error.empty())
    j["error"] = x.error;
  return j;
}

nlohmann::json to_json(const message_profile& x) {
  auto nodes = nlohmann::json::array();
  for (auto& n : x.nodes)
    nodes.push_back(to_json(n));
  return {{"kind", x.kind},     {"pattern", x.pattern},
          {"count", x.count},   {"p50_ms", x.p50_ms},
          {"p90_ms", x.p90_ms}, {"p99_ms", x.p99_ms},
          {"max_ms", x.max_ms}, {"nodes", std::move(nodes)}};
}

namespace actors {

namespace {

using collect_atom = caf::atom_constant<caf::atom("prcollect")>;

struct profiler_data {
  static inline const char* name = "caflens.profiler";
  node_profile out;
  caf::response_promise rp;
};

caf::behavior profiler(caf::stateful_actor<profiler_data>* self,
                       std::shared_ptr<engine> eng) {
  return {
    [self, eng](remote_profile& r) {
      auto& st = self->state;
      st.rp = self->make_response_promise();
      st.out.node = eng->node();
      st.out.kind = r.kind;
      st.out.pattern = r.pattern;
      auto fail = [&](std::string why) {
        st.out.error = std::move(why);
        st.rp.deliver(st.out);
        self->quit();
        return st.rp;
      };
      auto& t = eng->tracer();
      if (!t)
        return fail("no tracer on this node (built-in skills are off)");
      // The busiest live actor of the kind.
      std::optional<skills::actor_info> best;
      for (auto& a : eng->processes().all())
        if (a.kind == r.kind && (!best || a.processed > best->processed))
          best = a;
      if (!best)
        return fail("no tracked actor of kind '" + r.kind + "' on node '"
                    + eng->node() + "'");
      skills::tracer_limits lim;
      lim.max_duration = std::chrono::milliseconds{r.duration_ms};
      auto started = t->start(best->id, r.pattern == "*" ? "" : r.pattern,
                              lim);
      if (!started)
        return fail(render_error(started.error()));
      st.out.actor = best->name;
      self->delayed_send(self, std::chrono::milliseconds{r.duration_ms},
                         collect_atom::value);
      return st.rp;
    },
    [self, eng](collect_atom) {
      auto& st = self->state;
      auto& t = eng->tracer();
      auto status = t->running() ? t->stop() : caf::expected<skills::trace_status>{
                                                 caf::sec::invalid_argument};
      auto last = status ? std::optional{*status} : t->status();
      if (last) {
        st.out.seen = last->seen;
        st.out.matched = last->matched;
        st.out.stop_reason = last->stop_reason;
      }
      telemetry::ddsketch sketch;
      for (auto& c : t->captures()) {
        st.out.handler_ns.push_back(c.handler_ns);
        sketch.add(static_cast<double>(c.handler_ns) / 1e6);
      }
      fill_quantiles(sketch, st.out.p50_ms, st.out.p90_ms, st.out.p99_ms,
                     st.out.max_ms);
      st.rp.deliver(st.out);
      self->quit();
    },
  };
}

} // namespace

caf::actor spawn_profiler(caf::actor_system& sys,
                          std::shared_ptr<engine> eng) {
  return sys.spawn(profiler, std::move(eng));
}

message_profile merge_profiles(std::string kind, std::string pattern,
                               std::vector<node_profile> nodes) {
  message_profile m;
  m.kind = std::move(kind);
  m.pattern = std::move(pattern);
  telemetry::ddsketch cluster;
  for (auto& n : nodes) {
    telemetry::ddsketch s;
    for (auto ns : n.handler_ns)
      s.add(static_cast<double>(ns) / 1e6);
    fill_quantiles(s, n.p50_ms, n.p90_ms, n.p99_ms, n.max_ms);
    // The cluster's distribution: the nodes' sketches merged.
    if (s.count() > 0)
      (void) cluster.merge(s);
  }
  m.count = cluster.count();
  fill_quantiles(cluster, m.p50_ms, m.p90_ms, m.p99_ms, m.max_ms);
  m.nodes = std::move(nodes);
  return m;
}

} // namespace actors

} // namespace caflens
