#include "caflens/llm/wire_format.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

wire_format::~wire_format() = default;

namespace {

using json = nlohmann::json;

std::string lower(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return lower(haystack).find(needle) != std::string::npos;
}

std::string str_of(const json& x, const char* key) {
  if (!x.is_object())
    return {};
  auto i = x.find(key);
  if (i == x.end() || i->is_null())
    return {};
  if (i->is_string())
    return i->get<std::string>();
  return i->dump();
}

int64_t int_of(const json& x, const char* key) {
  if (!x.is_object())
    return 0;
  auto i = x.find(key);
  if (i == x.end() || !i->is_number())
    return 0;
  if (i->is_number_float()) {
    // A float outside int64's range does not convert (UB; found by the
    // llm_response fuzzer): token counts that large are nonsense anyway.
    auto d = i->get<double>();
    if (!(d >= -9.2e18 && d <= 9.2e18))
      return 0;
    return static_cast<int64_t>(d);
  }
  if (i->is_number_unsigned() && i->get<uint64_t>() > INT64_MAX)
    return 0;
  return i->get<int64_t>();
}

std::string snippet(std::string_view body) {
  std::string result;
  bool in_tag = false;
  for (auto c : body) {
    if (c == '<')
      in_tag = true;
    else if (c == '>')
      in_tag = false;
    else if (!in_tag && !(std::isspace(static_cast<unsigned char>(c)) &&
                          !result.empty() && result.back() == ' '))
      result += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
    if (result.size() >= 120)
      break;
  }
  return result;
}

// Maps an HTTP status plus the error body's type/code/message to an error.
caf::error classify(int status, const std::string& type,
                    const std::string& code, const std::string& msg) {
  auto text =
    "HTTP " + std::to_string(status) + (type.empty() ? "" : " " + type) +
    (code.empty() || code == type ? "" : " (" + code + ")") + ": " + msg;
  auto overflow =
    type == "exceed_context_size_error" || code == "context_length_exceeded" ||
    contains(msg, "context length") || contains(msg, "context size") ||
    contains(msg, "context window") || contains(msg, "prompt is too long") ||
    contains(msg, "maximum context");
  auto e = [&](llm_errc c) { return detail::llm_error(c, text); };
  if (status == 401 || status == 403 || type == "authentication_error" ||
      type == "permission_error")
    return e(llm_errc::auth_failed);
  if (status == 404)
    return e(llm_errc::model_not_found);
  if (status == 408)
    return e(llm_errc::timeout);
  if (status == 429) {
    if (type == "insufficient_quota" || code == "insufficient_quota" ||
        code == "billing_hard_limit_reached" || contains(msg, "quota") ||
        contains(msg, "billing") || contains(msg, "credit"))
      return e(llm_errc::quota_exceeded);
    return e(llm_errc::rate_limited);
  }
  if (status == 413 || overflow)
    return e(overflow ? llm_errc::context_overflow : llm_errc::bad_request);
  if (status == 529 || status == 503 || type == "overloaded_error")
    return e(llm_errc::overloaded);
  if (status >= 500 || status == 409)
    return e(llm_errc::server_error);
  if (status == 402)
    return e(llm_errc::quota_exceeded);
  return e(llm_errc::bad_request);
}

/// Runs a decoder: a reply of a shape the decoder does not expect somewhere
/// is an `invalid_response`, never an exception (found by the
/// llm_response fuzzer: an "object" member that was not a string).
template <class F>
caf::expected<completion> guarded_decode(const http_response& resp, F&& f) {
  try {
    return f();
  } catch (const std::exception& ex) {
    return detail::llm_error(llm_errc::invalid_response,
                             "HTTP " + std::to_string(resp.status)
                               + ": malformed reply (" + ex.what()
                               + "): " + snippet(resp.body));
  }
}

// Reads the nested {error:{message,type,code}} and the flat
// {object:"error", message, type, code} shapes.
caf::error error_from_body(int status, const json& doc) {
  const json* err = &doc;
  if (auto i = doc.find("error"); i != doc.end()) {
    if (i->is_object())
      err = &*i;
    else if (i->is_string())
      return classify(status, "", "", i->get<std::string>());
  }
  auto type = str_of(*err, "type");
  auto code = str_of(*err, "code");
  auto msg = str_of(*err, "message");
  if (msg.empty())
    msg = snippet(doc.dump());
  // OpenRouter and llama.cpp put an integer HTTP-like code in error.code; a
  // 200 carrying an error is classified by that code.
  auto effective = status;
  if (auto c = err->find("code"); c != err->end() && c->is_number_integer()) {
    auto n = c->get<int>();
    if (status < 400 && n >= 400 && n < 600)
      effective = n;
  }
  if (effective < 400)
    effective = 500; // an error without a usable code: treat as server side
  return classify(effective, type, code, msg);
}

caf::error non_json(int status, const http_response& resp,
                    const std::string& why) {
  auto ctype = resp.header("content-type").value_or("?");
  auto text = "HTTP " + std::to_string(status) + " with a body that is not " +
              why + " (" + ctype + "): " + snippet(resp.body);
  if (status >= 400)
    return classify(status, "", "",
                    "non-JSON body (" + ctype + "): " + snippet(resp.body));
  return detail::llm_error(llm_errc::invalid_response, text);
}

void add_header(std::vector<http_header>& xs, std::string key,
                std::string val) {
  xs.emplace_back(std::move(key), std::move(val));
}

std::string nonempty(std::string x, const char* fallback) {
  auto blank = std::all_of(x.begin(), x.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  });
  return blank ? std::string{fallback} : x;
}

