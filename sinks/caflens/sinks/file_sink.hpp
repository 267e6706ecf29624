#pragma once

#include <cstdint>
#include <string>

#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/default_logger.hpp"

namespace caflens::sinks {

/// How a file sink writes one record.
enum class file_format : uint8_t {
  /// "2026-11-30T19:40:00.123Z warning caflens.x.y {measurements} {metadata}"
  /// (the default logger's line, with a UTC time).
  text,
  /// One JSON object per line: {"time":"...","time_ns":...,"event":"...",
  /// "level":"...","measurements":{...},"metadata":{...}}.
  jsonl,
  /// RFC 4180: time,time_ns,event,level,measurements,metadata (the last two
  /// JSON); a header line starts every file.
  csv,
};

std::string_view to_string(file_format x) noexcept;

struct file_sink_options {
  /// The file; "-" writes to the standard error (no rotation): the default
  /// logger as a sink.
  std::string path;
  /// Records of events below this level are skipped (the level the default
  /// logger assigns: `telemetry::level_of`).
  telemetry::log_level min_level = telemetry::log_level::debug;
  file_format format = file_format::jsonl;
  /// Rotate before a write would grow the file past this size
  /// (0: never): path → path.1 → ... → path.<max_files>, oldest deleted.
  uint64_t max_bytes = 64 * 1024 * 1024;
  /// Rotated files kept besides the current one.
  uint32_t max_files = 5;
  /// fsync(2) on every flush (the sink's actor flushes after each periodic
  /// export), so a crash loses at most the records of one interval.
  bool fsync_on_flush = true;
};

/// Writes records to a file with size-based rotation. Each batch is one
/// write(2) of whole lines; opening a file whose last line was cut by a
/// crash trims that partial line, so the file always parses.
class file_sink final : public sink {
public:
  /// Opens (creating, appending) `fopts.path`. Errors: `invalid_options`
  /// (empty path), `io_error` (with the path and strerror).
  static caf::expected<std::shared_ptr<file_sink>>
  open(sink_options opts, file_sink_options fopts);

  ~file_sink() override;

  const file_sink_options& file_options() const noexcept {
    return fopts_;
  }

  /// Formats one record as the line this sink writes (with its newline).
  static std::string format(const record& x, file_format f);

protected:
  caf::error export_(const batch& xs) override;
  caf::error flush_() override;
  void close_() override;

private:
  file_sink(sink_options opts, file_sink_options fopts);

  caf::error open_file();
  caf::error rotate();

  file_sink_options fopts_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool dirty_ = false;
};

/// A factory for `spawn_sink` and the lens's `sinks` configuration.
sink_factory file_sink_factory(sink_options opts, file_sink_options fopts);

} // namespace caflens::sinks
