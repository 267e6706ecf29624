// caflens-model-server: the plausible model (plausible_model.hpp) as a
// process, for evals and manual runs. Prints the bound port on the first
// line, serves until SIGTERM/SIGINT, then prints its statistics as one JSON
// line.
//
//   caflens-model-server [--port N] [--error-burst N] [--error-burst-from K]
//                        [--error-status S]
//                        [--quota-from N] [--hang-from N] [--malformed-from N]
//                        [--delay-ms N] [--coordinator-never-done]
//                        [--operator-never-done] [--stream-event-ms N]
//                        [--stall-from N] [--stall-count N]
//
// A request with `stream: true` is answered with server-sent events.

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "plausible_model.hpp"

int main(int argc, char** argv) {
  int port = 0;
  model_faults f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto num = [&](int& out) {
      if (i + 1 >= argc) {
        std::cerr << "caflens-model-server: " << a << " needs a value\n";
        std::exit(2);
      }
      char* end = nullptr;
      auto v = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != 0 || v < 0) {
        std::cerr << "caflens-model-server: " << a
                  << " expects a non-negative integer, got '" << argv[i]
                  << "'\n";
        std::exit(2);
      }
      out = static_cast<int>(v);
    };
    if (a == "--port")
      num(port);
    else if (a == "--error-burst")
      num(f.error_burst);
    else if (a == "--error-burst-from")
      num(f.error_burst_from);
    else if (a == "--error-status")
      num(f.error_status);
    else if (a == "--quota-from")
      num(f.quota_from);
    else if (a == "--hang-from")
      num(f.hang_from);
    else if (a == "--delay-ms")
      num(f.delay_ms);
    else if (a == "--malformed-from")
      num(f.malformed_from);
    else if (a == "--stream-event-ms")
      num(f.stream_event_ms);
    else if (a == "--stall-from")
      num(f.stall_from);
    else if (a == "--stall-count")
      num(f.stall_count);
    else if (a == "--coordinator-never-done")
      f.coordinator_never_done = true;
    else if (a == "--operator-never-done")
      f.operator_never_done = true;
    else {
      std::cerr << "caflens-model-server: unknown option '" << a << "'\n";
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Block before the server's threads start, so they inherit the mask.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  try {
    plausible_model model{port};
    model.faults(f);
    std::cout << model.port() << std::endl;
    int sig = 0;
    sigwait(&set, &sig);
    auto s = model.stats();
    nlohmann::json j{{"requests", s.requests},
                     {"coordinator_requests", s.coordinator_requests},
                     {"operator_requests", s.operator_requests},
                     {"faults_served", s.faults_served},
                     {"streamed", s.streamed},
                     {"request_bytes", s.request_bytes},
                     {"max_request_bytes", s.max_request_bytes},
                     {"violations", s.violations}};
    std::cout << j.dump() << std::endl;
  } catch (const std::exception& ex) {
    std::cerr << "caflens-model-server: " << ex.what() << "\n";
    return 1;
  }
  return 0;
}