// -- Anthropic Messages API ---------------------------------------------------

class anthropic_format : public wire_format {
public:
  provider_kind kind() const noexcept override {
    return provider_kind::anthropic;
  }

  std::vector<http_header> headers(const client_config& cfg,
                                   const std::string& api_key) const override {
    std::vector<http_header> result;
    add_header(result, "content-type", "application/json");
    add_header(result, "accept",
               cfg.stream ? "text/event-stream" : "application/json");
    add_header(result, "anthropic-version", cfg.anthropic_version);
    if (!api_key.empty())
      add_header(result, "x-api-key", api_key);
    return result;
  }

  json encode(const completion_request& req,
              const client_config& cfg) const override {
    json body{{"model", cfg.model},
              {"max_tokens", req.max_tokens.value_or(cfg.max_tokens)}};
    std::string system = req.system;
    json msgs = json::array();
    // Blocks of the message being built; tool_result blocks go first.
    std::string cur_role;
    json results = json::array();
    json others = json::array();
    auto flush = [&] {
      if (cur_role.empty())
        return;
      json content = json::array();
      for (auto& b : results)
        content.push_back(b);
      for (auto& b : others)
        content.push_back(b);
      if (content.empty())
        content.push_back({{"type", "text"}, {"text", "(empty)"}});
      msgs.push_back({{"role", cur_role}, {"content", std::move(content)}});
      results = json::array();
      others = json::array();
      cur_role.clear();
    };
    auto open = [&](const std::string& r) {
      if (cur_role != r) {
        flush();
        cur_role = r;
      }
    };
    for (auto& m : req.messages) {
      switch (m.role) {
        case role::system:
          system += (system.empty() ? "" : "\n\n") + m.text;
          break;
        case role::user:
          open("user");
          others.push_back(
            {{"type", "text"}, {"text", nonempty(m.text, "(empty)")}});
          break;
        case role::tool: {
          open("user");
          json block{{"type", "tool_result"},
                     {"tool_use_id", m.tool_call_id},
                     {"content", nonempty(m.text, "(empty)")}};
          if (m.is_error)
            block["is_error"] = true;
          results.push_back(std::move(block));
          break;
        }
        case role::assistant: {
          // Two assistant turns in a row are separate turns.
          flush();
          open("assistant");
          if (!m.text.empty() || m.tool_calls.empty())
            others.push_back(
              {{"type", "text"}, {"text", nonempty(m.text, "(no content)")}});
          for (auto& call : m.tool_calls)
            others.push_back(
              {{"type", "tool_use"},
               {"id", call.id},
               {"name", call.name},
               {"input",
                call.arguments.is_object() ? call.arguments : json::object()}});
          flush();
          break;
        }
      }
    }
    flush();
    // The first message must come from the user.
    if (msgs.empty() || msgs.front()["role"] != "user")
      msgs.insert(msgs.begin(),
                  json{{"role", "user"},
                       {"content", json::array({{{"type", "text"},
                                                 {"text", "(continue)"}}})}});
    if (!system.empty())
      body["system"] = system;
    body["messages"] = std::move(msgs);
    if (!req.tools.empty()) {
      json tools = json::array();
      for (auto& t : req.tools.tools())
        tools.push_back(
          {{"name", t.name()},
           {"description", nonempty(t.description(), t.name().c_str())},
           {"input_schema", t.input_schema()}});
      body["tools"] = std::move(tools);
      if (!req.forced_tool.empty() && req.tools.find(req.forced_tool))
        body["tool_choice"] = {{"type", "tool"}, {"name", req.forced_tool}};
    }
    if (cfg.temperature)
      body["temperature"] = *cfg.temperature;
    if (cfg.stream)
      body["stream"] = true;
    return body;
  }

