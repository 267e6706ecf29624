// Runs caflens::llm against every scenario of the LLM wire kit
// (../shared/llm-wire-kit): starts the kit's replay server once, switches
// scenarios through /_kit/reset, runs a small tool loop per scenario and
// checks the outcome, the number of requests, the answered tool ids and the
// kit's validator log (no violations). Prints "N passed, M failed".
//
//   caflens-llm-wire-kit --kit DIR [--only NAME]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "caflens/llm/all.hpp"
#include "caflens/telemetry/trace_id.hpp"

using namespace caflens::llm;
using nlohmann::json;

namespace {

const std::string anthropic_key = "sk-ant-wirekit-TESTKEY-0123456789abcdef";
const std::string openai_key = "sk-test-wirekit-KEY0123456789abcdef1234";
const std::string log_path =
  "/tmp/caflens-llm-wire-kit-" + std::to_string(::getpid()) + ".jsonl";

struct expectation {
  std::string outcome; // "text" or an llm_errc name
  int requests;        // per route (-1: do not check)
  std::vector<std::string> answered_ids;
  bool check_gap = false; // second request >= 1 s after the first
};

const std::map<std::string, expectation> expectations{
  {"anthropic_happy", {"text", 2, {"toolu_01LRanfq6DmHn1yDTB4d1SAh"}}},
  {"anthropic_parallel_tools",
   {"text",
    2,
    {"toolu_01A09q90qw90lq917835lq9", "toolu_01BX8dUgqjqNNEWj9yvrHq7P"}}},
  {"anthropic_rate_limited_then_ok", {"text", 3, {}, true}},
  {"anthropic_overloaded", {"overloaded", 4, {}}},
  {"anthropic_overloaded_then_ok", {"text", 4, {}}},
  {"anthropic_server_error_then_ok", {"text", 3, {}}},
  {"anthropic_auth_error", {"auth_failed", 1, {}}},
  {"anthropic_bad_request", {"bad_request", 1, {}}},
  {"anthropic_max_tokens", {"response_truncated", 1, {}}},
  {"anthropic_unknown_tool_then_ok",
   {"text", 3, {"toolu_01Uq6bN3xWmP8sYtR4kDzF2v"}}},
  {"anthropic_invalid_input_then_ok",
   {"text", 3, {"toolu_01Ck9ZrT2yHwQb6nVm4XsP8e"}}},
  {"openai_happy", {"text", 2, {"call_CUdUoJpsWWVdxXntucvnol1M"}}},
  {"openai_parallel_tools",
   {"text",
    2,
    {"call_fdNz3vOBKYgOIpMdWotB9MjY", "call_h1DWI1POMJLb0KwIyQHWXD4p"}}},
  {"openai_rate_limited_then_ok", {"text", 3, {}, true}},
  {"openai_quota_exhausted", {"quota_exceeded", 1, {}}},
  {"openai_auth_error", {"auth_failed", 1, {}}},
  {"openai_server_error_then_ok", {"text", 3, {}}},
  {"openai_length", {"response_truncated", 1, {}}},
  {"ollama_happy", {"text", 2, {"call_k3h9x2qa"}}},
  {"ollama_legacy_finish_reason", {"text", 2, {"call_x7r2m9qd"}}},
  {"ollama_model_not_found", {"model_not_found", 1, {}}},
  {"ollama_no_tool_support", {"bad_request", 1, {}}},
  {"ollama_busy_then_ok", {"text", 3, {}}},
  {"llamacpp_happy", {"text", 2, {"yLk3Vq8ZtB7mWc2Lr8YvN4sHd6FgJ1aQ"}}},
  {"llamacpp_loading_then_ok", {"text", 4, {}}},
  {"llamacpp_context_exceeded", {"context_overflow", 1, {}}},
  {"vllm_happy",
   {"text", 2, {"chatcmpl-tool-a1b2c3d4e5f60718293a4b5c6d7e8f90"}}},
  {"vllm_flat_error", {"bad_request", 1, {}}},
  {"openrouter_happy", {"text", 2, {}}},
  {"openrouter_error_in_200_then_ok", {"text", 3, {}}},
  {"small_model_json_in_content", {"text", 2, {}}},
  {"small_model_json_bare", {"text", 2, {}}},
  {"small_model_hermes_tags", {"text", 2, {}}},
  {"invalid_arguments_then_ok", {"text", 3, {"call_Qm8sZ2vXk4Lb7NwPc1Rt9HyD"}}},
  {"invalid_arguments_forever", {"invalid_tool_call", 3, {}}},
  {"schema_invalid_arguments_then_ok",
   {"text", 3, {"call_Wn3tB6yKp9Rd2QhXs5Lv8CzF"}}},
  {"unknown_tool_then_ok", {"text", 3, {"call_Kd5vF8mNq2Xs7TbZw4Hy1LcR"}}},
  {"truncated_body", {"text", 3, {}}},
  {"hang", {"text", 3, {}}},
  {"empty_reply", {"text", 3, {}}},
  {"connection_reset", {"text", 3, {}}},
  {"non_json_body", {"text", 3, {}}},
  {"slow_response", {"text", 2, {}}},
  {"fallback_primary_overloaded", {"text", -1, {}}},
};

tool_set kit_tool_set() {
  using p = tool_parameter;
  return tool_set{
    tool_definition{
      "get_weather",
      "Lookup the weather for a given city in either celsius or fahrenheit",
      {p::string("location", "The city and state, e.g. San Francisco, CA")
         .title("Location"),
       p::string("units",
                 "Unit for the output, either 'c' for celsius or 'f' for "
                 "fahrenheit")
         .title("Units")
         .one_of({"c", "f"})}},
    tool_definition{
      "get_time",
      "Get the current local time in a given IANA time zone",
      {p::string("timezone", "IANA time zone name, e.g. America/Los_Angeles")}},
  };
}

client_config make_config(provider_kind kind, int port,
                          const std::string& scenario) {
  client_config cfg;
  cfg.provider = kind;
  auto base = "http://127.0.0.1:" + std::to_string(port);
  if (kind == provider_kind::anthropic) {
    cfg.name = "anthropic";
    cfg.base_url = base;
    cfg.model = "claude-haiku-4-5";
    cfg.api_key_env = "WIREKIT_ANTHROPIC_KEY";
    cfg.price_input_per_million = 1;
    cfg.price_output_per_million = 5;
    cfg.price_cache_read_per_million = 0.1;
  } else {
    cfg.name = "openai";
    cfg.base_url = base + "/v1";
    cfg.model = "gpt-4o";
    cfg.api_key_env = "WIREKIT_OPENAI_KEY";
    cfg.price_input_per_million = 2.5;
    cfg.price_output_per_million = 10;
  }
  cfg.connect_timeout = std::chrono::milliseconds{1000};
  cfg.read_timeout = std::chrono::milliseconds{1000};
  cfg.retry.max_attempts = 4;
  cfg.retry.initial_backoff = std::chrono::milliseconds{50};
  cfg.retry.max_backoff = std::chrono::milliseconds{400};
  cfg.retry.max_retry_after = std::chrono::milliseconds{5000};
  cfg.breaker.failure_threshold = 4;
  cfg.breaker.open_duration = std::chrono::milliseconds{60000};
  if (scenario == "anthropic_max_tokens")
    cfg.max_tokens = 32;
  else if (scenario == "openai_length")
    cfg.max_tokens = 16;
  else
    cfg.max_tokens = 1024;
  return cfg;
}

client_services services() {
  client_services svc;
  svc.seed = 7;
  svc.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "WIREKIT_ANTHROPIC_KEY")
      return anthropic_key;
    if (name == "WIREKIT_OPENAI_KEY")
      return openai_key;
    return std::nullopt;
  };
  return svc;
}

