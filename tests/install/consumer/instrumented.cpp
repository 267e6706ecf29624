// Instrumented code links the telemetry API alone (caflens::telemetry_api):
// it emits events, opens correlation scopes, attaches a handler.
#include <iostream>
#include <string>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/correlation.hpp"

int main() {
  using namespace caflens::telemetry;
  std::string seen;
  attach("probe", {"app", "work", "stop"},
         [&](const event_name&, const measurements& m, const metadata& md,
             const std::any&) {
           seen = md.find("correlation_id")->to_string() + " "
                  + std::to_string(static_cast<int>(*m.find("n")));
         });
  with_correlation("req-1", [] { execute({"app", "work", "stop"}, {{"n", 3}}); });
  if (seen != "req-1 3") {
    std::cout << "instrumented: saw '" << seen << "'\n";
    return 1;
  }
  std::cout << "instrumented: ok\n";
  return 0;
}
