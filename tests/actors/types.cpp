#define CAF_SUITE actors.types
// caflens headers first: CAF's test DSL defines macros (allow, ...).
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"

#include "caflens/caflens.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include "caf/io/middleman.hpp"
#include "caf/test/dsl.hpp"


using namespace caf;
using namespace caflens;
using json = nlohmann::json;

namespace {

investigation_result sample() {
  investigation_result r;
  r.trace_id = "0123456789abcdef0123456789abcdef";
  r.reason = "p99 of /upload over 2 s";
  r.trigger = "threshold";
  r.brain = "rule";
  r.node = "node-a";
  r.summary = "one insight";
  r.partial = true;
  r.errors = {"operator os crashed: boom"};
  r.iterations = 7;
  r.input_tokens = 1200;
  r.output_tokens = 300;
  r.cost_usd = 0.0125;
  r.started_at = 1000;
  r.finished_at = 2500;
  notification n;
  n.id = "n-1";
  n.skill = "actors";
  n.anomaly_type = "mailbox_growth";
  n.severity = severity::critical;
  n.context = R"({"mailbox_depth":48213})";
  n.observation = "worker-7 mailbox 48213";
  n.hypothesis = "slow consumer";
  n.snapshot_ids = {"s-1", "s-2"};
  n.actors = {"worker-7"};
  n.detected_at = 1200;
  n.node = "node-a";
  n.trace_id = r.trace_id;
  r.notifications.push_back(n);
  insight i;
  i.id = "i-3";
  i.pattern = "slow_consumer";
  i.notification_ids = {"n-1"};
  i.correlation = correlation::causal;
  i.summary = "worker-7 is a slow consumer";
  i.matched_observations = {"worker-7 mailbox 48213"};
  i.grounded = true;
  i.root_cause = "slow consumer behind a fast producer";
  i.confidence = "high";
  i.culprits = {"worker-7"};
  i.severity = severity::critical;
  i.created_at = 2400;
  i.trace_id = r.trace_id;
  r.insights.push_back(i);
  operator_result o;
  o.skill = "actors";
  o.node = "node-a";
  o.state = operator_state::critical;
  o.summary = "found it";
  o.notification_ids = {"n-1"};
  o.snapshot_ids = {"s-1", "s-2"};
  o.iterations = 6;
  o.stop_reason = "done";
  o.restarts = 1;
  r.operators.push_back(o);
  return r;
}

bool same(const investigation_result& x, const investigation_result& y) {
  return to_json(x) == to_json(y);
}

struct fixture {
  actor_system_config cfg;
  std::unique_ptr<actor_system> sys;
  fixture() {
    add_message_types(cfg);
    sys = std::make_unique<actor_system>(cfg);
  }