  caf::expected<completion> decode(const http_response& resp) const override {
    return guarded_decode(resp, [&] { return decode_unguarded(resp); });
  }

  caf::expected<completion> decode_unguarded(const http_response& resp) const {
    auto doc = json::parse(resp.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return non_json(resp.status, resp, "JSON");
    if (resp.status < 200 || resp.status >= 300 || doc.contains("error") ||
        str_of(doc, "type") == "error")
      return error_from_body(resp.status, doc);
    auto content = doc.find("content");
    if (content == doc.end() || !content->is_array())
      return detail::llm_error(
        llm_errc::invalid_response,
        "HTTP " + std::to_string(resp.status) +
          ": Anthropic reply without a content array: " + snippet(resp.body));
    completion result;
    for (auto& block : *content) {
      auto type = str_of(block, "type");
      if (type == "text") {
        auto text = str_of(block, "text");
        if (!result.text.empty() && !text.empty())
          result.text += "\n";
        result.text += text;
      } else if (type == "tool_use") {
        tool_call call;
        call.id = str_of(block, "id");
        call.name = str_of(block, "name");
        auto input = block.find("input");
        if (input == block.end() || input->is_null())
          call.arguments = json::object();
        else if (input->is_string()) {
          call.arguments_text = input->get<std::string>();
          call.arguments = json::parse(call.arguments_text, nullptr, false);
          if (call.arguments.is_discarded())
            call.arguments = nullptr;
        } else
          call.arguments = *input;
        result.tool_calls.push_back(std::move(call));
      }
    }
    result.stop_reason = str_of(doc, "stop_reason");
    result.truncated = result.stop_reason == "max_tokens";
    result.response_id = str_of(doc, "id");
    result.model = str_of(doc, "model");
    if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
      result.usage.input_tokens = int_of(*u, "input_tokens");
      result.usage.output_tokens = int_of(*u, "output_tokens");
      result.usage.cache_read_tokens = int_of(*u, "cache_read_input_tokens");
      result.usage.cache_creation_tokens =
        int_of(*u, "cache_creation_input_tokens");
    }
    return result;
  }
};

// -- OpenAI-compatible Chat Completions ---------------------------------------

class openai_format : public wire_format {
public:
  provider_kind kind() const noexcept override {
    return provider_kind::openai_compatible;
  }

  std::vector<http_header> headers(const client_config& cfg,
                                   const std::string& api_key) const override {
    std::vector<http_header> result;
    add_header(result, "content-type", "application/json");
    add_header(result, "accept",
               cfg.stream ? "text/event-stream" : "application/json");
    if (!api_key.empty())
      add_header(result, "authorization", "Bearer " + api_key);
    return result;
  }

  json encode(const completion_request& req,
              const client_config& cfg) const override {
    json msgs = json::array();
    if (!req.system.empty())
      msgs.push_back({{"role", "system"}, {"content", req.system}});
    for (auto& m : req.messages) {
      switch (m.role) {
        case role::system:
          msgs.push_back({{"role", "system"}, {"content", m.text}});
          break;
        case role::user:
          msgs.push_back(
            {{"role", "user"}, {"content", nonempty(m.text, "(empty)")}});
          break;
        case role::tool:
          msgs.push_back(
            {{"role", "tool"},
             {"tool_call_id", m.tool_call_id},
             {"content",
              m.is_error ? "ERROR: " + m.text : nonempty(m.text, "(empty)")}});
          break;
        case role::assistant: {
          json out{{"role", "assistant"}};
          if (m.tool_calls.empty()) {
            out["content"] = m.text;
          } else {
            out["content"] = m.text.empty() ? json(nullptr) : json(m.text);
            json calls = json::array();
            for (auto& call : m.tool_calls) {
              auto args =
                !call.arguments_text.empty()
                  ? call.arguments_text
                  : (call.arguments.is_null() ? std::string{"{}"}
                                              : call.arguments.dump());
              calls.push_back(
                {{"id", call.id},
                 {"type", "function"},
                 {"function", {{"name", call.name}, {"arguments", args}}}});
            }
            out["tool_calls"] = std::move(calls);
          }
          msgs.push_back(std::move(out));
          break;
        }
      }
    }
    json body{{"model", cfg.model}, {"messages", std::move(msgs)}};
    // OpenAI's current name for the output limit; local servers know the
    // old one.
    auto completion_name = cfg.max_completion_tokens.value_or(
      cfg.base_url.find("api.openai.com") != std::string::npos);
    body[completion_name ? "max_completion_tokens" : "max_tokens"]
      = req.max_tokens.value_or(cfg.max_tokens);
    if (cfg.send_num_ctx && cfg.context_window)
      body["options"] = {{"num_ctx", *cfg.context_window}};
    if (!req.tools.empty()) {
      json tools = json::array();
      for (auto& t : req.tools.tools())
        tools.push_back({{"type", "function"},
                         {"function",
                          {{"name", t.name()},
                           {"description", t.description()},
                           {"parameters", t.input_schema()}}}});
      body["tools"] = std::move(tools);
      if (!req.forced_tool.empty() && req.tools.find(req.forced_tool))
        body["tool_choice"] = {{"type", "function"},
                               {"function", {{"name", req.forced_tool}}}};
    }
    if (cfg.temperature)
      body["temperature"] = *cfg.temperature;
    if (cfg.stream) {
      body["stream"] = true;
      // Without it the stream carries no token counts.
      body["stream_options"] = {{"include_usage", true}};
    }
    return body;
  }

