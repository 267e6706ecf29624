// `caflens events`: the telemetry catalogue; `caflens history` and
// `caflens show TRACE_ID`: past investigations from a store, opened
// read-only (a running lens may be writing it: WAL lets both work).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "caflens/caflens.hpp"
#include "caflens/store/store.hpp"
#include "caflens/telemetry/catalogue.hpp"

#include "commands.hpp"

namespace caflens::cli {

namespace {

using json = nlohmann::json;

void print_json(std::string_view command, json data) {
  json envelope{{"caflens_cli", json_version},
                {"command", command},
                {"data", std::move(data)}};
  std::cout << envelope.dump(2) << '\n';
}

/// The store of --store, else CAFLENS_STORE, opened read-only.
caf::expected<std::shared_ptr<store::database>>
open_store(std::string_view cmd, std::string path) {
  if (path.empty())
    if (auto* e = std::getenv("CAFLENS_STORE"))
      path = e;
  if (path.empty())
    return caf::make_error(caf::sec::invalid_argument,
                           "no store: pass --store FILE or set "
                           "CAFLENS_STORE");
  store::store_options opts;
  opts.path = path;
  auto db = store::database::open(opts, true);
  if (!db)
    return caf::make_error(caf::sec::invalid_argument,
                           "cannot read the store '" + path
                             + "': " + render_error(db.error()));
  return db;
}

std::string iso_ms(int64_t unix_ms) {
  auto secs = static_cast<time_t>(unix_ms / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d",
                t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                t.tm_min, t.tm_sec);
  return buf;
}

/// One line: an error's own text when it carries one.
int fail(std::string_view cmd, const caf::error& err) {
  auto& ctx = err.context();
  auto text = ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0)
                                                : render_error(err);
  std::cerr << "caflens " << cmd << ": " << text << '\n';
  return exit_code::failure;
}

} // namespace

int run_events(bool json_out, const std::string& prefix) {
  auto matches = [&](const telemetry::event_info& e) {
    return e.name.str().compare(0, prefix.size(), prefix) == 0;
  };
  if (json_out) {
    json xs = json::array();
    for (auto& e : telemetry::catalogue())
      if (matches(e))
        xs.push_back({{"event", e.name.str()},
                      {"description", e.description},
                      {"measurements", e.measurements},
                      {"metadata", e.metadata}});
    print_json("events", std::move(xs));
    return exit_code::ok;
  }
  size_t n = 0;
  for (auto& e : telemetry::catalogue()) {
    if (!matches(e))
      continue;
    ++n;
    std::cout << e.name.str() << "\n  " << e.description << '\n';
    auto list = [](const std::vector<std::string>& xs) {
      std::string out;
      for (auto& x : xs)
        out += (out.empty() ? "" : ", ") + x;
      return out.empty() ? std::string{"-"} : out;
    };
    std::cout << "  measurements: " << list(e.measurements)
              << "\n  metadata:     " << list(e.metadata) << '\n';
  }
  std::cerr << n << " events\n";
  return exit_code::ok;
}

int run_history(const history_options& opts) {
  auto db = open_store("history", opts.store);
  if (!db)
    return fail("history", db.error());
  store::query q;
  if (!opts.pattern.empty())
    q.pattern = opts.pattern;
  if (!opts.culprit.empty())
    q.culprit = opts.culprit;
  if (!opts.min_severity.empty())
    q.min_severity = opts.min_severity;
  if (opts.since_ms > 0)
    q.from_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()
                - opts.since_ms;
  q.limit = opts.limit;
  auto rows = (*db)->investigations(q);
  if (!rows)
    return fail("history", rows.error());
  if (opts.json) {
    json xs = json::array();
    for (auto& r : *rows)
      xs.push_back(store::to_json(r));
    print_json("history", std::move(xs));
    return exit_code::ok;
  }
  for (auto& r : *rows) {
    std::cout << iso_ms(r.started_at) << "  " << r.trace_id << "  "
              << (r.pattern.empty() ? "(no insight)"
                                    : "[" + r.severity + "] " + r.pattern)
              << (r.culprit.empty() ? "" : " — " + r.culprit)
              << (r.partial ? " (partial)" : "") << "\n    " << r.reason
              << '\n';
  }
  std::cerr << rows->size() << " investigations\n";
  return exit_code::ok;
}

int run_show(const std::string& trace_id, const std::string& store,
             bool json_out) {
  auto db = open_store("show", store);
  if (!db)
    return fail("show", db.error());
  auto d = (*db)->investigation(trace_id);
  if (!d) {
    if (d.error() == store::store_errc::not_found) {
      std::cerr << "caflens show: no investigation " << trace_id
                << " in the store\n";
      return exit_code::not_found;
    }
    return fail("show", d.error());
  }
  if (json_out) {
    print_json("show", {{"investigation", store::to_json(d->row)},
                        {"result", d->result},
                        {"snapshots", d->snapshots},
                        {"timeline", d->timeline}});
    return exit_code::ok;
  }
  auto res = investigation_result_from_json(d->result);
  if (!res)
    return fail("show", res.error());
  std::cout << render_report(*res);
  std::cout << "\nstored: " << d->snapshots.size() << " snapshots, "
            << d->timeline.size() << " timeline events";
  size_t tools = 0;
  size_t models = 0;
  for (auto& ev : d->timeline) {
    auto name = ev.value("event", std::string{});
    tools += name == "caflens.tool.stop" || name == "caflens.tool.exception";
    models += name == "caflens.llm.stop" || name == "caflens.llm.exception";
  }
  std::cout << " (" << tools << " tool calls, " << models
            << " model calls)\n";
  return exit_code::ok;
}

} // namespace caflens::cli
