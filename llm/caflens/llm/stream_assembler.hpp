#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "caf/expected.hpp"

#include "caflens/llm/client_config.hpp"

namespace caflens::llm {

/// What a stream has delivered so far.
struct stream_progress {
  /// Server-sent events parsed (pings and comments excluded).
  int64_t events = 0;
  /// Bytes of text and of tool-call arguments the model produced.
  int64_t text_bytes = 0;
  int64_t tool_bytes = 0;
  /// Tool calls begun.
  int64_t tool_calls = 0;
  /// The provider's terminal event arrived (Anthropic `message_stop` or an
  /// `error` event; OpenAI `[DONE]`, a finish reason or an error chunk).
  bool complete = false;
};

/// Reassembles one streamed reply (`text/event-stream`, `stream: true`) of
/// a provider into the body it would have sent without streaming, so that
/// `wire_format::decode` reads both the same way. Fed incrementally with
/// raw bytes as they arrive, split anywhere.
///
/// Anthropic: message_start, content_block_start/_delta/_stop (text_delta,
/// input_json_delta), message_delta (stop reason, output tokens),
/// message_stop, ping, error. OpenAI-compatible: `data:` chunks with
/// `choices[0].delta` (content, tool_calls by index), the finish reason, a
/// final usage chunk (`stream_options.include_usage`), `[DONE]`, and error
/// chunks.
class stream_assembler {
public:
  virtual ~stream_assembler();

  static std::unique_ptr<stream_assembler> make(provider_kind kind);

  /// Parses `bytes` (any split of the stream).
  void feed(std::string_view bytes);

  const stream_progress& progress() const noexcept {
    return progress_;
  }

  /// The equivalent non-streaming reply: its HTTP status (200, or the
  /// status an error event stands for) and JSON body. Fails with
  /// `transport_error` when the stream ended before its terminal event
  /// (retryable: the connection broke mid-reply), or `invalid_response`
  /// when an event is not JSON.
  virtual caf::expected<std::pair<int, std::string>> finish() = 0;

protected:
  /// One event: its `event:` name (may be empty) and its joined `data:`.
  virtual void on_event(const std::string& name, const std::string& data) = 0;

  stream_progress progress_;
  /// The first event whose data was not JSON.
  std::string bad_event_;

private:
  void dispatch();
  void line(std::string_view x);

  std::string pending_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool saw_cr_ = false;
};

} // namespace caflens::llm
