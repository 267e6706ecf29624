#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"

#include "caflens/sinks/sinks_errc.hpp"
#include "caflens/telemetry/event_name.hpp"
#include "caflens/telemetry/value.hpp"

namespace caflens::telemetry {
class bus;
} // namespace caflens::telemetry

namespace caflens::sinks {

/// One event as a sink keeps it: owned copies of what `execute` passed.
struct record {
  /// The dotted event name ("caflens.investigation.stop").
  std::string event;
  /// Wall-clock time of the event, nanoseconds since the Unix epoch.
  int64_t system_time_ns = 0;
  std::vector<std::pair<std::string, double>> measurements;
  /// A JSON object.
  nlohmann::json metadata = nlohmann::json::object();

  /// The measurement named `key`, or nullptr.
  const double* measurement(std::string_view key) const noexcept;
};

using batch = std::vector<record>;

/// Copies an event into a record stamped with the current time.
record make_record(const telemetry::event_name& event,
                   const telemetry::measurements& m,
                   const telemetry::metadata& md);

/// What every sink shares.
struct sink_options {
  /// Unique among the sinks of one bus: the handler id is
  /// "caflens.sink.<name>", the actor and its events carry it.
  std::string name;
  /// Records queued for export at most; further records are dropped (and
  /// counted) until the sink catches up. Never blocks an emitter.
  size_t max_queue = 8192;
  /// Records exported per call of `export_` at most.
  size_t max_batch = 512;
  /// The sink's actor exports what is queued this often, and sooner when
  /// `max_batch` records wait.
  std::chrono::milliseconds flush_interval{1000};
  /// Events forwarded to the sink. Empty: every catalogue event except the
  /// sinks' own `caflens.sink.export.*` spans (which would feed back).
  std::vector<telemetry::event_name> events;
};

/// Counters of one sink.
struct sink_stats {
  uint64_t consumed = 0;
  uint64_t exported = 0;
  /// Records dropped because the queue was full (or the sink closed).
  uint64_t dropped_queue_full = 0;
  /// Records dropped because `export_` failed for their batch.
  uint64_t dropped_export_failed = 0;
  uint64_t failed_batches = 0;
  size_t queued = 0;
};

/// The base of every sink, in the shape of spdlog's `base_sink`: the public
/// operations are final and thread-safe; a sink implements the protected
/// `export_` (and optionally `flush_`, `close_`), which the base calls under
/// its export mutex, never concurrently and never from an emitter's thread
/// unless the owner calls `flush` there.
///
/// `consume` only appends to a bounded queue: a slow or dead destination
/// never slows an emitter; what does not fit is dropped and counted.
class sink {
public:
  explicit sink(sink_options opts);
  virtual ~sink();

  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;

  const sink_options& options() const noexcept {
    return opts_;
  }

  const std::string& name() const noexcept {
    return opts_.name;
  }

  /// Queues `x` for export, or counts it as dropped when the queue is full
  /// or the sink is shut down. Never blocks on I/O; never throws.
  void consume(record x) noexcept;

  /// Exports at most one batch of what is queued. Returns the number of
  /// records exported; on an export error the batch is dropped (counted) and
  /// the error returned.
  caf::expected<size_t> export_once();

  /// Exports everything queued now, then flushes the destination (for files,
  /// fsync). Returns the first error.
  caf::error flush();

  /// Stops accepting records, exports what is queued (until `timeout`),
  /// flushes and closes the destination. Idempotent; later calls return
  /// nothing. Records still queued at the timeout are counted as dropped.
  caf::error shutdown(std::chrono::milliseconds timeout
                      = std::chrono::seconds{5});

  bool closed() const noexcept;

  sink_stats stats() const;

  /// Called (from an emitter's thread, without locks held) once when the
  /// queue reaches `max_batch` records after the last export; the sink's
  /// actor sets it to wake itself. Set before the sink receives records.
  void on_backlog(std::function<void()> fn);

  /// Emits `caflens.sink.export.{start,stop,exception}` around each batch on
  /// `b` (nullptr: none). `spawn_sink` sets its bus.
  void instrument(telemetry::bus* b) noexcept;

protected:
  /// Writes `xs` to the destination. Called under the export mutex.
  virtual caf::error export_(const batch& xs) = 0;

  /// Makes exported records durable (fsync, socket flush). Default: nothing.
  virtual caf::error flush_();

  /// Releases the destination. Called once, by `shutdown`.
  virtual void close_();

private:
  /// Moves up to `max_batch` queued records into `out`.
  void take(batch& out);

  sink_options opts_;
  mutable std::mutex queue_mtx_;
  batch queue_;
  bool closed_ = false;
  bool backlog_signalled_ = false;
  std::function<void()> on_backlog_;
  std::atomic<telemetry::bus*> bus_{nullptr};
  std::mutex export_mtx_;
  bool shut_down_ = false;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> dropped_full_{0};
  std::atomic<uint64_t> dropped_failed_{0};
  std::atomic<uint64_t> failed_batches_{0};
};

using sink_ptr = std::shared_ptr<sink>;

/// Makes a fresh sink: a sink's actor calls it on every (re)start, so a
/// restarted sink reopens its destination.
using sink_factory = std::function<caf::expected<sink_ptr>()>;

/// Options of the actor that runs a sink.
struct sink_actor_options {
  /// Time `shutdown` gets when the actor terminates.
  std::chrono::milliseconds shutdown_timeout{5000};
  /// The sink was attached with `attach_sink` already (its events queue
  /// up before the actor runs); `spawn_sink` attaches it otherwise.
  bool attached = false;
};

/// Attaches `s` to `b` for its events (handler id "caflens.sink.<name>"):
/// from now on its events queue up, whether or not its actor runs yet.
/// Errors: `invalid_options` (no sink, a name with dots), the bus's
/// `already_exists`.
caf::error attach_sink(const sink_ptr& s, telemetry::bus& b);

/// Spawns the actor that runs `s` on `b`: attaches a handler for the sink's
/// events (id "caflens.sink.<name>"), exports a batch every
/// `flush_interval` (sooner on a backlog) inside `caflens.sink.export` spans,
/// emits `caflens.sink.dropped` for records dropped since the last export,
/// and on termination (supervisor shutdown, crash, kill) detaches, then
/// shuts the sink down so that nothing queued is lost.
///
/// The actor answers `flush_atom` with `ok_atom` once everything queued is
/// exported and flushed, or with the sink's error.
/// `b` must outlive the actor (declare it before the actor system).
/// Errors: the bus's attach errors (`already_exists` for a second sink of
/// the same name), `invalid_options` (no sink, a name with dots).
caf::expected<caf::actor> spawn_sink(caf::actor_system& sys, sink_ptr s,
                                     telemetry::bus& b,
                                     sink_actor_options opts = {});

/// The events a sink receives: its `events`, or the default selection.
std::vector<telemetry::event_name> events_of(const sink_options& opts);

} // namespace caflens::sinks