  /// `x` as a type-erased message through CAF's binary serialization.
  template <class T>
  message round_trip(const T& x) {
    auto msg = make_message(x);
    std::vector<char> buf;
    binary_serializer sink{*sys, buf};
    CAF_REQUIRE(!sink(msg));
    message copy;
    binary_deserializer source{*sys, buf};
    CAF_REQUIRE(!source(copy));
    return copy;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(types_tests, fixture)

CAF_TEST(results survive CAF serialization) {
  auto x = sample();
  std::vector<char> buf;
  binary_serializer sink{*sys, buf};
  auto err = sink(x);
  CAF_REQUIRE(!err);
  investigation_result y;
  binary_deserializer source{*sys, buf};
  err = source(y);
  CAF_REQUIRE(!err);
  CAF_CHECK(same(x, y));
  CAF_CHECK_EQUAL(y.insights.at(0).correlation, correlation::causal);
  CAF_CHECK_EQUAL(y.operators.at(0).state, operator_state::critical);
}

CAF_TEST(messages survive CAF serialization as type-erased messages) {
  actors::operator_spec spec;
  spec.trace_id = "t";
  spec.run_id = 42;
  spec.skill = "memory";
  spec.reason = "rss";
  spec.max_iterations = 9;
  spec.deadline_at = 123;
  auto copy
    = round_trip(make_message(spec, actors::investigate_request{"r", {}}));
  CAF_REQUIRE((copy.match_elements<actors::operator_spec,
                                   actors::investigate_request>()));
  auto& back = copy.get_as<actors::operator_spec>(0);
  CAF_CHECK_EQUAL(back.run_id, 42u);
  CAF_CHECK_EQUAL(back.skill, "memory");
  CAF_CHECK_EQUAL(back.max_iterations, 9);
  CAF_CHECK_EQUAL(copy.get_as<actors::investigate_request>(1).reason, "r");
}

CAF_TEST(infinite doubles cross nodes as the largest finite value) {
  // CAF 0.17 never finishes writing an infinite double; caflens's types
  // write the largest finite value of the same sign instead.
  operator_result o;
  o.skill = "actors";
  o.cost_usd = std::numeric_limits<double>::infinity();
  auto copy = round_trip(o);
  CAF_REQUIRE(copy.match_elements<operator_result>());
  CAF_CHECK_EQUAL(copy.get_as<operator_result>(0).cost_usd,
                  std::numeric_limits<double>::max());
  investigation_result r;
  r.cost_usd = -std::numeric_limits<double>::infinity();
  auto rc = round_trip(r);
  CAF_REQUIRE(rc.match_elements<investigation_result>());
  CAF_CHECK_EQUAL(rc.get_as<investigation_result>(0).cost_usd,
                  -std::numeric_limits<double>::max());
}

CAF_TEST(operator reports cross nodes as type erased messages) {
  operator_report x;
  x.event = operator_event::given_up;
  x.skill = "memory";
  x.node = "node-b";
  x.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  x.reason = "boom";
  x.crashes = 3;
  x.max_restarts = 2;
  x.at = 1764460800000;
  auto copy = round_trip(x);
  CAF_REQUIRE(copy.match_elements<operator_report>());
  auto& y = copy.get_as<operator_report>(0);
  CAF_CHECK_EQUAL(y.event, operator_event::given_up);
  CAF_CHECK_EQUAL(y.skill, "memory");
  CAF_CHECK_EQUAL(y.trace_id, x.trace_id);
  CAF_CHECK_EQUAL(y.crashes, 3);
  CAF_CHECK_EQUAL(y.at, x.at);
  CAF_CHECK_NOT_EQUAL(to_string(copy).find("given_up"), std::string::npos);
}

CAF_TEST(action records cross nodes and results keep their actions) {
  action_record a;
  a.id = "a-3";
  a.action = "restart_child";
  a.args = R"({"child":"cache","supervisor":"ingest_sup"})";
  a.status = action_status::executed;
  a.by = "oncall";
  a.result = R"({"restarted":true})";
  a.at = 42;
  auto copy = round_trip(a);
  CAF_REQUIRE(copy.match_elements<action_record>());
  auto& b = copy.get_as<action_record>(0);
  CAF_CHECK_EQUAL(b.status, action_status::executed);
  CAF_CHECK_EQUAL(b.args, a.args);
  auto r = sample();
  r.actions.push_back(a);
  auto back = investigation_result_from_json(to_json(r));
  CAF_REQUIRE(back);
  CAF_REQUIRE_EQUAL(back->actions.size(), 1u);
  auto& c = back->actions[0];
  CAF_CHECK_EQUAL(c.status, action_status::executed);
  CAF_CHECK_EQUAL(c.args, a.args);
  CAF_CHECK_EQUAL(c.result, a.result);
  CAF_CHECK_NOT_EQUAL(render_report(r).find("restart_child"), std::string::npos);
}

CAF_TEST(results round trip through JSON) {
  auto x = sample();
  auto j = to_json(x);
  CAF_CHECK_EQUAL(j["insights"][0]["pattern"], "slow_consumer");
  CAF_CHECK_EQUAL(j["insights"][0]["culprits"][0], "worker-7");
  CAF_CHECK_EQUAL(j["notifications"][0]["context"]["mailbox_depth"], 48213);
  CAF_CHECK_EQUAL(j["duration_ms"], 1500);
  auto y = investigation_result_from_json(json::parse(j.dump()));
  CAF_REQUIRE(y);
  CAF_CHECK(same(x, *y));
}

CAF_TEST(bad JSON yields a clear error) {
  auto j = to_json(sample());
  j["insights"][0]["severity"] = "apocalyptic";
  auto y = investigation_result_from_json(j);
  CAF_REQUIRE(!y);
  CAF_CHECK(render_error(y.error()).find("apocalyptic") != std::string::npos);
  auto z = notification_from_json(json::array());
  CAF_CHECK(!z);
  auto w = insight_from_json(json{{"culprits", 7}});
  CAF_REQUIRE(!w);
  CAF_CHECK(render_error(w.error()).find("culprits") != std::string::npos);
}

CAF_TEST(the report names pattern culprit and evidence) {
  auto text = render_report(sample());
  CAF_CHECK(text.find("slow_consumer") != std::string::npos);
  CAF_CHECK(text.find("worker-7") != std::string::npos);
  CAF_CHECK(text.find("PARTIAL") != std::string::npos);
  CAF_CHECK(text.find("root cause: slow consumer") != std::string::npos);
  auto healthy = sample();
  healthy.insights.clear();
  CAF_CHECK(render_report(healthy).find("looks healthy") != std::string::npos);
}

CAF_TEST(config errors name the key and the value) {
  config cfg;
  cfg.max_iterations = 0;
  auto err = cfg.validate();
  CAF_REQUIRE(err);
  auto text = render_error(err);
  CAF_CHECK(text.find("caflens.max-iterations = 0") != std::string::npos);
  config ok;
  CAF_CHECK(!ok.validate());
  auto lens = caflens::start(*sys, cfg);
  CAF_CHECK(!lens);
}

CAF_TEST(the config file section overrides code values) {
  actor_system_config file_cfg;
  add_message_types(file_cfg);
  add_config_options(file_cfg);
  std::istringstream ini{"[caflens]\nmax-iterations=7\ndeadline-ms=9000\n"
                         "node-name=\"ini-node\"\nbrain=\"rule\"\n"};
  char prog[] = "caflens-actors-test";
  char* argv[] = {prog, nullptr};
  CAF_REQUIRE(!file_cfg.parse(1, argv, ini));
  actor_system file_sys{file_cfg};
  config code;
  code.max_iterations = 3;
  code.node_name = "code-node";
  auto l = caflens::start(file_sys, code);
  CAF_REQUIRE(l);
  CAF_CHECK_EQUAL(l->settings().max_iterations, 7);
  CAF_CHECK_EQUAL(l->settings().deadline.count(), 9000);
  CAF_CHECK_EQUAL(l->settings().node_name, "ini-node");
  CAF_CHECK(l->settings().llm == nullptr);
  l->stop();
  // A bad value in the file fails start, naming key and value.
  actor_system_config bad_cfg;
  add_config_options(bad_cfg);
  std::istringstream bad_ini{"[caflens]\nmax-iterations=0\n"};
  CAF_REQUIRE(!bad_cfg.parse(1, argv, bad_ini));
  actor_system bad_sys{bad_cfg};
  auto b = caflens::start(bad_sys);
  CAF_REQUIRE(!b);
  CAF_CHECK(render_error(b.error()).find("max-iterations = 0")
            != std::string::npos);
}

namespace {

int thread_count() {
  int n = 0;
  std::ifstream in{"/proc/self/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Threads:", 0) == 0)
      n = std::stoi(line.substr(8));
  return n;
}

} // namespace

CAF_TEST(an isolated lens runs on threads of its own) {
  actor_system_config file_cfg;
  add_message_types(file_cfg);
  add_config_options(file_cfg);
  std::istringstream ini{"[caflens]\nisolated=true\n"};
  char prog[] = "caflens-actors-test";
  char* argv[] = {prog, nullptr};
  CAF_REQUIRE(!file_cfg.parse(1, argv, ini));
  actor_system file_sys{file_cfg};
  auto before = thread_count();
  auto l = caflens::start(file_sys);
  CAF_REQUIRE(l);
  CAF_CHECK(l->settings().isolated);
  (void) l->status(); // answered once the tree is up
  // The root, the operator and telemetry supervisors and the coordinator.
  auto after = thread_count();
  CAF_CHECK_GREATER_OR_EQUAL(after - before, 4);
  l->stop();
  // The environment overrides the file; a bad value names the variable.
  ::setenv("CAFLENS_ISOLATED", "maybe", 1);
  auto bad = caflens::start(file_sys);
  ::unsetenv("CAFLENS_ISOLATED");
  CAF_REQUIRE(!bad);
  CAF_CHECK(render_error(bad.error()).find("CAFLENS_ISOLATED")
            != std::string::npos);
}

CAF_TEST(cluster messages cross nodes with their trace context) {
  actors::remote_invoke inv;
  inv.session = "0123456789abcdef0123456789abcdef";
  inv.spec.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  inv.spec.skill = "actors";
  inv.spec.run_id = 7;
  inv.spec.traceparent = make_traceparent(inv.spec.trace_id);
  inv.traceparent = inv.spec.traceparent;
  node_info info;
  info.name = "node-b";
  info.address = "127.0.0.1:4100";
  info.state = node_state::lost;
  info.skills = {"actors", "memory"};
  info.error = "no heartbeat answer within 2000 ms";
  actors::node_hello hello{cluster_protocol_version, "tok", "node-a",
                           inv.traceparent};
  actors::node_event ev{"node-b", false, "link lost", 5};
  auto copy = round_trip(make_message(inv, std::vector<node_info>{info},
                                      hello, ev));
  CAF_REQUIRE((copy.match_elements<actors::remote_invoke,
                                   std::vector<node_info>, actors::node_hello,
                                   actors::node_event>()));
  auto& back = copy.get_as<actors::remote_invoke>(0);
  CAF_CHECK_EQUAL(back.spec.run_id, 7u);
  CAF_CHECK_EQUAL(back.spec.traceparent, inv.traceparent);
  CAF_CHECK_EQUAL(trace_of(back.traceparent), inv.spec.trace_id);
  auto& infos = copy.get_as<std::vector<node_info>>(1);
  CAF_REQUIRE_EQUAL(infos.size(), 1u);
  CAF_CHECK_EQUAL(infos[0].state, node_state::lost);
  CAF_CHECK(infos[0].skills == info.skills);
  CAF_CHECK_EQUAL(copy.get_as<actors::node_hello>(2).node, "node-a");
  CAF_CHECK_EQUAL(copy.get_as<actors::node_event>(3).reason, "link lost");
}

CAF_TEST(traceparents have the W3C shape and keep the trace id) {
  auto trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto tp = make_traceparent(trace);
  CAF_CHECK_EQUAL(tp.size(), 55u);
  CAF_CHECK_EQUAL(tp.substr(0, 36),
                  std::string{"00-"} + trace + "-");
  CAF_CHECK_EQUAL(tp.substr(52), "-01");
  CAF_CHECK_EQUAL(trace_of(tp), trace);
  // Each hop is its own span.
  CAF_CHECK_NOT_EQUAL(make_traceparent(trace), tp);
  // Other ids are hashed into the shape, the same way each time.
  auto other = make_traceparent("t-1");
  CAF_CHECK_EQUAL(other.size(), 55u);
  CAF_CHECK_EQUAL(trace_of(other), trace_of(make_traceparent("t-1")));
  CAF_CHECK_EQUAL(trace_of("00-xyz"), "");
  CAF_CHECK_EQUAL(trace_of(std::string(55, '0')), "");
}

CAF_TEST(addresses tokens and sessions are checked strictly) {
  std::string host;
  uint16_t port = 1;
  CAF_CHECK(parse_address("127.0.0.1:4100", host, port));
  CAF_CHECK_EQUAL(host, "127.0.0.1");
  CAF_CHECK_EQUAL(port, 4100);
  CAF_CHECK(parse_address("[::1]:0", host, port));
  CAF_CHECK_EQUAL(host, "::1");
  CAF_CHECK_EQUAL(port, 0);
  for (auto bad : {"", "4100", ":4100", "host:", "host:65536", "host:12a",
                   "[::1:80"})
    CAF_CHECK(!parse_address(bad, host, port));
  CAF_CHECK(constant_time_equal("secret", "secret"));
  CAF_CHECK(!constant_time_equal("secret", "secreT"));
  CAF_CHECK(!constant_time_equal("secret", "secret2"));
  CAF_CHECK(!constant_time_equal("", "x"));
  CAF_CHECK(constant_time_equal("", ""));
}

CAF_TEST(cluster settings come from the config file and are checked) {
  actor_system_config file_cfg;
  add_message_types(file_cfg);
  add_config_options(file_cfg);
  std::istringstream ini{
    "[caflens]\nlisten=\"127.0.0.1:0\"\n"
    "peers=[\"127.0.0.1:4101\", \"127.0.0.1:4102\"]\n"
    "heartbeat-interval-ms=100\nheartbeat-timeout-ms=400\n"};
  char prog[] = "caflens-actors-test";
  char* argv[] = {prog, nullptr};
  CAF_REQUIRE(!file_cfg.parse(1, argv, ini));
  file_cfg.load<caf::io::middleman>();
  actor_system file_sys{file_cfg};
  config code;
  code.node_name = "ini-node";
  code.cluster.token_env.clear();
  auto l = caflens::start(file_sys, code);
  CAF_REQUIRE(l);
  auto& cl = l->settings().cluster;
  CAF_CHECK(cl.listen);
  CAF_CHECK_EQUAL(cl.listen_host, "127.0.0.1");
  CAF_CHECK(cl.peers
            == (std::vector<std::string>{"127.0.0.1:4101",
                                         "127.0.0.1:4102"}));
  CAF_CHECK_EQUAL(cl.heartbeat_timeout.count(), 400);
  CAF_CHECK_NOT_EQUAL(l->node_port(), 0);
  // The configured peers are in the cluster view at once.
  CAF_CHECK_EQUAL(l->cluster().size(), 2u);
  l->stop();
  config bad;
  bad.cluster.peers = {"no-port"};
  auto text = render_error(bad.validate());
  CAF_CHECK(text.find("caflens.peers = no-port") != std::string::npos);
  config open;
  open.cluster.listen = true;
  open.cluster.listen_host = "0.0.0.0";
  text = render_error(open.validate());
  CAF_CHECK(text.find("a cluster token is required to listen beyond "
                      "loopback")
            != std::string::npos);
  open.cluster.token = "s3cret";
  CAF_CHECK(!open.validate());
  config slow;
  slow.cluster.heartbeat_interval = std::chrono::milliseconds{500};
  slow.cluster.heartbeat_timeout = std::chrono::milliseconds{100};
  text = render_error(slow.validate());
  CAF_CHECK(text.find("heartbeat-timeout-ms = 100") != std::string::npos);
  // Peers without CAF's I/O module: start says what to load.
  config needs_io;
  needs_io.cluster.peers = {"127.0.0.1:4101"};
  auto no_io = caflens::start(*sys, needs_io);
  CAF_REQUIRE(!no_io);
  CAF_CHECK(render_error(no_io.error()).find("cfg.load<caf::io::middleman>")
            != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
