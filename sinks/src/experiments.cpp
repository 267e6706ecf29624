#include "caflens/sinks/experiments.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include "caflens/telemetry/bus.hpp"

namespace caflens::sinks {

namespace {

using json = nlohmann::json;

std::string meta_text(const json& md, const std::string& key) {
  auto i = md.find(key);
  if (i == md.end() || i->is_null())
    return {};
  return i->is_string() ? i->get<std::string>() : i->dump();
}

/// Linear interpolation between closest ranks (sorted input).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto pos = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(pos));
  auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

bool success(const sinks::record& x) {
  if (x.event.size() >= 10
      && x.event.compare(x.event.size() - 10, 10, ".exception") == 0)
    return false;
  if (meta_text(x.metadata, "result") == "error")
    return false;
  auto ok = x.metadata.find("ok");
  return !(ok != x.metadata.end() && ok->is_boolean() && !ok->get<bool>());
}

// -- Student's t --------------------------------------------------------------

/// The continued fraction of the incomplete beta function (modified
/// Lentz's method).
double beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  constexpr double eps = 1e-14;
  auto qab = a + b;
  auto qap = a + 1;
  auto qam = a - 1;
  double c = 1;
  double d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny)
    d = tiny;
  d = 1 / d;
  double h = d;
  // One term of the fraction: updates c and d, returns h's factor.
  auto term = [&](double aa) {
    d = 1 + aa * d;
    if (std::fabs(d) < tiny)
      d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny)
      c = tiny;
    d = 1 / d;
    return d * c;
  };
  for (int m = 1; m <= 500; ++m) {
    auto m2 = 2.0 * m;
    h *= term(m * (b - m) * x / ((qam + m2) * (a + m2)));
    auto step = term(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
    h *= step;
    if (std::fabs(step - 1) < eps)
      break;
  }
  return h;
}

/// The regularized incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0)
    return 0;
  if (x >= 1)
    return 1;
  auto front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b)
                        + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2))
    return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double mean_of(const std::vector<double>& xs) {
  double s = 0;
  for (auto x : xs)
    s += x;
  return s / static_cast<double>(xs.size());
}

double variance_of(const std::vector<double>& xs, double mean) {
  double s = 0;
  for (auto x : xs)
    s += (x - mean) * (x - mean);
  return s / static_cast<double>(xs.size() - 1);
}

} // namespace

double student_t_two_sided_p(double t, double df) {
  if (!std::isfinite(t))
    return 0;
  return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

std::string_view to_string(experiment_state x) noexcept {
  switch (x) {
    case experiment_state::running:
      return "running";
    case experiment_state::paused:
      return "paused";
    case experiment_state::stopped:
      return "stopped";
  }
  return "unknown";
}

json experiment_metrics::to_json() const {
  return {{"count", count},
          {"successes", successes},
          {"success_rate", success_rate},
          {"latency_samples", latency_samples},
          {"latency_mean_ms", latency_mean},
          {"latency_p50_ms", latency_p50},
          {"latency_p95_ms", latency_p95},
          {"latency_p99_ms", latency_p99},
          {"input_tokens", input_tokens},
          {"output_tokens", output_tokens},
          {"cost_usd", cost_usd}};
}

json comparison::to_json() const {
  return {{"n_a", n_a},           {"n_b", n_b},
          {"mean_a", mean_a},     {"mean_b", mean_b},
          {"difference", difference}, {"t", t},
          {"df", df},             {"p_value", p_value},
          {"ci_low", ci_low},     {"ci_high", ci_high},
          {"confidence", confidence}, {"cohens_d", cohens_d},
          {"hedges_g", hedges_g}};
}

// -- experiment ---------------------------------------------------------------

experiment::experiment(telemetry::bus& b, experiment_options opts)
  : bus_(&b), opts_(std::move(opts)) {
}

experiment::~experiment() {
  stop();
}

caf::expected<std::shared_ptr<experiment>>
experiment::start(telemetry::bus& b, experiment_options opts) {
  if (opts.name.empty() || opts.events.empty())
    return make_error(sinks_errc::invalid_options,
                      "experiment '" + opts.name
                        + "': needs a name and the events to capture");
  if (opts.max_records == 0)
    opts.max_records = 1;
  std::shared_ptr<experiment> ex{new experiment(b, std::move(opts))};
  if (!ex->opts_.export_path.empty()) {
    sink_options so;
    so.name = "experiment_" + ex->opts_.name;
    file_sink_options fo;
    fo.path = ex->opts_.export_path;
    fo.format = ex->opts_.export_format;
    auto fs = file_sink::open(so, fo);
    if (!fs)
      return std::move(fs.error());
    ex->export_ = std::move(*fs);
  }
  std::weak_ptr<experiment> weak = ex;
  auto err = b.attach_many(
    "caflens.experiment." + ex->opts_.name, ex->opts_.events,
    [weak](const telemetry::event_name& e, const telemetry::measurements& m,
           const telemetry::metadata& md, const std::any&) {
      if (auto self = weak.lock())
        self->record(make_record(e, m, md));
    });
  if (err) {
    ex->state_ = experiment_state::stopped;
    return err;
  }
  ex->attached_ = true;
  std::string tags = json(ex->opts_.tags).dump();
  b.execute(telemetry::event_name{"caflens", "experiment", "started"},
            {{"system_time",
              static_cast<double>(telemetry::bus::system_time())}},
            {{"experiment", ex->opts_.name},
             {"condition", ex->opts_.condition},
             {"tags", tags}});
  return ex;
}

experiment_state experiment::state() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return state_;
}

