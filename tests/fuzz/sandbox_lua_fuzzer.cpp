// libFuzzer target: arbitrary bytes as a Lua script. The sandbox must return
// a result or a sandbox error (never internal_error), within its limits,
// whatever the script does.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "caflens/sandbox/all.hpp"
#include "caflens/telemetry/error.hpp"

namespace {

using namespace caflens::sandbox;
using nlohmann::json;

const std::vector<callback>& callbacks() {
  static const std::vector<callback> instance{
    callback{"echo",
             {"value"},
             "returns its argument",
             [](const std::vector<json>& args) -> caf::expected<json> {
               return args.empty() ? json{} : args[0];
             }},
    callback{"fail",
             {"why"},
             "always fails",
             [](const std::vector<json>&) -> caf::expected<json> {
               return make_error(sandbox_errc::invalid_argument, "failed");
             }},
    callback{"data",
             {},
             "a fixed document",
             [](const std::vector<json>&) -> caf::expected<json> {
               return json::parse(R"({"actors": [{"name": "a", "mailbox": 3},
                 {"name": "b", "mailbox": 9}], "empty": [], "none": null})");
             }},
  };
  return instance;
}

const sandbox& box() {
  static const sandbox instance{[] {
                                  limits lim;
                                  lim.max_instructions = 200'000;
                                  lim.max_memory_bytes = 16 * 1024 * 1024;
                                  lim.max_wall_time =
                                    std::chrono::milliseconds{250};
                                  lim.max_result_bytes = 64 * 1024;
                                  return lim;
                                }(),
                                "fuzz"};
  return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view code{reinterpret_cast<const char*>(data), size};
  auto t0 = std::chrono::steady_clock::now();
  auto res = box().execute(code, callbacks());
  auto took = std::chrono::steady_clock::now() - t0;
  if (!res) {
    auto& err = res.error();
    if (err.category() != sandbox_errc_category ||
        err.code() == static_cast<uint8_t>(sandbox_errc::internal_error) ||
        err.code() == 0 ||
        err.code() > static_cast<uint8_t>(sandbox_errc::internal_error)) {
      std::fprintf(stderr, "unexpected error: %s\n",
                   caflens::render_error(err).c_str());
      std::abort();
    }
  } else {
    if (res->peak_memory_bytes > box().limits().max_memory_bytes) {
      std::fprintf(stderr, "memory limit not held: %zu bytes\n",
                   res->peak_memory_bytes);
      std::abort();
    }
    (void)res->value.dump(); // must be valid JSON (UTF-8)
  }
  // The wall limit must hold (generously: sanitizers slow everything down).
  if (took > std::chrono::seconds{5}) {
    std::fprintf(
      stderr, "wall limit not held: %lld ms\n",
      static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    std::abort();
  }
  return 0;
}
