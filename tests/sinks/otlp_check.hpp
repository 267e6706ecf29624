// Checks a request body against the OTLP/HTTP JSON mapping (the protobuf
// JSON mapping with OTLP's exceptions: hex trace and span ids, integer
// enums, 64-bit integers as decimal strings, lowerCamelCase keys).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace caflens::test {

struct otlp_checker {
  std::vector<std::string> problems;

  void fail(const std::string& where, const std::string& what) {
    problems.push_back(where + ": " + what);
  }

  static bool is_hex(const std::string& s, size_t n) {
    if (s.size() != n)
      return false;
    for (auto c : s)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return false;
    return s != std::string(n, '0');
  }

  void u64_string(const nlohmann::json& j, const char* key,
                  const std::string& where, bool required = true) {
    auto i = j.find(key);
    if (i == j.end()) {
      if (required)
        fail(where, std::string{"missing "} + key);
      return;
    }
    if (!i->is_string() || i->get<std::string>().empty()
        || i->get<std::string>().find_first_not_of("0123456789")
             != std::string::npos)
      fail(where, std::string{key} + " must be a decimal string, got "
                    + i->dump());
  }

  void any_value(const nlohmann::json& v, const std::string& where) {
    if (!v.is_object() || v.size() != 1) {
      fail(where, "AnyValue must have exactly one field: " + v.dump());
      return;
    }
    auto it = v.begin();
    const std::string k = it.key();
    const auto& x = it.value();
    if (k == "stringValue" && x.is_string())
      return;
    if (k == "boolValue" && x.is_boolean())
      return;
    if (k == "doubleValue" && x.is_number())
      return;
    if (k == "intValue") {
      if (!x.is_string() || x.get<std::string>().find_first_not_of(
                              "-0123456789")
                              != std::string::npos)
        fail(where, "intValue must be a decimal string");
      return;
    }
    fail(where, "unexpected AnyValue " + v.dump());
  }

  void attributes(const nlohmann::json& j, const std::string& where) {
    auto i = j.find("attributes");
    if (i == j.end())
      return;
    if (!i->is_array()) {
      fail(where, "attributes must be an array");
      return;
    }
    for (auto& kv : *i) {
      if (!kv.contains("key") || !kv["key"].is_string()
          || kv["key"].get<std::string>().empty())
        fail(where, "attribute without key: " + kv.dump());
      if (!kv.contains("value"))
        fail(where, "attribute without value: " + kv.dump());
      else
        any_value(kv["value"], where + "." + kv.value("key", "?"));
    }
  }

  void resource_and_scope(const nlohmann::json& r, const char* scopes,
                          const std::string& where) {
    if (!r.contains("resource"))
      fail(where, "missing resource");
    else
      attributes(r["resource"], where + ".resource");
    bool named = false;
    for (auto& kv : r["resource"].value("attributes", nlohmann::json::array()))
      named |= kv.value("key", "") == "service.name";
    if (!named)
      fail(where, "the resource has no service.name");
    if (!r.contains(scopes) || !r[scopes].is_array())
      fail(where, std::string{"missing "} + scopes);
  }

  void metrics_request(const nlohmann::json& body) {
    if (!body.contains("resourceMetrics")
        || !body["resourceMetrics"].is_array()) {
      fail("request", "missing resourceMetrics");
      return;
    }
    for (auto& rm : body["resourceMetrics"]) {
      resource_and_scope(rm, "scopeMetrics", "resourceMetrics");
      for (auto& sm : rm.value("scopeMetrics", nlohmann::json::array()))
        for (auto& m : sm.value("metrics", nlohmann::json::array()))
          metric(m);
    }
  }

  void metric(const nlohmann::json& m) {
    auto name = m.value("name", "");
    if (name.empty())
      fail("metric", "no name");
    int kinds = 0;
    for (auto k : {"gauge", "sum", "histogram", "exponentialHistogram",
                   "summary"})
      kinds += m.contains(k) ? 1 : 0;
    if (kinds != 1) {
      fail(name, "exactly one of gauge/sum/histogram/summary");
      return;
    }
    auto points = [&](const nlohmann::json& x) {
      return x.value("dataPoints", nlohmann::json::array());
    };
    if (m.contains("sum")) {
      auto& s = m["sum"];
      if (!s.contains("aggregationTemporality")
          || !s["aggregationTemporality"].is_number_integer()
          || s["aggregationTemporality"] < 1 || s["aggregationTemporality"] > 2)
        fail(name, "sum needs an integer aggregationTemporality 1..2");
      if (!s.contains("isMonotonic") || !s["isMonotonic"].is_boolean())
        fail(name, "sum needs isMonotonic");
    }
    for (auto k : {"gauge", "sum", "summary"}) {
      if (!m.contains(k))
        continue;
      for (auto& p : points(m[k])) {
        u64_string(p, "timeUnixNano", name);
        u64_string(p, "startTimeUnixNano", name, false);
        attributes(p, name);
        if (std::string{k} == "summary") {
          u64_string(p, "count", name);
          if (!p.contains("sum") || !p["sum"].is_number())
            fail(name, "summary point needs sum");
          for (auto& q : p.value("quantileValues", nlohmann::json::array()))
            if (!q["quantile"].is_number() || !q["value"].is_number()
                || q["quantile"] < 0 || q["quantile"] > 1)
              fail(name, "bad quantileValue " + q.dump());
        } else if (!(p.contains("asDouble") && p["asDouble"].is_number())
                   && !(p.contains("asInt") && p["asInt"].is_string())) {
          fail(name, "point needs asDouble (number) or asInt (string)");
        }
      }
    }
  }

  void traces_request(const nlohmann::json& body) {
    if (!body.contains("resourceSpans") || !body["resourceSpans"].is_array()) {
      fail("request", "missing resourceSpans");
      return;
    }
    for (auto& rs : body["resourceSpans"]) {
      resource_and_scope(rs, "scopeSpans", "resourceSpans");
      for (auto& ss : rs.value("scopeSpans", nlohmann::json::array()))
        for (auto& s : ss.value("spans", nlohmann::json::array()))
          span(s);
    }
  }

  void span(const nlohmann::json& s) {
    auto name = s.value("name", "");
    if (name.empty())
      fail("span", "no name");
    if (!is_hex(s.value("traceId", ""), 32))
      fail(name, "traceId must be 32 lowercase hex: " + s.value("traceId", ""));
    if (!is_hex(s.value("spanId", ""), 16))
      fail(name, "spanId must be 16 lowercase hex");
    auto parent = s.value("parentSpanId", "");
    if (!parent.empty() && !is_hex(parent, 16))
      fail(name, "parentSpanId must be empty or 16 hex");
    if (!s.contains("kind") || !s["kind"].is_number_integer()
        || s["kind"] < 0 || s["kind"] > 5)
      fail(name, "kind must be an integer 0..5");
    u64_string(s, "startTimeUnixNano", name);
    u64_string(s, "endTimeUnixNano", name);
    if (s.contains("startTimeUnixNano") && s.contains("endTimeUnixNano")
        && s["startTimeUnixNano"].is_string()
        && s["endTimeUnixNano"].is_string()
        && std::stoull(s["endTimeUnixNano"].get<std::string>())
             < std::stoull(s["startTimeUnixNano"].get<std::string>()))
      fail(name, "ends before it starts");
    attributes(s, name);
    if (s.contains("status")) {
      auto& st = s["status"];
      if (!st.contains("code") || !st["code"].is_number_integer()
          || st["code"] < 0 || st["code"] > 2)
        fail(name, "status.code must be an integer 0..2");
    }
  }
};

} // namespace caflens::test
