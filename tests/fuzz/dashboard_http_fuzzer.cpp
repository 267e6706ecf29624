// libFuzzer target for the dashboard's HTTP API and its event stream: raw
// bytes sent over a real loopback connection to a running dashboard (a
// lens with a tracked actor holding secrets in its state, a log line with a
// key, a token required). cpp-httplib parses the request; caflens's routes
// answer it, the event stream included (read for 300 ms).
//
// Input: byte 0, bit 0: the harness adds `Authorization: Bearer <token>`
// after the request line (so both sides of the token check are reached);
// the rest is what is sent, ending with an empty line if it does not
// already (so that the server does not wait for the end of the headers).
//
// Checks, on every answer: it is HTTP (or nothing, for bytes that are no
// request); without the token it is never a success (no route is reached
// without it); the token and the planted secrets never appear in it
// (unless the sender wrote them itself: an error may name the path).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"

#include "caflens/caflens.hpp"
#include "caflens/dashboard/dashboard.hpp"
#include "caflens/skills/log_buffer.hpp"
#include "caflens/skills/tracked.hpp"

namespace {

using namespace caflens;

constexpr std::string_view token = "fuzz-token-5a1b2c3d4e5f60718293a4b5c6d7e8f9";
constexpr std::string_view api_key = "sk-ant-api03-PLANTEDxSECRETx0123456789abcdef";
constexpr std::string_view password = "hunter2-planted";

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::optional<caflens::lens> lens;
  std::optional<dashboard::server> dash;
  caf::actor vault;

  fixture() {
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    caflens::config lc;
    lc.deadline = std::chrono::milliseconds{2000};
    auto l = caflens::start(*sys, lc);
    if (!l)
      std::abort();
    lens = std::move(*l);
    vault = skills::spawn_tracked(
      *sys, {"vault", "vault", 0}, [](caf::event_based_actor* self) {
        skills::expose_state(self, [] {
          return nlohmann::json{{"password", std::string{password}},
                                {"note", "uses " + std::string{api_key}},
                                {"entries", 3}};
        });
        return caf::behavior{[](int) {}};
      });
    lens->logs()->append("error", "vault",
                         "login with Bearer " + std::string{api_key}
                           + " failed");
    dashboard::options opts;
    opts.token = std::string{token};
    opts.sample_interval = std::chrono::milliseconds{100};
    auto d = dashboard::server::start(*lens, opts);
    if (!d)
      std::abort();
    dash = std::move(*d);
  }
};

fixture& the_fixture() {
  static auto* f = new fixture; // lives as long as the process
  return *f;
}

/// True once `out` holds a whole response (by Content-Length or the last
/// chunk); an event stream never ends and is read until it goes quiet.
bool complete(const std::string& out) {
  auto end = out.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  std::string head = out.substr(0, end);
  for (auto& c : head)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  if (auto cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
    auto n = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    return out.size() - (end + 4) >= n;
  }
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos)
    return out.find("\r\n0\r\n\r\n", end) != std::string::npos;
  return false;
}

/// Sends `request` and reads the answer: until it is complete, the server
/// closes, 150 ms pass without a byte, or 300 ms in all. (cpp-httplib 0.11 does not answer
/// a client that half-closes after its request, so the harness does not.)
std::string exchange(uint16_t port, const std::string& request) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    std::abort(); // the dashboard stopped listening
  size_t sent = 0;
  while (sent < request.size()) {
    auto n = ::send(fd, request.data() + sent, request.size() - sent,
                    MSG_NOSIGNAL);
    if (n <= 0)
      break; // the server closed early: fine, it refused the bytes
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  // An event stream sends a sample every 100 ms: read it for 300 ms.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{300};
  while (!complete(out) && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 150) <= 0)
      break;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (4u << 20))
      break;
  }
  ::close(fd);
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto& f = the_fixture();
  bool authorized = (data[0] & 1) != 0;
  std::string request{reinterpret_cast<const char*>(data) + 1, size - 1};
  // What the sender wrote itself may come back (an error names the path it
  // could not find): only what it did not write counts as a leak.
  auto wrote = [&](std::string_view x) {
    return request.find(x) != std::string::npos;
  };
  bool wrote_token = wrote(token);
  bool wrote_secret = wrote(password) || wrote("PLANTEDxSECRET");
  if (request.size() < 4 || request.compare(request.size() - 4, 4, "\r\n\r\n") != 0)
    request += "\r\n\r\n";
  if (authorized) {
    auto eol = request.find("\r\n");
    auto header = "\r\nAuthorization: Bearer " + std::string{token};
    if (eol == std::string::npos)
      request += header + "\r\n\r\n";
    else
      request.insert(eol, header);
  }
  auto answer = exchange(f.dash->port(), request);
  static const bool verbose = std::getenv("CAFLENS_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "%s -> %s\n",
                 request.substr(0, request.find('\r')).c_str(),
                 answer.substr(0, answer.find('\r')).c_str());
  if (answer.empty())
    return 0;
  if (answer.rfind("HTTP/1.", 0) != 0)
    std::abort(); // not HTTP
  if (!wrote_token && answer.find(token) != std::string::npos)
    std::abort(); // the token leaked
  if (!wrote_secret
      && (answer.find(password) != std::string::npos
          || answer.find("PLANTEDxSECRET") != std::string::npos))
    std::abort(); // a secret passed the redactor
  if (!authorized && !wrote_token && answer.size() > 9 && answer[9] == '2')
    std::abort(); // a success without the token
  return 0;
}
