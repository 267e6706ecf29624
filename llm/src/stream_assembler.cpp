#include "caflens/llm/stream_assembler.hpp"

#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

stream_assembler::~stream_assembler() = default;

namespace {

using json = nlohmann::json;

std::string text_of(const json& x, const char* key) {
  if (!x.is_object())
    return {};
  auto i = x.find(key);
  return i != x.end() && i->is_string() ? i->get<std::string>()
                                        : std::string{};
}

/// `x[key]` when it is an object, else an empty object (never throws).
json object_of(const json& x, const char* key) {
  if (x.is_object())
    if (auto i = x.find(key); i != x.end() && i->is_object())
      return *i;
  return json::object();
}

/// `x[key]` when it is an integer, else `fallback` (never throws).
int64_t index_of(const json& x, int64_t fallback) {
  if (x.is_object())
    if (auto i = x.find("index"); i != x.end() && i->is_number_integer())
      return i->get<int64_t>();
  return fallback;
}

bool has_index(const json& x) {
  return x.is_object() && x.contains("index")
         && x["index"].is_number_integer();
}

std::string shortened(std::string_view x) {
  return std::string{x.substr(0, 120)} + (x.size() > 120 ? "..." : "");
}

/// The HTTP status an error event of a stream stands for (the provider
/// answered 200 before it failed), so that it is classified like the same
/// error sent up front.
int status_of_error(const json& doc) {
  const json* err = &doc;
  if (auto i = doc.find("error"); i != doc.end() && i->is_object())
    err = &*i;
  if (auto c = err->find("code"); c != err->end() && c->is_number_integer()) {
    auto n = c->get<int>();
    if (n >= 400 && n < 600)
      return n;
  }
  for (auto key : {"type", "code"}) {
    auto t = text_of(*err, key);
    if (t == "overloaded_error")
      return 529;
    if (t == "rate_limit_error" || t == "rate_limit_exceeded"
        || t == "insufficient_quota")
      return 429;
    if (t == "billing_error")
      return 402;
    if (t == "authentication_error" || t == "invalid_api_key")
      return 401;
    if (t == "permission_error")
      return 403;
    if (t == "not_found_error" || t == "model_not_found")
      return 404;
    if (t == "request_too_large")
      return 413;
    if (t == "invalid_request_error" || t == "context_length_exceeded")
      return 400;
  }
  return 500;
}

caf::error truncated(std::string_view terminal, const stream_progress& p) {
  return detail::llm_error(
    llm_errc::transport_error,
    "the stream ended after " + std::to_string(p.events) + " event(s) ("
      + std::to_string(p.text_bytes + p.tool_bytes)
      + " bytes of output) without " + std::string{terminal});
}

// -- Anthropic ----------------------------------------------------------------

class anthropic_assembler : public stream_assembler {
public:
  caf::expected<std::pair<int, std::string>> finish() override {
    feed("\n\n"); // an unterminated last event
    if (error_)
      return std::make_pair(status_of_error(*error_), error_->dump());
    if (!bad_event_.empty())
      return detail::llm_error(llm_errc::invalid_response,
                               "a stream event is not JSON: " + bad_event_);
    if (!progress_.complete)
      return truncated("message_stop", progress_);
    json content = json::array();
    for (auto& [index, block] : blocks_) {
      auto b = block;
      auto type = text_of(b, "type");
      if (type == "text") {
        b["text"] = texts_[index];
      } else if (type == "tool_use") {
        auto& raw = partial_[index];
        if (!raw.empty()) {
          auto input = json::parse(raw, nullptr, false);
          // Broken JSON stays a string: the decoder reports the arguments
          // as unparsable and the loop asks the model again.
          b["input"] = input.is_discarded() ? json(raw) : input;
        } else if (!b.contains("input")) {
          b["input"] = json::object();
        }
      } else {
        continue; // thinking and other blocks are not part of the reply
      }
      content.push_back(std::move(b));
    }
    message_["content"] = std::move(content);
    return std::make_pair(200, message_.dump(-1, ' ', false,
                                             json::error_handler_t::replace));
  }

protected:
  void on_event(const std::string& name, const std::string& data) override {
    auto doc = json::parse(data, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      if (bad_event_.empty())
        bad_event_ = (name.empty() ? "" : name + ": ") + shortened(data);
      return;
    }
    auto type = text_of(doc, "type");
    if (type.empty())
      type = name;
    if (type == "ping")
      return;
    ++progress_.events;
    auto index = index_of(doc, 0);
    if (type == "message_start") {
      if (auto m = doc.find("message"); m != doc.end() && m->is_object())
        for (auto& [key, val] : m->items())
          if (key != "content")
            message_[key] = val;
    } else if (type == "content_block_start") {
      auto block = object_of(doc, "content_block");
      if (text_of(block, "type") == "tool_use")
        ++progress_.tool_calls;
      texts_[index] = text_of(block, "text");
      blocks_[index] = std::move(block);
    } else if (type == "content_block_delta") {
      auto delta = object_of(doc, "delta");
      auto kind = text_of(delta, "type");
      if (kind == "text_delta") {
        auto piece = text_of(delta, "text");
        progress_.text_bytes += static_cast<int64_t>(piece.size());
        texts_[index] += piece;
      } else if (kind == "input_json_delta") {
        auto piece = text_of(delta, "partial_json");
        progress_.tool_bytes += static_cast<int64_t>(piece.size());
        partial_[index] += piece;
      }
    } else if (type == "message_delta") {
      if (auto d = doc.find("delta"); d != doc.end() && d->is_object())
        for (auto& [key, val] : d->items())
          message_[key] = val;
      if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
        auto& usage = message_["usage"];
        if (!usage.is_object())
          usage = json::object();
        for (auto& [key, val] : u->items())
          if (!val.is_null())
            usage[key] = val;
      }
    } else if (type == "message_stop") {
      progress_.complete = true;
    } else if (type == "error") {
      error_ = std::move(doc);
      progress_.complete = true;
    }
  }

private:
  json message_{{"type", "message"}, {"role", "assistant"}};
  std::map<int64_t, json> blocks_;
  std::map<int64_t, std::string> texts_;
  std::map<int64_t, std::string> partial_;
  std::optional<json> error_;
};

