// libFuzzer target for streamed LLM replies (server-sent events of both
// providers): the first byte picks the protocol and the size of the pieces
// the rest is fed in. Reassembling must never throw or crash, and must not
// depend on where the stream is cut: fed whole and fed in pieces, the
// outcome (error code, or the same body) is identical; a body that comes
// out is decoded by the provider's wire format without an exception.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/stream_assembler.hpp"
#include "caflens/llm/wire_format.hpp"

namespace {

using namespace caflens::llm;

caf::expected<std::pair<int, std::string>>
assemble(provider_kind kind, std::string_view data, size_t piece) {
  auto a = stream_assembler::make(kind);
  if (piece == 0) {
    a->feed(data);
  } else {
    for (size_t i = 0; i < data.size(); i += piece)
      a->feed(data.substr(i, piece));
  }
  return a->finish();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto kind = (data[0] & 1) != 0 ? provider_kind::openai_compatible
                                  : provider_kind::anthropic;
  size_t piece = 1 + (data[0] >> 1) % 23;
  std::string_view input{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto whole = assemble(kind, input, 0);
  auto cut = assemble(kind, input, piece);
  if (static_cast<bool>(whole) != static_cast<bool>(cut))
    std::abort(); // the outcome depends on where the stream was cut
  if (!whole) {
    if (llm_code(whole.error()) != llm_code(cut.error()))
      std::abort();
    return 0;
  }
  if (*whole != *cut)
    std::abort();
  http_response resp;
  resp.status = whole->first;
  resp.body = whole->second;
  auto decoded = wire_format::make(kind)->decode(resp);
  (void) decoded; // a completion or a classified error, never a throw
  return 0;
}
