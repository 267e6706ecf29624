#include "caflens/sandbox/limits.hpp"

#include <nlohmann/json.hpp>

#include "caflens/sandbox/sandbox_errc.hpp"

namespace caflens::sandbox {

namespace {

caf::error bad(const char* field, const std::string& value,
               const char* expected) {
  return make_error(sandbox_errc::invalid_argument,
                    std::string{"limits: "} + field + " = " + value +
                      " is invalid; expected " + expected);
}

} // namespace

caf::error validate(const limits& x) {
  using std::to_string;
  if (x.max_instructions == 0)
    return bad("max_instructions", "0", "at least 1");
  if (x.max_memory_bytes < 256 * 1024)
    return bad("max_memory_bytes", to_string(x.max_memory_bytes),
               "at least 262144 (256 KiB)");
  if (x.max_wall_time.count() <= 0)
    return bad("max_wall_time", to_string(x.max_wall_time.count()) + " ms",
               "at least 1 ms");
  if (x.max_call_depth < 10 || x.max_call_depth > 200'000)
    return bad("max_call_depth", to_string(x.max_call_depth), "10 to 200000");
  if (x.max_code_bytes == 0)
    return bad("max_code_bytes", "0", "at least 1");
  if (x.max_result_bytes < 16)
    return bad("max_result_bytes", to_string(x.max_result_bytes),
               "at least 16");
  if (x.max_json_depth == 0 || x.max_json_depth > 200)
    return bad("max_json_depth", to_string(x.max_json_depth), "1 to 200");
  if (x.check_interval == 0 || x.check_interval > 1'000'000)
    return bad("check_interval", to_string(x.check_interval), "1 to 1000000");
  return caf::none;
}

nlohmann::json to_json(const limits& x) {
  return {
    {"max_instructions", x.max_instructions},
    {"max_memory_bytes", x.max_memory_bytes},
    {"max_wall_time_ms", x.max_wall_time.count()},
    {"max_call_depth", x.max_call_depth},
    {"max_code_bytes", x.max_code_bytes},
    {"max_result_bytes", x.max_result_bytes},
    {"max_json_depth", x.max_json_depth},
    {"max_output_bytes", x.max_output_bytes},
    {"check_interval", x.check_interval},
  };
}

} // namespace caflens::sandbox