struct outcome {
  std::string kind; // "text" or the llm_errc name
  std::string text;
};

outcome run_investigation(client_registry& reg) {
  llm_brain_config cfg;
  cfg.max_reasks = 2;
  llm_brain brain{std::shared_ptr<client_registry>(&reg, [](auto*) {}), cfg};
  conversation conv{"You are a helpful assistant.",
                    caflens::telemetry::generate_trace_id()};
  conv.add_user("What's the weather in San Francisco, CA in Fahrenheit?");
  auto tools = kit_tool_set();
  for (int step = 0; step < 8; ++step) {
    auto call = brain.decide(conv, tools);
    if (!call) {
      auto code = llm_code(call.error());
      return {code ? to_string(*code) : "error",
              caflens::render_error(call.error())};
    }
    if (call->name == "done")
      return {"text", call->arguments.value("answer", "")};
    if (call->name == "get_weather")
      conv.add_tool_result(call->id,
                           R"({"location": "San Francisco, CA", )"
                           R"("temperature": "68°F", "condition": "Sunny"})");
    else
      conv.add_tool_result(call->id, R"({"time": "10:00", "timezone": )"
                                     R"("America/Los_Angeles"})");
  }
  return {"loop_limit", "no final answer after 8 steps"};
}

struct kit_server {
  pid_t pid = -1;
  int port = 0;