void experiment::pause() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (state_ == experiment_state::running)
    state_ = experiment_state::paused;
}

void experiment::resume() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (state_ == experiment_state::paused)
    state_ = experiment_state::running;
}

void experiment::stop() {
  uint64_t samples = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ == experiment_state::stopped || !attached_) {
      state_ = experiment_state::stopped;
      return;
    }
    state_ = experiment_state::stopped;
    samples = captured_;
  }
  bus_->detach("caflens.experiment." + opts_.name);
  if (export_)
    export_->shutdown();
  bus_->execute(telemetry::event_name{"caflens", "experiment", "stopped"},
                {{"system_time",
                  static_cast<double>(telemetry::bus::system_time())},
                 {"samples", static_cast<double>(samples)}},
                {{"experiment", opts_.name}, {"condition", opts_.condition}});
}

bool experiment::admits(const sinks::record& x) const {
  for (auto& [k, v] : opts_.match)
    if (meta_text(x.metadata, k) != v)
      return false;
  return true;
}

void experiment::record(sinks::record x) {
  if (!admits(x))
    return;
  if (!x.metadata.is_object())
    x.metadata = json::object();
  x.metadata["experiment"] = opts_.name;
  x.metadata["condition"] = opts_.condition;
  for (auto& [k, v] : opts_.tags)
    x.metadata[k] = v;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ != experiment_state::running)
      return;
    ++captured_;
    if (export_)
      export_->consume(x);
    records_.push_back(std::move(x));
    while (records_.size() > opts_.max_records)
      records_.pop_front();
  }
  if (export_ && export_->stats().queued >= export_->options().max_batch)
    export_->export_once();
}

std::vector<sinks::record> experiment::records() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {records_.begin(), records_.end()};
}

std::vector<sinks::record> experiment::last(std::chrono::nanoseconds d,
                                     int64_t now_ns) const {
  return range(now_ns - d.count(), now_ns);
}

std::vector<sinks::record> experiment::last_n(size_t n) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto k = std::min(n, records_.size());
  return {records_.end() - static_cast<ptrdiff_t>(k), records_.end()};
}

std::vector<sinks::record>
experiment::range(int64_t from_ns, int64_t to_ns,
                  const std::function<bool(const sinks::record&)>& filter) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<sinks::record> out;
  for (auto& x : records_)
    if (x.system_time_ns >= from_ns && x.system_time_ns <= to_ns
        && (!filter || filter(x)))
      out.push_back(x);
  return out;
}

std::vector<std::pair<int64_t, experiment_metrics>>
experiment::sliding(std::chrono::nanoseconds width,
                    std::chrono::nanoseconds step) const {
  std::vector<std::pair<int64_t, experiment_metrics>> out;
  auto xs = records();
  if (xs.empty() || width.count() <= 0 || step.count() <= 0)
    return out;
  auto first = xs.front().system_time_ns;
  auto last = xs.back().system_time_ns;
  for (auto t = first; t <= last; t += step.count()) {
    std::vector<sinks::record> in;
    for (auto& x : xs)
      if (x.system_time_ns >= t && x.system_time_ns < t + width.count())
        in.push_back(x);
    out.emplace_back(t, metrics_of(in));
  }
  return out;
}

experiment_metrics experiment::metrics() const {
  return metrics_of(records());
}

