#include "caflens/sinks/prometheus.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <set>
#include <thread>

#include <httplib.h>

#include "http_util.hpp"

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"

#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::sinks {

namespace {

using telemetry::metric_kind;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.substr(s.size() - suffix.size()) == suffix;
}

std::string sanitize(std::string_view s, bool label) {
  std::string out;
  out.reserve(s.size() + 1);
  for (auto c : s) {
    auto ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || (!label && c == ':');
    out += ok ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9'))
    out.insert(out.begin(), '_');
  if (label && out.size() >= 2 && out[0] == '_' && out[1] == '_')
    out.insert(0, "tag"); // "__" starts reserved label names
  return out;
}

void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
  } else if (std::isinf(x)) {
    out += x > 0 ? "+Inf" : "-Inf";
  } else if (x == std::floor(x) && std::fabs(x) < 1e15) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(x));
    out.append(buf, res.ptr);
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof(buf), x);
    out.append(buf, res.ptr);
  }
}

void append_escaped(std::string& out, std::string_view s, bool help) {
  for (auto c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && !help)
      out += "\\\"";
    else
      out += c;
  }
}

/// `{k="v",...}` for a series, plus an optional extra label.
void append_labels(std::string& out, const telemetry::series_value& s,
                   const std::vector<std::string>& names,
                   std::string_view extra_key = {},
                   std::string_view extra_value = {}) {
  if (s.tags.empty() && extra_key.empty())
    return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < s.tags.size(); ++i) {
    if (!first)
      out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    append_escaped(out, s.tags[i].second, false);
    out += '"';
  }
  if (!extra_key.empty()) {
    if (!first)
      out += ',';
    out += extra_key;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string_view type_of(metric_kind k) {
  switch (k) {
    case metric_kind::counter:
    case metric_kind::sum:
      return "counter";
    case metric_kind::last_value:
      return "gauge";
    case metric_kind::distribution:
      return "summary";
  }
  return "untyped";
}

bool is_loopback(const std::string& host) {
  if (host == "localhost")
    return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

bool constant_time_equal(std::string_view x, std::string_view y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  for (size_t i = 0; i < x.size(); ++i)
    diff |= static_cast<unsigned char>(x[i])
            ^ static_cast<unsigned char>(y.empty() ? 0 : y[i % y.size()]);
  return diff == 0;
}

} // namespace

std::string prometheus_label_name(std::string_view tag) {
  return sanitize(tag, true);
}

std::string prometheus_help(const telemetry::metric_definition& def) {
  std::string out;
  if (!def.description.empty()) {
    out = def.description;
  } else {
    out = "caflens ";
    out += telemetry::to_string(def.kind);
    out += " of ";
    out += def.event.str();
    if (!def.measurement.empty()) {
      out += ' ';
      out += def.measurement;
    }
  }
  if (!def.unit.empty())
    out += " (" + def.unit + ")";
  return out;
}

std::string prometheus_name(const telemetry::metric_definition& def) {
  auto name = sanitize(def.name, false);
  if ((def.kind == metric_kind::counter || def.kind == metric_kind::sum)
      && !ends_with(name, "_total"))
    name += "_total";
  return name;
}

std::string prometheus_text(const std::vector<telemetry::metric_value>& all_time,
                            const std::vector<telemetry::metric_value>* windowed,
                            const prometheus_format& fmt) {
  std::string out;
  out.reserve(all_time.size() * 256);
  std::set<std::string> seen;
  std::vector<std::string> quantile_labels;
  for (auto q : fmt.quantiles) {
    std::string s;
    append_number(s, q);
    quantile_labels.push_back(std::move(s));
  }
  for (size_t mi = 0; mi < all_time.size(); ++mi) {
    auto& mv = all_time[mi];
    auto& def = mv.definition;
    auto name = prometheus_name(def);
    // A summary's name also owns name_sum and name_count.
    auto clashes = [&](const std::string& n) { return seen.count(n) > 0; };
    if (clashes(name)
        || (def.kind == metric_kind::distribution
            && (clashes(name + "_sum") || clashes(name + "_count")))) {
      out += "# caflens: metric '";
      append_escaped(out, def.name, true);
      out += "' skipped: its name clashes with another metric\n";
      continue;
    }
    seen.insert(name);
    if (def.kind == metric_kind::distribution) {
      seen.insert(name + "_sum");
      seen.insert(name + "_count");
    }
    std::vector<std::string> labels;
    for (auto& t : def.tags) {
      auto l = prometheus_label_name(t);
      if (def.kind == metric_kind::distribution && l == "quantile")
        l = "tag_quantile";
      labels.push_back(std::move(l));
    }
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, prometheus_help(def), true);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type_of(def.kind);
    out += '\n';
    const telemetry::metric_value* win = nullptr;
    if (windowed != nullptr) {
      if (mi < windowed->size()
          && (*windowed)[mi].definition.name == def.name)
        win = &(*windowed)[mi];
      else
        for (auto& w : *windowed)
          if (w.definition.name == def.name)
            win = &w;
    }
    for (size_t si = 0; si < mv.series.size(); ++si) {
      auto& s = mv.series[si];
      if (def.kind != metric_kind::distribution) {
        out += name;
        append_labels(out, s, labels);
        out += ' ';
        append_number(out, s.value);
        out += '\n';
        continue;
      }
      const telemetry::ddsketch* sk = nullptr;
      if (win != nullptr) {
        if (si < win->series.size() && win->series[si].tags == s.tags)
          sk = win->series[si].distribution ? &*win->series[si].distribution
                                            : nullptr;
        else
          for (auto& ws : win->series)
            if (ws.tags == s.tags && ws.distribution)
              sk = &*ws.distribution;
      } else if (s.distribution) {
        sk = &*s.distribution;
      }
      for (size_t qi = 0; qi < fmt.quantiles.size(); ++qi) {
        out += name;
        append_labels(out, s, labels, "quantile", quantile_labels[qi]);
        out += ' ';
        append_number(out, sk != nullptr && !sk->empty()
                             ? sk->quantile(fmt.quantiles[qi])
                             : std::nan(""));
        out += '\n';
      }
      out += name;
      out += "_sum";
      append_labels(out, s, labels);
      out += ' ';
      append_number(out, s.value);
      out += '\n';
      out += name;
      out += "_count";
      append_labels(out, s, labels);
      out += ' ';
      append_number(out, static_cast<double>(s.updates));
      out += '\n';
    }
  }
  return out;
}

