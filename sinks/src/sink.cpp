#include "caflens/sinks/sink.hpp"

#include <algorithm>
#include <thread>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

namespace caflens::sinks {

// -- errors -------------------------------------------------------------------

std::string to_string(sinks_errc code) {
  switch (code) {
    case sinks_errc::invalid_options:
      return "invalid_options";
    case sinks_errc::io_error:
      return "io_error";
    case sinks_errc::network_error:
      return "network_error";
    case sinks_errc::closed:
      return "closed";
    case sinks_errc::timeout:
      return "timeout";
  }
  return "unknown sinks_errc";
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<sinks_errc>(code));
}

// Registered in this file: every program that uses a sink links it.
[[maybe_unused]] const bool registered
  = register_error_category(sinks_errc_category, render);

} // namespace

// -- record -------------------------------------------------------------------

const double* record::measurement(std::string_view key) const noexcept {
  for (auto& [k, v] : measurements)
    if (k == key)
      return &v;
  return nullptr;
}

record make_record(const telemetry::event_name& event,
                   const telemetry::measurements& m,
                   const telemetry::metadata& md) {
  record x;
  x.event = event.str();
  x.system_time_ns = telemetry::bus::system_time();
  x.measurements.reserve(m.size());
  for (auto& e : m)
    x.measurements.emplace_back(std::string{e.key}, e.value);
  x.metadata = md.to_json();
  return x;
}

std::vector<telemetry::event_name> events_of(const sink_options& opts) {
  if (!opts.events.empty())
    return opts.events;
  std::vector<telemetry::event_name> result;
  telemetry::event_name exports{"caflens", "sink", "export"};
  for (auto& name : telemetry::event_names())
    if (!name.starts_with(exports))
      result.push_back(name);
  return result;
}

// -- sink ---------------------------------------------------------------------

sink::sink(sink_options opts) : opts_(std::move(opts)) {
  opts_.max_queue = std::max<size_t>(opts_.max_queue, 1);
  opts_.max_batch = std::max<size_t>(opts_.max_batch, 1);
}

sink::~sink() = default;

