// libFuzzer target for the JSON bridge: bytes parsed as JSON go into Lua as a
// callback result, back out as a callback argument, into Lua again and out as
// the script's result. What comes out must equal what went in (with the
// documented mappings), or fail with a depth or size error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "caflens/sandbox/all.hpp"
#include "caflens/telemetry/error.hpp"

namespace {

using namespace caflens::sandbox;
using nlohmann::json;

// The documented mappings: unsigned beyond int64 → float, NaN/inf → null.
json normalize(const json& x) {
  switch (x.type()) {
    case json::value_t::number_unsigned: {
      auto u = x.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX))
        return json(static_cast<double>(u));
      return json(static_cast<int64_t>(u));
    }
    case json::value_t::number_float:
      return std::isfinite(x.get<double>()) ? x : json{};
    case json::value_t::array: {
      auto result = json::array();
      for (auto& e : x)
        result.push_back(normalize(e));
      return result;
    }
    case json::value_t::object: {
      auto result = json::object();
      for (auto it = x.begin(); it != x.end(); ++it)
        result[it.key()] = normalize(it.value());
      return result;
    }
    default:
      return x;
  }
}

bool same(const json& x, const json& y) {
  if (x.type() != y.type()) {
    // int64 and uint64 holding the same value are the same number.
    if (x.is_number_integer() && y.is_number_integer())
      return x == y;
    return false;
  }
  if (x.is_array() || x.is_object()) {
    if (x.size() != y.size())
      return false;
    if (x.is_array()) {
      for (size_t i = 0; i < x.size(); ++i)
        if (!same(x[i], y[i]))
          return false;
      return true;
    }
    for (auto it = x.begin(); it != x.end(); ++it) {
      auto jt = y.find(it.key());
      if (jt == y.end() || !same(*it, *jt))
        return false;
    }
    return true;
  }
  return x == y;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded())
    return 0;
  std::vector<callback> callbacks{
    callback{
      "input",
      {},
      "the fuzz input",
      [&doc](const std::vector<json>&) -> caf::expected<json> { return doc; }},
    callback{"echo",
             {"value"},
             "returns its argument",
             [](const std::vector<json>& args) -> caf::expected<json> {
               return args.empty() ? json{} : args[0];
             }},
  };
  limits lim;
  lim.max_memory_bytes = 32 * 1024 * 1024;
  lim.max_result_bytes = 4 * 1024 * 1024;
  static const sandbox box{lim, "fuzz"};
  auto res = box.execute("return echo(input())", callbacks);
  if (!res) {
    auto msg = caflens::error_context(res.error());
    auto code = res.error().code();
    bool expected_failure =
      res.error().category() == sandbox_errc_category &&
      (code == static_cast<uint8_t>(sandbox_errc::callback_failed) ||
       code == static_cast<uint8_t>(sandbox_errc::invalid_result) ||
       code == static_cast<uint8_t>(sandbox_errc::result_too_large)) &&
      (msg.find("max_json_depth") != std::string::npos ||
       msg.find("max_result_bytes") != std::string::npos ||
       msg.find("memory limit") != std::string::npos);
    if (!expected_failure) {
      std::fprintf(stderr, "unexpected error: %s\n",
                   caflens::render_error(res.error()).c_str());
      std::abort();
    }
    return 0;
  }
  auto want = normalize(doc);
  if (!same(res->value, want)) {
    std::fprintf(stderr, "round trip changed the value:\n in:  %s\n out: %s\n",
                 want.dump().c_str(), res->value.dump().c_str());
    std::abort();
  }
  return 0;
}