std::string prometheus_text(const telemetry::metric_registry& reg,
                            const prometheus_format& fmt) {
  auto all = reg.collect_all();
  bool has_dist = false;
  for (auto& m : all)
    has_dist |= m.definition.kind == metric_kind::distribution;
  if (!has_dist || fmt.quantile_window.count() <= 0)
    return prometheus_text(all, nullptr, fmt);
  auto win = reg.collect_all(fmt.quantile_window);
  return prometheus_text(all, &win, fmt);
}

// -- exporter -----------------------------------------------------------------

struct prometheus_exporter::impl {
  std::shared_ptr<const telemetry::metric_registry> reg;
  prometheus_options opts;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<uint64_t> scrapes{0};
  bool stopped = false;
};

prometheus_exporter::prometheus_exporter(std::unique_ptr<impl> p)
  : impl_(std::move(p)) {
}

prometheus_exporter::~prometheus_exporter() {
  stop();
}

caf::expected<std::unique_ptr<prometheus_exporter>>
prometheus_exporter::start(std::shared_ptr<const telemetry::metric_registry> reg,
                           prometheus_options opts) {
  if (!reg)
    return make_error(sinks_errc::invalid_options,
                      "prometheus exporter: no metric registry");
  if (opts.path.empty() || opts.path[0] != '/')
    return make_error(sinks_errc::invalid_options,
                      "prometheus exporter: the path must start with '/', got '"
                        + opts.path + "'");
  if (!is_loopback(opts.host) && opts.bearer_token.empty())
    return make_error(sinks_errc::invalid_options,
                      "prometheus exporter: binding " + opts.host
                        + " (not loopback) needs a bearer token");
  auto p = std::make_unique<impl>();
  p->reg = std::move(reg);
  p->opts = std::move(opts);
  auto* raw = p.get();
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // exporter share (and steal scrapes from) a port in use.
  raw->server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  raw->server.Get(raw->opts.path, [raw](const httplib::Request& req,
                                        httplib::Response& res) {
    if (!raw->opts.bearer_token.empty()) {
      auto auth = req.get_header_value("Authorization");
      std::string_view given = auth;
      constexpr std::string_view scheme = "Bearer ";
      if (given.substr(0, scheme.size()) != scheme
          || !constant_time_equal(given.substr(scheme.size()),
                                  raw->opts.bearer_token)) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content("unauthorized\n", "text/plain");
        return;
      }
    }
    raw->scrapes.fetch_add(1, std::memory_order_relaxed);
    res.set_content(prometheus_text(*raw->reg, raw->opts.format),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  if (raw->opts.port == 0) {
    raw->port = raw->server.bind_to_any_port(raw->opts.host.c_str());
  } else if (raw->server.bind_to_port(raw->opts.host.c_str(),
                                      raw->opts.port)) {
    raw->port = raw->opts.port;
  } else {
    raw->port = -1;
  }
  if (raw->port <= 0)
    return make_error(sinks_errc::network_error,
                      "prometheus exporter: cannot listen on "
                        + raw->opts.host + ":"
                        + std::to_string(raw->opts.port)
                        + " (address in use or invalid)");
  raw->thread = std::thread{[raw] { raw->server.listen_after_bind(); }};
  return std::unique_ptr<prometheus_exporter>{
    new prometheus_exporter(std::move(p))};
}

uint16_t prometheus_exporter::port() const noexcept {
  return static_cast<uint16_t>(impl_->port);
}

uint64_t prometheus_exporter::scrapes() const noexcept {
  return impl_->scrapes.load(std::memory_order_relaxed);
}

void prometheus_exporter::stop() {
  if (!impl_ || impl_->stopped)
    return;
  impl_->stopped = true;
  impl_->server.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

namespace {

struct exporter_state {
  std::shared_ptr<prometheus_exporter> exporter;
  static inline const char* name = "caflens.prometheus";
};

} // namespace

caf::expected<caf::actor>
spawn_prometheus_exporter(caf::actor_system& sys,
                          std::shared_ptr<const telemetry::metric_registry> reg,
                          prometheus_options opts,
                          std::function<void(uint16_t)> on_listen) {
  auto ex = prometheus_exporter::start(std::move(reg), std::move(opts));
  if (!ex)
    return std::move(ex.error());
  std::shared_ptr<prometheus_exporter> shared{std::move(*ex)};
  if (on_listen)
    on_listen(shared->port());
  return spawn_prometheus_exporter(sys, std::move(shared));
}

caf::actor spawn_prometheus_exporter(caf::actor_system& sys,
                                     std::shared_ptr<prometheus_exporter> ex) {
  return sys.spawn(
    [ex](caf::stateful_actor<exporter_state>* self) -> caf::behavior {
      self->state.exporter = ex;
      self->attach_functor([ex](const caf::error&) { ex->stop(); });
      return {
        [ex](caf::get_atom) { return ex->port(); },
      };
    });
}

// -- pushgateway --------------------------------------------------------------

namespace {

/// One "/name/value" pair of a Pushgateway path: a value with a '/' (or an
/// empty one) goes base64url-encoded under "name@base64"; others are
/// percent-encoded.
std::string path_pair(const std::string& name, const std::string& v) {
  if (v.empty() || v.find('/') != std::string::npos) {
    static constexpr char tbl[]
      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    for (; i + 2 < v.size(); i += 3) {
      auto n = (uint32_t(uint8_t(v[i])) << 16) | (uint32_t(uint8_t(v[i + 1])) << 8)
               | uint8_t(v[i + 2]);
      out += tbl[(n >> 18) & 63];
      out += tbl[(n >> 12) & 63];
      out += tbl[(n >> 6) & 63];
      out += tbl[n & 63];
    }
    if (i + 1 == v.size()) {
      auto n = uint32_t(uint8_t(v[i])) << 16;
      out += tbl[(n >> 18) & 63];
      out += tbl[(n >> 12) & 63];
      out += "==";
    } else if (i + 2 == v.size()) {
      auto n = (uint32_t(uint8_t(v[i])) << 16) | (uint32_t(uint8_t(v[i + 1])) << 8);
      out += tbl[(n >> 18) & 63];
      out += tbl[(n >> 12) & 63];
      out += tbl[(n >> 6) & 63];
      out += '=';
    }
    return "/" + name + "@base64/" + (out.empty() ? std::string{"="} : out);
  }
  std::string out;
  for (auto c : v) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", u);
      out += buf;
    }
  }
  return "/" + name + "/" + out;
}

} // namespace

caf::error push_to_gateway(const pushgateway_options& opts,
                           const std::string& text) {
  std::string base;
  std::string prefix;
  if (!detail::split_url(opts.url, base, prefix))
    return make_error(sinks_errc::invalid_options,
                      "pushgateway: not an http(s) URL: '" + opts.url + "'");
  if (opts.job.empty())
    return make_error(sinks_errc::invalid_options, "pushgateway: no job");
  auto path = prefix + "/metrics" + path_pair("job", opts.job);
  for (auto& [k, v] : opts.grouping)
    path += path_pair(sanitize(k, true), v);
  httplib::Client cli{base};
  detail::set_timeouts(cli, opts.timeout);
  auto res = cli.Put(path, text, "text/plain; version=0.0.4");
  if (!res)
    return make_error(sinks_errc::network_error,
                      "pushgateway " + base + ": "
                        + httplib::to_string(res.error()));
  if (res->status < 200 || res->status >= 300)
    return make_error(sinks_errc::network_error,
                      "pushgateway " + base + path + " answered "
                        + std::to_string(res->status) + ": " + res->body);
  return {};
}

namespace {

using push_atom = caf::atom_constant<caf::atom("pgpush")>;

struct pusher_state {
  static inline const char* name = "caflens.pushgateway";
};

caf::error push_once(const telemetry::metric_registry& reg,
                     const pushgateway_options& opts) {
  auto start = telemetry::bus::monotonic_time();
  auto err = push_to_gateway(opts, prometheus_text(reg, opts.format));
  if (err)
    detail::emit_export_failure("pushgateway", start, err);
  return err;
}

} // namespace

caf::expected<caf::actor>
spawn_pushgateway_pusher(caf::actor_system& sys,
                         std::shared_ptr<const telemetry::metric_registry> reg,
                         pushgateway_options opts) {
  if (!reg)
    return make_error(sinks_errc::invalid_options, "pushgateway: no registry");
  std::string base;
  std::string prefix;
  if (!detail::split_url(opts.url, base, prefix) || opts.job.empty())
    return make_error(sinks_errc::invalid_options,
                      "pushgateway: needs an http(s) URL and a job, got '"
                        + opts.url + "' and '" + opts.job + "'");
  return sys.spawn(
    [reg, opts](caf::stateful_actor<pusher_state>* self) -> caf::behavior {
      self->attach_functor(
        [reg, opts](const caf::error&) { push_once(*reg, opts); });
      self->delayed_send(self, opts.interval, push_atom::value);
      return {
        [=](push_atom) {
          push_once(*reg, opts);
          self->delayed_send(self, opts.interval, push_atom::value);
        },
        [=](caf::flush_atom) -> caf::result<caf::ok_atom> {
          if (auto err = push_once(*reg, opts))
            return err;
          return caf::ok_atom::value;
        },
      };
    });
}

} // namespace caflens::sinks