experiment_metrics
experiment::metrics_of(const std::vector<sinks::record>& xs) const {
  experiment_metrics m;
  std::vector<double> lat;
  for (auto& x : xs) {
    ++m.count;
    if (success(x))
      ++m.successes;
    if (auto p = x.measurement(opts_.latency))
      lat.push_back(*p * opts_.latency_to_ms);
    if (auto p = x.measurement("input_tokens"))
      m.input_tokens += *p;
    if (auto p = x.measurement("output_tokens"))
      m.output_tokens += *p;
    if (auto p = x.measurement("cost_usd"))
      m.cost_usd += *p;
  }
  m.success_rate = m.count > 0 ? static_cast<double>(m.successes)
                                   / static_cast<double>(m.count)
                               : 0;
  m.latency_samples = lat.size();
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    m.latency_mean = mean_of(lat);
    m.latency_p50 = percentile(lat, 0.50);
    m.latency_p95 = percentile(lat, 0.95);
    m.latency_p99 = percentile(lat, 0.99);
  }
  return m;
}

std::vector<double> experiment::latencies() const {
  std::vector<double> out;
  for (auto& x : records())
    if (auto p = x.measurement(opts_.latency))
      out.push_back(*p * opts_.latency_to_ms);
  return out;
}

// -- comparison ---------------------------------------------------------------

caf::expected<comparison> compare(const std::vector<double>& a,
                                  const std::vector<double>& b,
                                  double confidence) {
  if (a.size() < 2 || b.size() < 2)
    return make_error(sinks_errc::invalid_options,
                      "compare: needs at least two samples on each side (got "
                        + std::to_string(a.size()) + " and "
                        + std::to_string(b.size()) + ")");
  if (!(confidence > 0 && confidence < 1))
    return make_error(sinks_errc::invalid_options,
                      "compare: the confidence must be within (0, 1)");
  comparison c;
  c.n_a = a.size();
  c.n_b = b.size();
  c.confidence = confidence;
  c.mean_a = mean_of(a);
  c.mean_b = mean_of(b);
  c.difference = c.mean_b - c.mean_a;
  auto va = variance_of(a, c.mean_a);
  auto vb = variance_of(b, c.mean_b);
  auto na = static_cast<double>(a.size());
  auto nb = static_cast<double>(b.size());
  auto sa = va / na;
  auto sb = vb / nb;
  if (sa + sb <= 0)
    return make_error(sinks_errc::invalid_options,
                      "compare: both samples have zero variance");
  auto se = std::sqrt(sa + sb);
  c.t = c.difference / se;
  c.df = (sa + sb) * (sa + sb)
         / (sa * sa / (na - 1) + sb * sb / (nb - 1));
  c.p_value = student_t_two_sided_p(c.t, c.df);
  // The critical t: the p-value is monotone in |t|; bisect.
  auto alpha = 1 - confidence;
  double lo = 0;
  double hi = 1;
  while (student_t_two_sided_p(hi, c.df) > alpha && hi < 1e6)
    hi *= 2;
  for (int i = 0; i < 200; ++i) {
    auto mid = (lo + hi) / 2;
    (student_t_two_sided_p(mid, c.df) > alpha ? lo : hi) = mid;
  }
  auto crit = (lo + hi) / 2;
  c.ci_low = c.difference - crit * se;
  c.ci_high = c.difference + crit * se;
  auto pooled = std::sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2));
  c.cohens_d = pooled > 0 ? c.difference / pooled : 0;
  c.hedges_g = c.cohens_d * (1 - 3 / (4 * (na + nb) - 9));
  return c;
}

// -- metrics store ------------------------------------------------------------

metrics_store::~metrics_store() = default;

jsonl_metrics_store::jsonl_metrics_store(std::string path)
  : path_(std::move(path)) {
}

jsonl_metrics_store::~jsonl_metrics_store() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::error jsonl_metrics_store::record(const std::string& experiment,
                                       const experiment_metrics& m,
                                       int64_t at_ns) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                 0644);
    if (fd_ < 0)
      return make_error(sinks_errc::io_error, "metrics store: cannot open "
                                                + path_ + ": "
                                                + std::strerror(errno));
  }
  auto line = json{{"experiment", experiment},
                   {"at_ns", at_ns},
                   {"metrics", m.to_json()}}
                .dump()
              + "\n";
  if (::write(fd_, line.data(), line.size())
      != static_cast<ssize_t>(line.size()))
    return make_error(sinks_errc::io_error, "metrics store: cannot write "
                                              + path_ + ": "
                                              + std::strerror(errno));
  return {};
}

caf::error jsonl_metrics_store::flush() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fd_ >= 0 && ::fsync(fd_) != 0)
    return make_error(sinks_errc::io_error, "metrics store: cannot fsync "
                                              + path_);
  return {};
}

caf::expected<std::vector<json>>
jsonl_metrics_store::read(const std::string& experiment) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::ifstream in{path_};
  std::vector<json> out;
  if (!in)
    return out;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded())
      continue; // a line cut by a crash
    if (j.value("experiment", "") == experiment)
      out.push_back(std::move(j));
  }
  return out;
}

} // namespace caflens::sinks
