#define CAF_SUITE sinks.files
#include "caf/test/dsl.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/sinks/file_sink.hpp"
#include "caflens/telemetry/bus.hpp"

#include "daemon.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
namespace tel = caflens::telemetry;
namespace fs = std::filesystem;
using caflens::test::temp_dir;

namespace {


std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in{p};
  std::vector<std::string> result;
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

record rec(int i, std::string note = "plain") {
  record r;
  r.event = "caflens.investigation.stop";
  r.system_time_ns = 1'796'000'000'123'000'000 + i;
  r.measurements = {{"duration", 1500.5}, {"seq", static_cast<double>(i)}};
  r.metadata = {{"trace_id", "abc"}, {"note", std::move(note)}};
  return r;
}

sink_options named(std::string name) {
  sink_options o;
  o.name = std::move(name);
  return o;
}

} // namespace

CAF_TEST(jsonl lines are one JSON object each) {
  auto line = file_sink::format(rec(1, "with \"quotes\"\nand a newline"),
                                file_format::jsonl);
  CAF_REQUIRE(!line.empty() && line.back() == '\n');
  CAF_CHECK_EQUAL(std::count(line.begin(), line.end(), '\n'), 1);
  auto j = nlohmann::json::parse(line);
  CAF_CHECK_EQUAL(j["event"], "caflens.investigation.stop");
  CAF_CHECK_EQUAL(j["level"], "info");
  CAF_CHECK_EQUAL(j["measurements"]["duration"], 1500.5);
  CAF_CHECK_EQUAL(j["metadata"]["note"], "with \"quotes\"\nand a newline");
  CAF_CHECK_EQUAL(j["time"], "2026-11-30T00:53:20.123Z");
  CAF_CHECK_EQUAL(j["time_ns"], 1'796'000'000'123'000'001);
}

