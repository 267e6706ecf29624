#include "caflens/sinks/file_sink.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caflens/telemetry/default_logger.hpp"
#include "caflens/telemetry/event_name.hpp"

namespace caflens::sinks {

namespace {

caf::error io_error(const std::string& what, const std::string& path) {
  return make_error(sinks_errc::io_error,
                    what + " " + path + ": " + std::strerror(errno));
}

std::string iso_time(int64_t ns) {
  auto secs = static_cast<time_t>(ns / 1'000'000'000);
  auto ms = (ns / 1'000'000) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

std::string_view level_of(const std::string& event) {
  auto name = telemetry::event_name::parse(event);
  return name ? telemetry::to_string(telemetry::level_of(*name))
              : std::string_view{"info"};
}

nlohmann::json measurements_json(const record& x) {
  auto m = nlohmann::json::object();
  for (auto& [k, v] : x.measurements)
    m[k] = v;
  return m;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos)
    return s;
  std::string out = "\"";
  for (auto c : s) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
  return out;
}

constexpr std::string_view csv_header
  = "time,time_ns,event,level,measurements,metadata\n";

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

std::string_view to_string(file_format x) noexcept {
  switch (x) {
    case file_format::text:
      return "text";
    case file_format::jsonl:
      return "jsonl";
    case file_format::csv:
      return "csv";
  }
  return "unknown";
}

std::string file_sink::format(const record& x, file_format f) {
  std::string line;
  switch (f) {
    case file_format::text:
      line = iso_time(x.system_time_ns);
      line += ' ';
      line += level_of(x.event);
      line += ' ';
      line += x.event;
      line += ' ';
      line += dump(measurements_json(x));
      line += ' ';
      line += dump(x.metadata);
      break;
    case file_format::jsonl: {
      nlohmann::json j{{"time", iso_time(x.system_time_ns)},
                       {"time_ns", x.system_time_ns},
                       {"event", x.event},
                       {"level", level_of(x.event)},
                       {"measurements", measurements_json(x)},
                       {"metadata", x.metadata}};
      line = dump(j);
      break;
    }
    case file_format::csv:
      line = iso_time(x.system_time_ns);
      line += ',';
      line += std::to_string(x.system_time_ns);
      line += ',';
      line += csv_field(x.event);
      line += ',';
      line += level_of(x.event);
      line += ',';
      line += csv_field(dump(measurements_json(x)));
      line += ',';
      line += csv_field(dump(x.metadata));
      break;
  }
  line += '\n';
  return line;
}

file_sink::file_sink(sink_options opts, file_sink_options fopts)
  : sink(std::move(opts)), fopts_(std::move(fopts)) {
}

file_sink::~file_sink() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::expected<std::shared_ptr<file_sink>>
file_sink::open(sink_options opts, file_sink_options fopts) {
  if (fopts.path.empty())
    return make_error(sinks_errc::invalid_options,
                      "file sink '" + opts.name + "': no path");
  std::shared_ptr<file_sink> result{
    new file_sink(std::move(opts), std::move(fopts))};
  if (auto err = result->open_file())
    return err;
  return result;
}

caf::error file_sink::open_file() {
  if (fopts_.path == "-") {
    fd_ = ::dup(2);
    if (fd_ < 0)
      return io_error("cannot duplicate", "stderr");
    size_ = 0;
    return {};
  }
  fd_ = ::open(fopts_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
               0644);
  if (fd_ < 0)
    return io_error("cannot open", fopts_.path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0)
    return io_error("cannot stat", fopts_.path);
  size_ = static_cast<uint64_t>(st.st_size);
  // A crash in the middle of a write may have cut the last line: trim it.
  if (size_ > 0) {
    char last = 0;
    if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) != 1)
      return io_error("cannot read", fopts_.path);
    if (last != '\n') {
      std::string tail;
      auto pos = static_cast<off_t>(size_);
      off_t cut = 0;
      char buf[4096];
      while (pos > 0) {
        auto n = std::min<off_t>(pos, sizeof(buf));
        pos -= n;
        if (::pread(fd_, buf, static_cast<size_t>(n), pos) != n)
          return io_error("cannot read", fopts_.path);
        auto* nl = static_cast<char*>(memrchr(buf, '\n', static_cast<size_t>(n)));
        if (nl != nullptr) {
          cut = pos + (nl - buf) + 1;
          break;
        }
      }
      if (::ftruncate(fd_, cut) != 0)
        return io_error("cannot trim the partial last line of", fopts_.path);
      size_ = static_cast<uint64_t>(cut);
    }
  }
  if (size_ == 0 && fopts_.format == file_format::csv) {
    if (!write_all(fd_, csv_header.data(), csv_header.size()))
      return io_error("cannot write", fopts_.path);
    size_ = csv_header.size();
  }
  return {};
}

caf::error file_sink::rotate() {
  if (fd_ >= 0) {
    if (fopts_.fsync_on_flush)
      ::fsync(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  auto name = [&](uint32_t i) {
    return i == 0 ? fopts_.path : fopts_.path + "." + std::to_string(i);
  };
  if (fopts_.max_files == 0) {
    ::unlink(fopts_.path.c_str());
  } else {
    ::unlink(name(fopts_.max_files).c_str());
    for (auto i = fopts_.max_files; i > 0; --i)
      if (::rename(name(i - 1).c_str(), name(i).c_str()) != 0
          && errno != ENOENT)
        return io_error("cannot rotate", name(i - 1));
  }
  return open_file();
}

caf::error file_sink::export_(const batch& xs) {
  if (fd_ < 0)
    if (auto err = open_file())
      return err;
  std::string buf;
  bool to_stderr = fopts_.path == "-";
  for (auto& x : xs) {
    if (fopts_.min_level != telemetry::log_level::debug) {
      auto name = telemetry::event_name::parse(x.event);
      if (name && telemetry::level_of(*name) < fopts_.min_level)
        continue;
    }
    auto line = format(x, fopts_.format);
    if (!to_stderr && fopts_.max_bytes > 0
        && size_ + buf.size() + line.size() > fopts_.max_bytes
        && size_ + buf.size() > (fopts_.format == file_format::csv
                                   ? csv_header.size()
                                   : 0)) {
      if (!buf.empty()) {
        if (!write_all(fd_, buf.data(), buf.size()))
          return io_error("cannot write", fopts_.path);
        size_ += buf.size();
        buf.clear();
      }
      if (auto err = rotate())
        return err;
    }
    buf += line;
  }
  if (!buf.empty()) {
    if (!write_all(fd_, buf.data(), buf.size()))
      return io_error("cannot write", fopts_.path);
    size_ += buf.size();
  }
  dirty_ = true;
  return {};
}

caf::error file_sink::flush_() {
  if (fd_ < 0 || !dirty_ || !fopts_.fsync_on_flush || fopts_.path == "-")
    return {};
  if (::fsync(fd_) != 0)
    return io_error("cannot fsync", fopts_.path);
  dirty_ = false;
  return {};
}

void file_sink::close_() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

sink_factory file_sink_factory(sink_options opts, file_sink_options fopts) {
  return [opts, fopts]() -> caf::expected<sink_ptr> {
    auto s = file_sink::open(opts, fopts);
    if (!s)
      return std::move(s.error());
    return sink_ptr{std::move(*s)};
  };
}

} // namespace caflens::sinks
