// Telemetry out: every caflens event as JSON lines in a file (rotated), and
// the lens's metrics served for Prometheus scrapes. Sinks and exporters are
// actors under the lens's telemetry_sup. One investigation makes events; the
// file then holds them, and /metrics serves caflens's own metrics.
//
//   build/apps/examples/telemetry_out
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "caf/all.hpp"

#include "caflens/caflens.hpp"
#include "caflens/sinks/file_sink.hpp"
#include "caflens/sinks/prometheus.hpp"

int main() {
  caf::actor_system_config sys_cfg;
  caflens::add_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto path = std::filesystem::temp_directory_path()
              / ("caflens-events-" + std::to_string(::getpid()) + ".jsonl");

  namespace sinks = caflens::sinks;
  caflens::config cfg;
  sinks::sink_options so;          // every catalogue event ...
  so.name = "events";
  sinks::file_sink_options fo;     // ... as JSON lines, rotated at 64 MiB,
  fo.path = path.string();         //     5 files kept
  cfg.telemetry.sinks.push_back(sinks::file_sink_factory(so, fo));
  sinks::prometheus_options po;    // 127.0.0.1:9464 by default
  po.port = 0;                     // here: any free port
  cfg.telemetry.prometheus = po;
  auto lens = caflens::start(sys, cfg);
  if (!lens) {
    std::cerr << caflens::render_error(lens.error()) << '\n';
    return 1;
  }
  std::cout << "prometheus: http://127.0.0.1:" << lens->prometheus_port()
            << "/metrics\n";

  auto res = lens->investigate("a look around");
  if (auto err = lens->flush_telemetry()) { // before reading the file
    std::cerr << caflens::render_error(err) << '\n';
    return 1;
  }
  std::map<std::string, int> events;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    events[nlohmann::json::parse(line).value("event", "?")] += 1;
  std::cout << path.string() << ": " << events.size() << " kinds of events\n";
  for (auto& name : {"caflens.investigation.start", "caflens.investigation.stop",
                     "caflens.operator.started", "caflens.operator.take_snapshot"})
    std::cout << "  " << name << ": " << events[name] << '\n';
  lens->stop();
  std::filesystem::remove(path);
  return res ? 0 : 1;
}