  caf::expected<completion> decode(const http_response& resp) const override {
    return guarded_decode(resp, [&] { return decode_unguarded(resp); });
  }

  caf::expected<completion> decode_unguarded(const http_response& resp) const {
    auto doc = json::parse(resp.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return non_json(resp.status, resp, "JSON");
    if (resp.status < 200 || resp.status >= 300)
      return error_from_body(resp.status, doc);
    auto choices = doc.find("choices");
    if (choices == doc.end() || !choices->is_array() || choices->empty()) {
      if (doc.contains("error") || str_of(doc, "object") == "error")
        return error_from_body(resp.status, doc);
      return detail::llm_error(
        llm_errc::invalid_response,
        "HTTP " + std::to_string(resp.status) +
          ": reply without choices: " + snippet(resp.body));
    }
    auto& choice = choices->front();
    completion result;
    result.stop_reason = str_of(choice, "finish_reason");
    result.truncated = result.stop_reason == "length";
    auto msg = choice.find("message");
    if (msg != choice.end() && msg->is_object()) {
      if (auto c = msg->find("content"); c != msg->end()) {
        if (c->is_string())
          result.text = c->get<std::string>();
        else if (c->is_array())
          for (auto& part : *c)
            result.text += str_of(part, "text");
      }
      if (auto calls = msg->find("tool_calls");
          calls != msg->end() && calls->is_array()) {
        for (auto& c : *calls) {
          tool_call call;
          call.id = str_of(c, "id");
          if (call.id.empty())
            call.id = "call_" + std::to_string(result.tool_calls.size() + 1);
          auto fn = c.find("function");
          if (fn != c.end() && fn->is_object()) {
            call.name = str_of(*fn, "name");
            auto args = fn->find("arguments");
            if (args == fn->end() || args->is_null()) {
              call.arguments = json::object();
            } else if (args->is_string()) {
              call.arguments_text = args->get<std::string>();
              if (call.arguments_text.empty())
                call.arguments = json::object();
              else {
                call.arguments =
                  json::parse(call.arguments_text, nullptr, false);
                if (call.arguments.is_discarded())
                  call.arguments = nullptr;
              }
            } else {
              call.arguments = *args;
            }
          }
          result.tool_calls.push_back(std::move(call));
        }
      }
    }
    result.response_id = str_of(doc, "id");
    result.model = str_of(doc, "model");
    if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
      auto prompt = int_of(*u, "prompt_tokens");
      int64_t cached = 0;
      if (auto d = u->find("prompt_tokens_details");
          d != u->end() && d->is_object())
        cached = int_of(*d, "cached_tokens");
      result.usage.cache_read_tokens = cached;
      result.usage.input_tokens = prompt - std::min(prompt, cached);
      result.usage.output_tokens = int_of(*u, "completion_tokens");
    }
    return result;
  }
};

} // namespace

std::unique_ptr<wire_format> wire_format::make(provider_kind kind) {
  if (kind == provider_kind::anthropic)
    return std::make_unique<anthropic_format>();
  return std::make_unique<openai_format>();
}

} // namespace caflens::llm
