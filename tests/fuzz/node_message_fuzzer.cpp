// libFuzzer target for what crosses nodes: a type-erased CAF message read
// with CAF's binary deserializer, as the middleman reads a peer's payload,
// with every caflens message type registered (`add_message_types`). Bytes
// from a peer must give a message or an error, never a throw or a crash;
// a message of caflens types that was read writes out again, and reading
// that back gives the same bytes.
//
// With CAFLENS_FUZZ_WRITE_SEEDS=<dir> in the environment, the first call
// writes one serialized message per kind of cross-node request and result
// into <dir> (the seed corpus in tests/fuzz/corpus/node_message).
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/message.hpp"

#include "caflens/actors/type_ids.hpp"
#include "caflens/caflens.hpp"
#include "caflens/supervision/messages.hpp"

namespace {

using namespace caflens;

caf::actor_system& fuzz_system() {
  static auto* cfg = [] {
    auto* c = new caf::actor_system_config;
    add_message_types(*c);
    c->set("scheduler.max-threads", size_t{1});
    return c;
  }();
  static auto* sys = new caf::actor_system{*cfg};
  return *sys;
}

std::vector<char> write(caf::actor_system& sys, const caf::message& msg,
                        bool& ok) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ok = !sink(const_cast<caf::message&>(msg));
  return buf;
}

void write_seeds(caf::actor_system& sys, const std::string& dir) {
  investigation_result r;
  r.trace_id = "0af7651916cd43dd8448eb211c80319c";
  r.reason = "mailbox backlog";
  notification n;
  n.id = "n-1";
  n.skill = "actors";
  n.node = "node-a";
  n.anomaly_type = "mailbox_growth";
  n.observation = "worker-7 mailbox 5000";
  r.notifications.push_back(n);
  insight i;
  i.id = "i-1";
  i.pattern = "slow_consumer";
  i.culprits = {"worker-7"};
  r.insights.push_back(i);
  actors::operator_spec spec;
  spec.skill = "actors";
  spec.trace_id = r.trace_id;
  actors::node_hello hello;
  hello.node = "node-b";
  snapshot s;
  s.id = "s-1";
  s.skill = "actors";
  s.data = R"({"top_by_mailbox":[]})";
  std::vector<std::pair<std::string, caf::message>> seeds{
    {"investigation_result", caf::make_message(r)},
    {"notification", caf::make_message(n)},
    {"insight", caf::make_message(i)},
    {"operator_spec", caf::make_message(spec)},
    {"node_hello", caf::make_message(hello)},
    {"snapshot", caf::make_message(s)},
    {"operator_report", caf::make_message(operator_report{})},
    {"action_record", caf::make_message(action_record{})},
    {"node_info", caf::make_message(node_info{})},
    {"which_children", caf::make_message(supervision::which_children{})},
    {"investigate_request",
     caf::make_message(actors::investigate_request{"why", {}})},
  };
  for (auto& [name, msg] : seeds) {
    bool ok = false;
    auto bytes = write(sys, msg, ok);
    if (!ok)
      std::abort();
    std::ofstream out{dir + "/" + name, std::ios::binary};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& sys = fuzz_system();
  static bool seeded = [&] {
    if (auto* dir = std::getenv("CAFLENS_FUZZ_WRITE_SEEDS"))
      write_seeds(sys, dir);
    return true;
  }();
  (void) seeded;
  caf::message msg;
  try {
    caf::binary_deserializer src{sys, reinterpret_cast<const char*>(data),
                                 size};
    if (src(msg))
      return 0; // refused: what the middleman reports as a bad payload
  } catch (const std::exception&) {
    // CAF 0.17 itself throws reading one of its own types, a `config_value`
    // whose variant index is out of range ("invalid type found"), and its
    // BASP code does not catch it: a peer that passes CAF's handshake can
    // end the process before caflens sees a message (RELIABILITY.md,
    // "Hostile input"). caflens's types do not throw; the target goes on.
    return 0;
  }
  // The round trip is checked for caflens's types only: CAF 0.17 itself
  // never finishes writing a built-in double that is infinite
  // (caf/detail/ieee_754.hpp), which caflens's own types guard against
  // (`detail::finite_on_the_wire`).
  for (size_t i = 0; i < msg.size(); ++i)
    if (msg.type(i).first != 0)
      return 0;
  bool ok = false;
  auto once = write(sys, msg, ok);
  if (!ok)
    std::abort(); // a message that was read must write out again
  caf::message again;
  caf::binary_deserializer src{sys, once};
  if (src(again))
    std::abort(); // what we wrote must read back
  auto twice = write(sys, again, ok);
  if (!ok || once != twice)
    std::abort(); // and read back to the same thing
  return 0;
}