// -- OpenAI-compatible --------------------------------------------------------

class openai_assembler : public stream_assembler {
public:
  caf::expected<std::pair<int, std::string>> finish() override {
    feed("\n\n");
    if (error_)
      return std::make_pair(status_of_error(*error_), error_->dump());
    if (!bad_event_.empty())
      return detail::llm_error(llm_errc::invalid_response,
                               "a stream chunk is not JSON: " + bad_event_);
    if (!progress_.complete)
      return truncated("a finish reason or [DONE]", progress_);
    json msg{{"role", "assistant"}, {"content", nullptr}};
    if (!text_.empty())
      msg["content"] = text_;
    if (!calls_.empty()) {
      json calls = json::array();
      for (auto& [index, c] : calls_)
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name},
                                       {"arguments", c.arguments}}}});
      msg["tool_calls"] = std::move(calls);
    }
    json body{{"id", id_},
              {"object", "chat.completion"},
              {"model", model_},
              {"choices",
               json::array({{{"index", 0},
                             {"message", std::move(msg)},
                             {"finish_reason",
                              finish_.empty() ? json(nullptr)
                                              : json(finish_)}}})}};
    if (usage_)
      body["usage"] = *usage_;
    return std::make_pair(200, body.dump(-1, ' ', false,
                                         json::error_handler_t::replace));
  }