  bool start(const std::string& kit) {
    int out[2];
    if (::pipe(out) != 0)
      return false;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      auto server = kit + "/server.py";
      execlp("python3", "python3", server.c_str(), "--scenario",
             "anthropic_happy", "--port", "0", "--log", log_path.c_str(),
             "--hang-max-s", "10", static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    ::close(out[0]);
    port = std::atoi(line.c_str());
    return port > 0;
  }

  ~kit_server() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

std::vector<json> log_lines(const std::string& scenario, int after_seq) {
  std::ifstream in{log_path};
  std::vector<json> result;
  std::string line;
  while (std::getline(in, line)) {
    auto doc = json::parse(line, nullptr, false);
    if (doc.is_discarded())
      continue;
    if (doc.value("scenario", "") == scenario &&
        doc.value("seq", 0) > after_seq)
      result.push_back(std::move(doc));
  }
  return result;
}

double ts_seconds(const std::string& ts) {
  // "2026-11-21T15:47:09.101+00:00": compare within one day is enough.
  auto t = ts.substr(11, 12);
  return std::stod(t.substr(0, 2)) * 3600 + std::stod(t.substr(3, 2)) * 60 +
         std::stod(t.substr(6));
}

} // namespace

int main(int argc, char** argv) {
  std::string kit;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--kit")
      kit = argv[i + 1];
    else if (arg == "--only")
      only = argv[i + 1];
  }
  std::ifstream probe{kit + "/scenarios.json"};
  if (kit.empty() || !probe) {
    std::cerr << "FATAL: LLM wire kit not found at '" << kit
              << "' (expected ../shared/llm-wire-kit beside the repository)\n";
    return 2;
  }
  json scenarios;
  probe >> scenarios;
  kit_server server;
  if (!server.start(kit)) {
    std::cerr << "FATAL: could not start " << kit << "/server.py\n";
    return 2;
  }
  httplib::Client control{"127.0.0.1", server.port};
  int passed = 0;
  int failed = 0;
  int last_seq = 0;
  for (auto& [name, spec] : scenarios.items()) {
    if (name.front() == '_' || (!only.empty() && name != only))
      continue;
    std::vector<std::string> problems;
    auto exp_i = expectations.find(name);
    if (exp_i == expectations.end()) {
      std::cout << "FAIL " << name << ": no expectation in wire_kit.cpp\n";
      ++failed;
      continue;
    }
    auto& exp = exp_i->second;
    if (!control.Post(("/_kit/reset?scenario=" + name).c_str(), "",
                      "application/json")) {
      std::cout << "FAIL " << name << ": cannot reset the kit server\n";
      ++failed;
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, outcome>> runs;
    if (name == "fallback_primary_overloaded") {
      client_registry reg;
      reg.add(make_config(provider_kind::anthropic, server.port, name),
              services());
      reg.add(make_config(provider_kind::openai_compatible, server.port, name),
              services());
      reg.set_fallbacks("anthropic", {"openai"});
      for (int i = 0; i < 3; ++i)
        runs.emplace_back("investigation " + std::to_string(i + 1),
                          run_investigation(reg));
    } else {
      std::vector<provider_kind> kinds;
      if (spec.contains("routes"))
        kinds = {provider_kind::anthropic, provider_kind::openai_compatible};
      else if (name.rfind("anthropic_", 0) == 0)
        kinds = {provider_kind::anthropic};
      else
        kinds = {provider_kind::openai_compatible};
      for (auto kind : kinds) {
        client_registry reg;
        reg.add(make_config(kind, server.port, name), services());
        runs.emplace_back(std::string{to_string(kind)}, run_investigation(reg));
      }
    }
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
    for (auto& [label, out] : runs) {
      if (out.kind != exp.outcome)
        problems.push_back(label + ": outcome " + out.kind + " (" + out.text +
                           "), expected " + exp.outcome);
      for (auto key : {anthropic_key, openai_key})
        if (out.text.find(key) != std::string::npos)
          problems.push_back(label + ": the API key appears in the outcome");
    }
    auto lines = log_lines(name, last_seq);
    for (auto& l : lines)
      last_seq = std::max(last_seq, l.value("seq", 0));
    std::map<std::string, std::vector<json>> by_route;
    for (auto& l : lines) {
      by_route[l.value("route", "?")].push_back(l);
      for (auto& v : l.value("violations", json::array()))
        problems.push_back("violation in request " +
                           std::to_string(l.value("seq", 0)) + ": " +
                           v.get<std::string>());
      auto body = l.value("body", json{}).dump();
      for (auto key : {anthropic_key, openai_key})
        if (body.find(key) != std::string::npos)
          problems.push_back("the API key appears in a request body");
    }
    if (name == "fallback_primary_overloaded") {
      auto primary = by_route["/v1/messages"].size();
      if (primary != 4)
        problems.push_back("expected 4 requests to the primary (bounded "
                           "retries, then the breaker keeps later "
                           "investigations off it), got " +
                           std::to_string(primary));
      if (by_route["/v1/chat/completions"].empty())
        problems.push_back("the fallback client was never used");
    } else if (exp.requests >= 0) {
      for (auto& [route, xs] : by_route)
        if (static_cast<int>(xs.size()) != exp.requests)
          problems.push_back(route + ": " + std::to_string(xs.size()) +
                             " requests, expected " +
                             std::to_string(exp.requests));
      if (by_route.empty())
        problems.push_back("no request reached the kit");
    }
    for (auto& id : exp.answered_ids) {
      // The request after the tool call must answer the id, in one message.
      bool found = false;
      for (auto& l : lines) {
        auto& msgs = l["body"]["messages"];
        if (!msgs.is_array())
          continue;
        for (auto& m : msgs) {
          auto dumped = m.dump();
          if ((m.value("role", "") == "tool" &&
               m.value("tool_call_id", "") == id) ||
              (m.value("role", "") == "user" &&
               dumped.find("\"tool_use_id\":\"" + id + "\"") !=
                 std::string::npos))
            found = true;
        }
      }
      if (!found)
        problems.push_back("tool id " + id + " was never answered");
    }
    if (name == "anthropic_parallel_tools" && lines.size() >= 2) {
      auto& last = lines[1]["body"]["messages"].back();
      auto dumped = last.dump();
      if (last.value("role", "") != "user" ||
          dumped.find(exp.answered_ids[0]) == std::string::npos ||
          dumped.find(exp.answered_ids[1]) == std::string::npos)
        problems.push_back("both tool results must be in ONE user message");
    }
    if (exp.check_gap) {
      if (lines.size() < 2 || ts_seconds(lines[1].value("ts", "")) -
                                  ts_seconds(lines[0].value("ts", "")) <
                                0.99)
        problems.push_back("retry-after: the retry came less than 1 s after "
                           "the 429");
    }
    if (problems.empty()) {
      ++passed;
      std::cout << "PASS " << name << " (" << lines.size() << " requests, "
                << elapsed.count() << " ms)\n";
    } else {
      ++failed;
      std::cout << "FAIL " << name << ":\n";
      for (auto& p : problems)
        std::cout << "    " << p << "\n";
    }
  }
  std::remove(log_path.c_str());
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}
