#include "caflens/sinks/statsd_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace caflens::sinks {

namespace {

/// StatsD reserves ':', '|', '@', '#' and whitespace; DogStatsD tags also ','.
std::string clean(std::string_view s, bool in_tag) {
  std::string out;
  out.reserve(s.size());
  for (auto c : s) {
    auto bad = c == ':' || c == '|' || c == '@' || c == '#' || c == '\n'
               || c == '\r' || c == ' ' || c == '\t' || (in_tag && c == ',');
    out += bad ? '_' : c;
  }
  return out;
}

std::string number(double x) {
  if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15)
    return std::to_string(static_cast<int64_t>(x));
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string{buf, res.ptr};
}

std::string tag_value(const nlohmann::json& md, const std::string& key) {
  auto i = md.find(key);
  if (i == md.end() || i->is_null())
    return "nil";
  if (i->is_string())
    return i->get<std::string>();
  return i->dump();
}

} // namespace

statsd_sink::statsd_sink(sink_options opts, statsd_options sopts)
  : sink(std::move(opts)), sopts_(std::move(sopts)) {
}

statsd_sink::~statsd_sink() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::expected<std::shared_ptr<statsd_sink>>
statsd_sink::open(sink_options opts, statsd_options sopts) {
  auto who = "statsd sink '" + opts.name + "': ";
  if (sopts.metrics.empty())
    return make_error(sinks_errc::invalid_options, who + "no metrics");
  if (sopts.port == 0 || sopts.host.empty())
    return make_error(sinks_errc::invalid_options,
                      who + "needs a host and a port");
  if (sopts.max_packet < 64)
    return make_error(sinks_errc::invalid_options,
                      who + "max_packet below 64 bytes");
  for (auto& m : sopts.metrics) {
    if (m.name.empty() || !m.event.valid())
      return make_error(sinks_errc::invalid_options,
                        who + "a metric needs a name and an event");
    if (m.kind != telemetry::metric_kind::counter && m.measurement.empty())
      return make_error(sinks_errc::invalid_options,
                        who + "metric '" + m.name + "' needs a measurement");
  }
  if (opts.events.empty())
    for (auto& m : sopts.metrics)
      if (std::find(opts.events.begin(), opts.events.end(), m.event)
          == opts.events.end())
        opts.events.push_back(m.event);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(sopts.port);
  if (auto rc = ::getaddrinfo(sopts.host.c_str(), port.c_str(), &hints, &res);
      rc != 0)
    return make_error(sinks_errc::network_error,
                      who + "cannot resolve " + sopts.host + ": "
                        + gai_strerror(rc));
  std::shared_ptr<statsd_sink> result{
    new statsd_sink(std::move(opts), std::move(sopts))};
  std::string failure;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    auto fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                       ai->ai_protocol);
    if (fd < 0) {
      failure = std::strerror(errno);
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      failure = std::strerror(errno);
      ::close(fd);
      continue;
    }
    result->fd_ = fd;
    break;
  }
  ::freeaddrinfo(res);
  if (result->fd_ < 0)
    return make_error(sinks_errc::network_error,
                      who + "cannot reach " + result->sopts_.host + ":" + port
                        + ": " + failure);
  return result;
}

std::vector<std::string> statsd_sink::lines(const record& x) const {
  std::vector<std::string> out;
  for (auto& m : sopts_.metrics) {
    if (m.event.str() != x.event)
      continue;
    double v = 1;
    if (m.kind != telemetry::metric_kind::counter) {
      auto p = x.measurement(m.measurement);
      if (p == nullptr || !std::isfinite(*p))
        continue;
      v = *p;
    }
    auto name = clean(sopts_.prefix + m.name, false);
    std::string tags;
    if (sopts_.dogstatsd_tags) {
      for (auto& t : m.tags) {
        tags += tags.empty() ? "|#" : ",";
        tags += clean(t, true) + ":" + clean(tag_value(x.metadata, t), true);
      }
    } else {
      for (auto& t : m.tags)
        name += "." + clean(tag_value(x.metadata, t), false);
    }
    switch (m.kind) {
      case telemetry::metric_kind::counter:
        out.push_back(name + ":1|c" + tags);
        break;
      case telemetry::metric_kind::sum:
        out.push_back(name + ":" + number(v) + "|c" + tags);
        break;
      case telemetry::metric_kind::last_value:
        // A leading sign adjusts a gauge; a negative value is set from 0.
        if (v < 0)
          out.push_back(name + ":0|g" + tags);
        out.push_back(name + ":" + number(v) + "|g" + tags);
        break;
      case telemetry::metric_kind::distribution:
        out.push_back(name + ":" + number(v) + "|ms" + tags);
        break;
    }
  }
  return out;
}

caf::error statsd_sink::send_packet(const std::string& packet) {
  for (;;) {
    auto n = ::send(fd_, packet.data(), packet.size(), MSG_NOSIGNAL);
    if (n >= 0)
      return {};
    if (errno == EINTR)
      continue;
    return make_error(sinks_errc::network_error,
                      "statsd sink '" + name() + "': cannot send to "
                        + sopts_.host + ":" + std::to_string(sopts_.port)
                        + ": " + std::strerror(errno));
  }
}

caf::error statsd_sink::export_(const batch& xs) {
  if (fd_ < 0)
    return make_error(sinks_errc::closed, "statsd sink '" + name() + "'");
  std::string packet;
  caf::error first;
  auto send = [&] {
    if (packet.empty())
      return;
    if (auto err = send_packet(packet); err && !first)
      first = std::move(err);
    packet.clear();
  };
  for (auto& x : xs)
    for (auto& line : lines(x)) {
      if (!packet.empty() && packet.size() + 1 + line.size() > sopts_.max_packet)
        send();
      if (!packet.empty())
        packet += '\n';
      packet += line;
    }
  send();
  return first;
}

void statsd_sink::close_() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

sink_factory statsd_sink_factory(sink_options opts, statsd_options sopts) {
  return [opts, sopts]() -> caf::expected<sink_ptr> {
    auto s = statsd_sink::open(opts, sopts);
    if (!s)
      return std::move(s.error());
    return sink_ptr{std::move(*s)};
  };
}

} // namespace caflens::sinks