CAF_TEST(csv fields are quoted as RFC 4180 asks) {
  auto line = file_sink::format(rec(2, "a,b \"c\""), file_format::csv);
  // time,time_ns,event,level,measurements,metadata
  CAF_CHECK(line.rfind("2026-11-30T00:53:20.123Z,1796000000123000002,"
                       "caflens.investigation.stop,info,",
                       0)
            == 0);
  CAF_CHECK(line.find(R"("{""duration"":1500.5,""seq"":2.0}")")
            != std::string::npos);
  CAF_CHECK(line.find(R"(""note"":""a,b \""c\"""")") != std::string::npos);
  auto text = file_sink::format(rec(3), file_format::text);
  CAF_CHECK(text.rfind("2026-11-30T00:53:20.123Z info "
                       "caflens.investigation.stop {",
                       0)
            == 0);
}

CAF_TEST(a file sink appends and writes a csv header once and reports bad paths) {
  temp_dir dir;
  auto path = (dir.path / "events.csv").string();
  for (int round = 0; round < 2; ++round) {
    file_sink_options fo;
    fo.path = path;
    fo.format = file_format::csv;
    auto s = file_sink::open(named("csv"), fo);
    CAF_REQUIRE(s);
    for (int i = 0; i < 3; ++i)
      (*s)->consume(rec(i));
    CAF_CHECK(!(*s)->shutdown());
  }
  auto lines = lines_of(path);
  CAF_REQUIRE_EQUAL(lines.size(), 7u);
  CAF_CHECK_EQUAL(lines[0], "time,time_ns,event,level,measurements,metadata");
  CAF_CHECK(lines[4].find("caflens.investigation.stop") != std::string::npos);
  file_sink_options bad;
  bad.path = (dir.path / "missing" / "x.jsonl").string();
  auto s = file_sink::open(named("bad"), bad);
  CAF_REQUIRE(!s);
  auto msg = render_error(s.error());
  CAF_CHECK(msg.find("io_error") != std::string::npos);
  CAF_CHECK(msg.find("missing/x.jsonl") != std::string::npos);
  CAF_CHECK(!file_sink::open(named("none"), file_sink_options{}));
}

CAF_TEST(files rotate by size and keep max_files) {
  temp_dir dir;
  auto path = (dir.path / "events.jsonl").string();
  file_sink_options fo;
  fo.path = path;
  fo.max_bytes = 2000;
  fo.max_files = 2;
  auto s = file_sink::open(named("rot"), fo);
  CAF_REQUIRE(s);
  auto one = file_sink::format(rec(0), file_format::jsonl).size();
  int total = 200;
  for (int i = 0; i < total; ++i) {
    (*s)->consume(rec(i));
    if (i % 7 == 0)
      CAF_CHECK(!(*s)->flush());
  }
  CAF_CHECK(!(*s)->shutdown());
  CAF_CHECK(fs::exists(path));
  CAF_CHECK(fs::exists(path + ".1"));
  CAF_CHECK(fs::exists(path + ".2"));
  CAF_CHECK(!fs::exists(path + ".3"));
  std::vector<int> seqs;
  for (auto p : {path + ".2", path + ".1", path}) {
    CAF_CHECK_LESS_OR_EQUAL(fs::file_size(p), 2000u);
    for (auto& line : lines_of(p))
      seqs.push_back(
        static_cast<int>(nlohmann::json::parse(line)["measurements"]["seq"]));
  }
  // The newest records survive, in order and without a gap.
  auto per_file = 2000 / one;
  CAF_CHECK_GREATER_OR_EQUAL(seqs.size(), 2 * per_file);
  CAF_CHECK_EQUAL(seqs.back(), total - 1);
  for (size_t i = 1; i < seqs.size(); ++i)
    CAF_CHECK_EQUAL(seqs[i], seqs[i - 1] + 1);
}

CAF_TEST(reopening trims a line a crash cut short) {
  temp_dir dir;
  auto path = (dir.path / "cut.jsonl").string();
  {
    std::ofstream out{path};
    out << file_sink::format(rec(0), file_format::jsonl)
        << file_sink::format(rec(1), file_format::jsonl)
        << R"({"time":"2026-11-30T00:53:20.123Z","ev)";
  }
  file_sink_options fo;
  fo.path = path;
  auto s = file_sink::open(named("cut"), fo);
  CAF_REQUIRE(s);
  (*s)->consume(rec(2));
  CAF_CHECK(!(*s)->shutdown());
  auto lines = lines_of(path);
  CAF_REQUIRE_EQUAL(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto seq = nlohmann::json::parse(lines[i])["measurements"]["seq"]
                 .get<double>();
    CAF_CHECK_EQUAL(seq, static_cast<double>(i));
  }
}

// A child process writes heavily through a sink actor (flushing every
// 50 ms) and is killed with SIGKILL; the file reopens intact and loses at
// most what was queued since the last export.
CAF_TEST(kill -9 during heavy writes loses at most the unflushed records) {
  temp_dir dir;
  auto path = (dir.path / "crash.jsonl").string();
  auto* emitted = static_cast<std::atomic<int64_t>*>(
    ::mmap(nullptr, sizeof(std::atomic<int64_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  CAF_REQUIRE(emitted != MAP_FAILED);
  new (emitted) std::atomic<int64_t>{-1};
  auto pid = ::fork();
  CAF_REQUIRE(pid >= 0);
  if (pid == 0) {
    actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    actor_system sys{cfg};
    tel::bus bus;
    sink_options so;
    so.name = "crash";
    so.max_queue = 1 << 22;
    so.max_batch = 4096;
    so.flush_interval = std::chrono::milliseconds{50};
    so.events = {tel::event_name{"app", "write"}};
    file_sink_options fo;
    fo.path = path;
    auto s = file_sink::open(so, fo);
    if (!s)
      ::_exit(2);
    auto a = spawn_sink(sys, *s, bus);
    if (!a)
      ::_exit(3);
    tel::event ev = bus.intern(tel::event_name{"app", "write"});
    for (int64_t i = 0;; ++i) {
      bus.execute(ev, {{"seq", static_cast<double>(i)}},
                  {{"payload", "0123456789abcdef0123456789abcdef"}});
      emitted->store(i, std::memory_order_release);
      if (i % 100 == 99)
        std::this_thread::sleep_for(std::chrono::microseconds{500});
    }
  }
  // Wait for the child to be well into its writes (an external process:
  // polling its progress is the only way), then kill it mid-stream.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  while (emitted->load() < 30'000 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CAF_CHECK(WIFSIGNALED(status));
  auto last_emitted = emitted->load();
  CAF_REQUIRE_GREATER_OR_EQUAL(last_emitted, 30'000);
  // Reopening repairs a cut line; every line parses; no gap.
  file_sink_options fo;
  fo.path = path;
  auto s = file_sink::open(named("reopen"), fo);
  CAF_REQUIRE(s);
  CAF_CHECK(!(*s)->shutdown());
  auto lines = lines_of(path);
  CAF_REQUIRE(!lines.empty());
  int64_t expected = 0;
  bool intact = true;
  for (auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto seq = j.is_discarded()
                 ? nlohmann::json{}
                 : j.value("/measurements/seq"_json_pointer, nlohmann::json{});
    if (!seq.is_number() || seq.get<double>() != static_cast<double>(expected)) {
      CAF_MESSAGE("line " << expected << " is not record " << expected
                          << ": " << line.substr(0, 200));
      intact = false;
      break;
    }
    ++expected;
  }
  CAF_CHECK(intact);
  auto lost = last_emitted + 1 - expected;
  CAF_MESSAGE("kill -9 after " << last_emitted + 1 << " records: "
                               << expected << " on disk, " << lost
                               << " lost");
  CAF_CHECK_GREATER_OR_EQUAL(lost, 0);
  // At most what the emitter produced in about one export interval (50 ms
  // at ~200 000 records/s), with room for a slow machine.
  CAF_CHECK_LESS(lost, 100'000);
  ::munmap(emitted, sizeof(std::atomic<int64_t>));
}
