// libFuzzer target for caflens's configuration from outside the code: the
// environment and the `[caflens]` section of CAF's INI file, as
// `caflens::start` reads them (`caflens::configure`). CAF parses the INI
// text; caflens reads its keys and the environment, then validates. Any
// input must end in a configuration or an error, never a throw or a
// crash; an error names a key or a variable.
//
// Input: `NAME=VALUE` lines for the environment (only caflens's and the
// providers' variables are set; all of them are cleared first), a line
// `--`, then the INI text.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "caf/actor_system_config.hpp"
#include "caf/make_config_option.hpp"

#include "caflens/caflens.hpp"

namespace {

// Every variable caflens reads (`grep env actors/src`).
constexpr std::string_view variables[] = {
  "ANTHROPIC_API_KEY",
  "CAFLENS_ACTION_ALLOW",
  "CAFLENS_ACTION_MODE",
  "CAFLENS_BRAIN",
  "CAFLENS_CLUSTER_TOKEN",
  "CAFLENS_EVENTS_FILE",
  "CAFLENS_ISOLATED",
  "CAFLENS_LISTEN",
  "CAFLENS_LLM_API_KEY_ENV",
  "CAFLENS_LLM_BASE_URL",
  "CAFLENS_LLM_CONTEXT_WINDOW",
  "CAFLENS_LLM_MAX_CONCURRENT",
  "CAFLENS_LLM_MODEL",
  "CAFLENS_LLM_PROVIDER",
  "CAFLENS_LLM_STALL_TIMEOUT_MS",
  "CAFLENS_LLM_STREAM",
  "CAFLENS_LOG_LEVEL",
  "CAFLENS_OTLP_ENDPOINT",
  "CAFLENS_PEERS",
  "CAFLENS_PROMETHEUS_LISTEN",
  "CAFLENS_PROMETHEUS_TOKEN",
  "CAFLENS_REDACT_KEYS",
  "CAFLENS_REDACT_PATTERN",
  "CAFLENS_STATSD",
  "CAFLENS_STORE",
  "CAFLENS_STORE_LLM_EXCHANGES",
  "OPENAI_API_KEY",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
};

bool known(std::string_view name) {
  for (auto v : variables)
    if (v == name)
      return true;
  return false;
}

// Debian's libcaf is built by GCC, which makes the function-local statics of
// CAF's inline templates unique symbols (STB_GNU_UNIQUE); a clang-built
// caller (the libFuzzer build) keeps its own copy of the option metadata of
// `std::vector<std::string>` but shares the guard that says it is
// initialized, so CAF calls a null `check` on the first list in an INI
// file. A GCC build (CI's replay, every user) is not affected; the
// clang build fills its copy in before the first parse.
template <class T>
void repair_option_metadata() {
  auto* m = caf::detail::option_meta_state_instance<T>();
  if (m->check == nullptr) {
    using trait = caf::select_config_value_access_t<T>;
    *m = caf::config_option::meta_state{
      caf::detail::check_impl<T>, caf::detail::store_impl<T>,
      caf::detail::get_impl<T>, caf::detail::parse_impl_delegate<T>,
      trait::type_name()};
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool repaired = [] {
    repair_option_metadata<std::vector<std::string>>();
    repair_option_metadata<std::string>();
    repair_option_metadata<int64_t>();
    repair_option_metadata<bool>();
    return true;
  }();
  (void) repaired;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  for (auto v : variables)
    ::unsetenv(std::string{v}.c_str());
  std::string_view ini;
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    if (line == "--") {
      ini = in;
      break;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      continue;
    std::string name{line.substr(0, eq)};
    std::string value{line.substr(eq + 1)};
    if (known(name) && value.find('\0') == std::string::npos)
      ::setenv(name.c_str(), value.c_str(), 1);
  }
  caf::actor_system_config cfg;
  caflens::add_config_options(cfg);
  std::istringstream text{std::string{ini}};
  char prog[] = "caflens-config-fuzzer";
  char* argv[] = {prog, nullptr};
  if (cfg.parse(1, argv, text))
    return 0; // CAF refused the INI text: an error, as for any application
  auto merged = caflens::configure(cfg);
  if (!merged) {
    auto text = caflens::render_error(merged.error());
    if (text.empty())
      std::abort(); // an error that says nothing
    return 0;
  }
  if (merged->validate())
    std::abort(); // configure returned what validate refuses
  return 0;
}