protected:
  void on_event(const std::string& name, const std::string& data) override {
    if (data == "[DONE]") {
      progress_.complete = true;
      return;
    }
    auto doc = json::parse(data, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      if (bad_event_.empty())
        bad_event_ = (name.empty() ? "" : name + ": ") + shortened(data);
      return;
    }
    ++progress_.events;
    if (doc.contains("error") || name == "error") {
      error_ = std::move(doc);
      progress_.complete = true;
      return;
    }
    if (id_.empty())
      id_ = text_of(doc, "id");
    if (model_.empty())
      model_ = text_of(doc, "model");
    if (auto u = doc.find("usage"); u != doc.end() && u->is_object())
      usage_ = *u;
    auto choices = doc.find("choices");
    if (choices == doc.end() || !choices->is_array())
      return;
    for (auto& choice : *choices) {
      if (!choice.is_object() || index_of(choice, 0) != 0)
        continue; // one reply is asked for; others are ignored
      if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
        auto piece = text_of(*d, "content");
        progress_.text_bytes += static_cast<int64_t>(piece.size());
        text_ += piece;
        if (auto tc = d->find("tool_calls");
            tc != d->end() && tc->is_array()) {
          for (auto& x : *tc) {
            if (!x.is_object())
              continue;
            // Without an index (some servers): a new id is a new call.
            int64_t index = last_index_;
            if (has_index(x)) {
              index = index_of(x, 0);
            } else if (auto id = text_of(x, "id"); !id.empty()) {
              auto cur = calls_.find(last_index_);
              if (cur != calls_.end() && !cur->second.id.empty()
                  && cur->second.id != id)
                index = last_index_ + 1;
            }
            if (index < 0)
              index = 0;
            last_index_ = index;
            auto [it, added] = calls_.try_emplace(index);
            if (added)
              ++progress_.tool_calls;
            auto& call = it->second;
            if (auto id = text_of(x, "id"); !id.empty())
              call.id = id;
            auto fn = object_of(x, "function");
            if (auto n = text_of(fn, "name"); !n.empty() && call.name.empty())
              call.name = n;
            auto args = text_of(fn, "arguments");
            progress_.tool_bytes += static_cast<int64_t>(args.size());
            call.arguments += args;
          }
        }
      }
      if (auto r = text_of(choice, "finish_reason"); !r.empty()) {
        finish_ = r;
        progress_.complete = true;
      }
    }
  }

private:
  struct partial_call {
    std::string id;
    std::string name;
    std::string arguments;
  };
  std::string id_;
  std::string model_;
  std::string text_;
  std::string finish_;
  std::map<int64_t, partial_call> calls_;
  int64_t last_index_ = 0;
  std::optional<json> usage_;
  std::optional<json> error_;
};

} // namespace

std::unique_ptr<stream_assembler> stream_assembler::make(provider_kind kind) {
  if (kind == provider_kind::anthropic)
    return std::make_unique<anthropic_assembler>();
  return std::make_unique<openai_assembler>();
}

void stream_assembler::feed(std::string_view bytes) {
  for (auto c : bytes) {
    if (c == '\n' && saw_cr_) { // the LF of a CRLF
      saw_cr_ = false;
      continue;
    }
    saw_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      line(pending_);
      pending_.clear();
    } else {
      pending_ += c;
    }
  }
}

void stream_assembler::line(std::string_view x) {
  if (x.empty()) {
    dispatch();
    return;
  }
  if (x.front() == ':')
    return; // a comment (keep-alive)
  auto colon = x.find(':');
  auto field = x.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = x.substr(colon + 1);
    if (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
  }
  if (field == "event") {
    event_ = std::string{value};
  } else if (field == "data") {
    if (has_data_)
      data_ += '\n';
    data_.append(value.data(), value.size());
    has_data_ = true;
  }
  // id, retry and unknown fields do not matter for one reply.
}

void stream_assembler::dispatch() {
  if (has_data_) {
    try { // a malformed event is an invalid response, never an exception
      on_event(event_, data_);
    } catch (const std::exception& ex) {
      if (bad_event_.empty())
        bad_event_ = (event_.empty() ? "" : event_ + ": ")
                     + shortened(data_) + " (" + ex.what() + ")";
    }
  }
  event_.clear();
  data_.clear();
  has_data_ = false;
}

} // namespace caflens::llm