void sink::consume(record x) noexcept {
  consumed_.fetch_add(1, std::memory_order_relaxed);
  std::function<void()>* wake = nullptr;
  {
    std::lock_guard<std::mutex> guard{queue_mtx_};
    if (closed_ || queue_.size() >= opts_.max_queue) {
      dropped_full_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    try {
      queue_.push_back(std::move(x));
    } catch (...) {
      dropped_full_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (queue_.size() >= opts_.max_batch && !backlog_signalled_
        && on_backlog_) {
      backlog_signalled_ = true;
      wake = &on_backlog_;
    }
  }
  if (wake != nullptr) {
    try {
      (*wake)();
    } catch (...) {
      // The periodic export still runs.
    }
  }
}

void sink::take(batch& out) {
  std::lock_guard<std::mutex> guard{queue_mtx_};
  auto n = std::min(queue_.size(), opts_.max_batch);
  if (n == queue_.size()) {
    out.swap(queue_);
    queue_.clear();
  } else {
    out.assign(std::make_move_iterator(queue_.begin()),
               std::make_move_iterator(queue_.begin()
                                       + static_cast<ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  }
  backlog_signalled_ = false;
}

caf::expected<size_t> sink::export_once() {
  std::lock_guard<std::mutex> guard{export_mtx_};
  if (shut_down_)
    return size_t{0};
  batch xs;
  take(xs);
  if (xs.empty())
    return size_t{0};
  auto* b = bus_.load(std::memory_order_acquire);
  static std::atomic<uint64_t> next_span{1};
  auto span = next_span.fetch_add(1, std::memory_order_relaxed);
  auto start = telemetry::bus::monotonic_time();
  auto size = static_cast<double>(xs.size());
  if (b != nullptr)
    b->execute(telemetry::event_name{"caflens", "sink", "export", "start"},
               {{"system_time",
                 static_cast<double>(telemetry::bus::system_time())},
                {"monotonic_time", static_cast<double>(start)},
                {"batch_size", size}},
               {{"sink", name()}, {"telemetry_span_context", span}});
  caf::error err;
  try {
    err = export_(xs);
  } catch (const std::exception& ex) {
    err = make_error(sinks_errc::io_error,
                     name() + ": export threw: " + ex.what());
  } catch (...) {
    err = make_error(sinks_errc::io_error, name() + ": export threw");
  }
  auto now = telemetry::bus::monotonic_time();
  if (err) {
    failed_batches_.fetch_add(1, std::memory_order_relaxed);
    dropped_failed_.fetch_add(xs.size(), std::memory_order_relaxed);
    if (b != nullptr) {
      auto reason = render_error(err);
      b->execute(
        telemetry::event_name{"caflens", "sink", "export", "exception"},
        {{"duration", static_cast<double>(now - start)},
         {"monotonic_time", static_cast<double>(now)}},
        {{"sink", name()},
         {"kind", "error"},
         {"reason", reason},
         {"telemetry_span_context", span}});
    }
    return err;
  }
  exported_.fetch_add(xs.size(), std::memory_order_relaxed);
  if (b != nullptr)
    b->execute(telemetry::event_name{"caflens", "sink", "export", "stop"},
               {{"duration", static_cast<double>(now - start)},
                {"monotonic_time", static_cast<double>(now)},
                {"batch_size", size}},
               {{"sink", name()},
                {"result", "ok"},
                {"telemetry_span_context", span}});
  return xs.size();
}

void sink::instrument(telemetry::bus* b) noexcept {
  bus_.store(b, std::memory_order_release);
}

caf::error sink::flush() {
  caf::error first;
  for (;;) {
    auto n = export_once();
    if (!n) {
      if (!first)
        first = std::move(n.error());
      continue; // the failed batch is gone; export the rest
    }
    if (*n == 0)
      break;
  }
  std::lock_guard<std::mutex> guard{export_mtx_};
  if (shut_down_)
    return first;
  try {
    if (auto err = flush_(); err && !first)
      first = std::move(err);
  } catch (...) {
    if (!first)
      first = make_error(sinks_errc::io_error, name() + ": flush threw");
  }
  return first;
}

caf::error sink::shutdown(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> guard{queue_mtx_};
    if (closed_) {
      // A second call (or a call racing the first) waits for nothing.
      return {};
    }
    closed_ = true;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  caf::error first;
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::lock_guard<std::mutex> guard{queue_mtx_};
      if (!queue_.empty()) {
        dropped_full_.fetch_add(queue_.size(), std::memory_order_relaxed);
        if (!first)
          first = make_error(sinks_errc::timeout,
                             name() + ": " + std::to_string(queue_.size())
                               + " records not exported within "
                               + std::to_string(timeout.count()) + " ms");
        queue_.clear();
      }
      break;
    }
    auto n = export_once();
    if (!n) {
      if (!first)
        first = std::move(n.error());
      continue;
    }
    if (*n == 0)
      break;
  }
  std::lock_guard<std::mutex> guard{export_mtx_};
  try {
    if (auto err = flush_(); err && !first)
      first = std::move(err);
    close_();
  } catch (...) {
    if (!first)
      first = make_error(sinks_errc::io_error, name() + ": close threw");
  }
  shut_down_ = true;
  return first;
}

bool sink::closed() const noexcept {
  std::lock_guard<std::mutex> guard{queue_mtx_};
  return closed_;
}

sink_stats sink::stats() const {
  sink_stats result;
  result.consumed = consumed_.load(std::memory_order_relaxed);
  result.exported = exported_.load(std::memory_order_relaxed);
  result.dropped_queue_full = dropped_full_.load(std::memory_order_relaxed);
  result.dropped_export_failed
    = dropped_failed_.load(std::memory_order_relaxed);
  result.failed_batches = failed_batches_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> guard{queue_mtx_};
  result.queued = queue_.size();
  return result;
}

void sink::on_backlog(std::function<void()> fn) {
  std::lock_guard<std::mutex> guard{queue_mtx_};
  on_backlog_ = std::move(fn);
}

caf::error sink::flush_() {
  return {};
}

void sink::close_() {
  // nop
}

} // namespace caflens::sinks
