#include "caflens/store/store.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/catalogue.hpp"

namespace caflens::store {

// -- errors -------------------------------------------------------------------

std::string to_string(store_errc code) {
  switch (code) {
    case store_errc::open_failed:
      return "open_failed";
    case store_errc::schema_mismatch:
      return "schema_mismatch";
    case store_errc::io_error:
      return "io_error";
    case store_errc::locked:
      return "locked";
    case store_errc::corrupt:
      return "corrupt";
    case store_errc::not_found:
      return "not_found";
    case store_errc::invalid_query:
      return "invalid_query";
  }
  return "unknown store_errc";
}

std::string to_string(llm_exchanges_mode x) {
  switch (x) {
    case llm_exchanges_mode::none:
      return "none";
    case llm_exchanges_mode::decisions:
      return "decisions";
    case llm_exchanges_mode::full:
      return "full";
  }
  return "unknown";
}

bool parse_llm_exchanges_mode(const std::string& text,
                              llm_exchanges_mode& out) {
  for (auto x : {llm_exchanges_mode::none, llm_exchanges_mode::decisions,
                 llm_exchanges_mode::full})
    if (text == to_string(x)) {
      out = x;
      return true;
    }
  return false;
}

namespace {

std::string render(uint8_t code) {
  return to_string(static_cast<store_errc>(code));
}

[[maybe_unused]] const bool registered
  = register_error_category(store_errc_category, render);

/// Maps an SQLite result code to the store's error, with context.
caf::error sql_error(sqlite3* db, int rc, const std::string& what) {
  auto msg = what + ": " + (db != nullptr ? sqlite3_errmsg(db)
                                          : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return make_error(store_errc::locked, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return make_error(store_errc::corrupt, msg);
    case SQLITE_CANTOPEN:
      return make_error(store_errc::open_failed, msg);
    default:
      return make_error(store_errc::io_error, msg);
  }
}

/// A prepared statement, finalized on scope exit.
class stmt {
public:
  stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~stmt() {
    sqlite3_finalize(s_);
  }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  caf::error prepared(const std::string& what) const {
    return rc_ == SQLITE_OK ? caf::error{} : sql_error(db_, rc_, what);
  }

  stmt& bind(int i, const std::string& x) {
    sqlite3_bind_text(s_, i, x.data(), static_cast<int>(x.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  stmt& bind(int i, int64_t x) {
    sqlite3_bind_int64(s_, i, x);
    return *this;
  }
  stmt& bind(int i, double x) {
    sqlite3_bind_double(s_, i, x);
    return *this;
  }

  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    return sqlite3_step(s_);
  }

  caf::error run(const std::string& what) {
    auto rc = step();
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? caf::error{}
                                                 : sql_error(db_, rc, what);
  }

  std::string text(int i) const {
    auto* p = sqlite3_column_text(s_, i);
    return p != nullptr ? std::string{reinterpret_cast<const char*>(p)}
                        : std::string{};
  }
  int64_t integer(int i) const {
    return sqlite3_column_int64(s_, i);
  }
  double real(int i) const {
    return sqlite3_column_double(s_, i);
  }

private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

/// Versioned migrations: migrations[i] takes the schema from i to i + 1.
const std::vector<const char*>& migrations() {
  static const auto& xs = *new std::vector<const char*>{
    // 0 -> 1: investigations, their insights, notifications, snapshots and
    // timeline.
    R"sql(
CREATE TABLE investigations(
  trace_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL, reason TEXT, trigger TEXT, node TEXT,
  brain TEXT, partial INTEGER NOT NULL, severity TEXT,
  severity_rank INTEGER NOT NULL, pattern TEXT, culprit TEXT, summary TEXT,
  insights INTEGER NOT NULL, notifications INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL, result TEXT NOT NULL);
CREATE INDEX investigations_started ON investigations(started_at);
CREATE TABLE insights(
  trace_id TEXT NOT NULL, rank INTEGER NOT NULL, pattern TEXT,
  severity TEXT, severity_rank INTEGER NOT NULL, culprits TEXT,
  summary TEXT, PRIMARY KEY(trace_id, rank));
CREATE INDEX insights_pattern ON insights(pattern);
CREATE TABLE notifications(
  trace_id TEXT NOT NULL, id TEXT NOT NULL, skill TEXT, node TEXT,
  severity TEXT, summary TEXT, PRIMARY KEY(trace_id, id));
CREATE TABLE snapshots(
  trace_id TEXT NOT NULL, id TEXT NOT NULL, skill TEXT, node TEXT,
  captured_at INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY(trace_id, id));
CREATE TABLE timeline(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL,
  time_ns INTEGER NOT NULL, event TEXT NOT NULL, measurements TEXT,
  metadata TEXT);
CREATE INDEX timeline_trace ON timeline(trace_id, seq);
)sql",
    // 1 -> 2: alert state changes and experiment lifecycles.
    R"sql(
CREATE TABLE alerts(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ns INTEGER NOT NULL,
  rule TEXT NOT NULL, state TEXT NOT NULL, metric TEXT, severity TEXT,
  value REAL, threshold REAL);
CREATE INDEX alerts_at ON alerts(at_ns);
CREATE TABLE experiments(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ns INTEGER NOT NULL,
  experiment TEXT NOT NULL, condition TEXT, state TEXT NOT NULL,
  samples INTEGER, tags TEXT);
CREATE INDEX experiments_name ON experiments(experiment, seq);
)sql",
    // 2 -> 3: the HTTP exchanges with models and the calls of every loop
    // (what replaying an investigation with scripted brains needs).
    R"sql(
CREATE TABLE llm_exchanges(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL,
  loop TEXT NOT NULL, node TEXT, iteration INTEGER NOT NULL,
  attempt INTEGER NOT NULL, at_ns INTEGER NOT NULL, client TEXT,
  provider TEXT, model TEXT, url TEXT, status INTEGER NOT NULL,
  error_code INTEGER NOT NULL, error_text TEXT, latency_ms INTEGER NOT NULL,
  request TEXT NOT NULL, response_headers TEXT, response_body TEXT);
CREATE INDEX llm_exchanges_trace ON llm_exchanges(trace_id, seq);
CREATE TABLE llm_decisions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL,
  loop TEXT NOT NULL, node TEXT, brain TEXT NOT NULL,
  iteration INTEGER NOT NULL, at_ns INTEGER NOT NULL, call TEXT NOT NULL);
CREATE INDEX llm_decisions_trace ON llm_decisions(trace_id, loop, seq);
)sql",
  };
  return xs;
}

int64_t severity_rank(const std::string& s) {
  if (s == "critical")
    return 3;
  if (s == "warning")
    return 2;
  if (s == "info")
    return 1;
  return 0;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string str(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>()
                                        : std::string{};
}

int64_t num(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_number() ? i->get<int64_t>() : 0;
}

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false);
}

/// `text`, or the stub `{"truncated":<bytes>}` when it is over `max`.
std::string bounded(std::string text, size_t max) {
  if (max == 0 || text.size() <= max)
    return text;
  return nlohmann::json{{"truncated", text.size()}}.dump();
}

investigation_row read_row(const stmt& s) {
  investigation_row r;
  r.trace_id = s.text(0);
  r.started_at = s.integer(1);
  r.finished_at = s.integer(2);
  r.reason = s.text(3);
  r.trigger = s.text(4);
  r.node = s.text(5);
  r.brain = s.text(6);
  r.partial = s.integer(7) != 0;
  r.severity = s.text(8);
  r.pattern = s.text(9);
  r.culprit = s.text(10);
  r.summary = s.text(11);
  r.insights = s.integer(12);
  r.notifications = s.integer(13);
  r.input_tokens = s.integer(14);
  r.output_tokens = s.integer(15);
  r.cost_usd = s.real(16);
  return r;
}

constexpr const char* row_columns
  = "trace_id, started_at, finished_at, reason, trigger, node, brain, "
    "partial, severity, pattern, culprit, summary, insights, notifications, "
    "input_tokens, output_tokens, cost_usd";

} // namespace

// -- database -----------------------------------------------------------------

database::database(sqlite3* db, store_options opts)
  : db_(db), opts_(std::move(opts)) {
}

database::~database() {
  sqlite3_close_v2(db_);
}

caf::expected<std::shared_ptr<database>>
database::open(const store_options& opts, bool read_only) {
  if (opts.path.empty())
    return make_error(store_errc::open_failed, "store: no path");
  sqlite3* raw = nullptr;
  auto flags = read_only ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_FULLMUTEX;
  auto rc = sqlite3_open_v2(opts.path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto err = make_error(store_errc::open_failed,
                          "store: cannot open " + opts.path + ": "
                            + (raw != nullptr ? sqlite3_errmsg(raw)
                                              : sqlite3_errstr(rc)));
    sqlite3_close_v2(raw);
    return err;
  }
  std::shared_ptr<database> db{new database(raw, opts)};
  sqlite3_busy_timeout(raw, static_cast<int>(opts.busy_timeout.count()));
  if (!read_only) {
    // WAL: readers never block the writer; NORMAL sync is durable at every
    // checkpoint and loses at most the last transactions on power loss,
    // never the database (a process crash loses nothing committed).
    if (auto err = db->exec("PRAGMA journal_mode=WAL"))
      return err;
    if (auto err = db->exec("PRAGMA synchronous=NORMAL"))
      return err;
    if (auto err = db->exec("PRAGMA foreign_keys=ON"))
      return err;
    // A checkpointed WAL is cut back to 64 MiB (it keeps its high-water
    // mark otherwise); pages freed by retention are reused by later writes,
    // so the files stay bounded by what retention keeps.
    if (auto err = db->exec("PRAGMA journal_size_limit=67108864"))
      return err;
    if (auto err = db->migrate())
      return err;
  } else {
    auto v = db->version();
    if (v > schema_version)
      return make_error(store_errc::schema_mismatch,
                        "store " + opts.path + ": schema version "
                          + std::to_string(v) + " is newer than this caflens ("
                          + std::to_string(schema_version) + ")");
    if (v < 0)
      return make_error(store_errc::corrupt,
                        "store " + opts.path + ": not a caflens database");
  }
  return db;
}

caf::error database::exec(const char* sql) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc == SQLITE_OK)
    return {};
  std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return sql_error(nullptr, rc, "store " + opts_.path + ": " + text);
}

int database::version() {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "PRAGMA user_version"};
  if (s.prepared("") || s.step() != SQLITE_ROW)
    return -1;
  return static_cast<int>(s.integer(0));
}

caf::error database::migrate() {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  auto v = version();
  if (v < 0)
    return make_error(store_errc::corrupt,
                      "store " + opts_.path + ": not a database");
  if (v > schema_version)
    return make_error(store_errc::schema_mismatch,
                      "store " + opts_.path + ": schema version "
                        + std::to_string(v) + " is newer than this caflens ("
                        + std::to_string(schema_version) + ")");
  for (auto i = v; i < schema_version; ++i) {
    auto err = transaction([&]() -> caf::error {
      if (auto err = exec(migrations()[static_cast<size_t>(i)]))
        return err;
      auto set = "PRAGMA user_version=" + std::to_string(i + 1);
      return exec(set.c_str());
    });
    if (err)
      return make_error(store_errc::schema_mismatch,
                        "store " + opts_.path + ": migration to version "
                          + std::to_string(i + 1)
                          + " failed: " + render_error(err));
  }
  return {};
}

caf::error database::transaction(const std::function<caf::error()>& fn) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  if (auto err = exec("BEGIN IMMEDIATE"))
    return err;
  caf::error err;
  try {
    err = fn();
  } catch (const std::exception& ex) {
    err = make_error(store_errc::io_error,
                     std::string{"store: write threw: "} + ex.what());
  }
  if (err) {
    exec("ROLLBACK");
    return err;
  }
  if (auto cerr = exec("COMMIT")) {
    exec("ROLLBACK");
    return cerr;
  }
  return {};
}

caf::error database::put_investigation(const nlohmann::json& r) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  auto trace = str(r, "trace_id");
  if (trace.empty())
    return make_error(store_errc::invalid_query,
                      "store: an investigation without trace_id");
  auto insights = r.value("insights", nlohmann::json::array());
  auto notes = r.value("notifications", nlohmann::json::array());
  std::string severity, pattern, culprit;
  if (!insights.empty() && insights[0].is_object()) {
    severity = str(insights[0], "severity");
    pattern = str(insights[0], "pattern");
    auto cs = insights[0].value("culprits", nlohmann::json::array());
    if (!cs.empty() && cs[0].is_string())
      culprit = cs[0].get<std::string>();
  }
  // Delete first: a re-put replaces insights and notifications too.
  for (auto table : {"insights", "notifications", "investigations"}) {
    auto sql = std::string{"DELETE FROM "} + table + " WHERE trace_id = ?";
    stmt del{db_, sql.c_str()};
    if (auto err = del.prepared("store: delete"))
      return err;
    if (auto err = del.bind(1, trace).run("store: delete"))
      return err;
  }
  stmt ins{db_,
           "INSERT INTO investigations(trace_id, started_at, finished_at, "
           "reason, trigger, node, brain, partial, severity, severity_rank, "
           "pattern, culprit, summary, insights, notifications, "
           "input_tokens, output_tokens, cost_usd, result) "
           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"};
  if (auto err = ins.prepared("store: insert investigation"))
    return err;
  ins.bind(1, trace)
    .bind(2, num(r, "started_at"))
    .bind(3, num(r, "finished_at"))
    .bind(4, str(r, "reason"))
    .bind(5, str(r, "trigger"))
    .bind(6, str(r, "node"))
    .bind(7, str(r, "brain"))
    .bind(8, int64_t{r.value("partial", false) ? 1 : 0})
    .bind(9, severity)
    .bind(10, severity_rank(severity))
    .bind(11, pattern)
    .bind(12, culprit)
    .bind(13, str(r, "summary"))
    .bind(14, static_cast<int64_t>(insights.size()))
    .bind(15, static_cast<int64_t>(notes.size()))
    .bind(16, num(r, "input_tokens"))
    .bind(17, num(r, "output_tokens"))
    .bind(18, r.value("cost_usd", 0.0))
    .bind(19, dump(r));
  if (auto err = ins.run("store: insert investigation"))
    return err;
  int64_t rank = 0;
  for (auto& i : insights) {
    stmt s{db_, "INSERT INTO insights(trace_id, rank, pattern, severity, "
                "severity_rank, culprits, summary) VALUES(?,?,?,?,?,?,?)"};
    if (auto err = s.prepared("store: insert insight"))
      return err;
    auto sev = str(i, "severity");
    std::string culprits;
    for (auto& c : i.value("culprits", nlohmann::json::array()))
      if (c.is_string())
        culprits += (culprits.empty() ? "" : "\n") + c.get<std::string>();
    s.bind(1, trace)
      .bind(2, rank++)
      .bind(3, str(i, "pattern"))
      .bind(4, sev)
      .bind(5, severity_rank(sev))
      .bind(6, culprits)
      .bind(7, str(i, "summary"));
    if (auto err = s.run("store: insert insight"))
      return err;
  }
  for (auto& n : notes) {
    stmt s{db_, "INSERT OR REPLACE INTO notifications(trace_id, id, skill, "
                "node, severity, summary) VALUES(?,?,?,?,?,?)"};
    if (auto err = s.prepared("store: insert notification"))
      return err;
    s.bind(1, trace)
      .bind(2, str(n, "id"))
      .bind(3, str(n, "skill"))
      .bind(4, str(n, "node"))
      .bind(5, str(n, "severity"))
      .bind(6, str(n, "summary"));
    if (auto err = s.run("store: insert notification"))
      return err;
  }
  return {};
}

caf::error database::put_snapshot(const std::string& trace_id,
                                  const std::string& id,
                                  const std::string& skill,
                                  const std::string& node, int64_t captured_at,
                                  const nlohmann::json& data) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "INSERT OR REPLACE INTO snapshots(trace_id, id, skill, node, "
              "captured_at, data) VALUES(?,?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert snapshot"))
    return err;
  s.bind(1, trace_id)
    .bind(2, id)
    .bind(3, skill)
    .bind(4, node)
    .bind(5, captured_at)
    .bind(6, dump(data));
  return s.run("store: insert snapshot");
}

caf::error database::put_llm_exchange(const nlohmann::json& x) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  auto trace = str(x, "trace_id");
  if (trace.empty())
    return make_error(store_errc::invalid_query,
                      "store: an LLM exchange without trace_id");
  stmt s{db_, "INSERT INTO llm_exchanges(trace_id, loop, node, iteration, "
              "attempt, at_ns, client, provider, model, url, status, "
              "error_code, error_text, latency_ms, request, response_headers, "
              "response_body) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert llm exchange"))
    return err;
  auto headers = x.value("response_headers", nlohmann::json::object());
  s.bind(1, trace)
    .bind(2, str(x, "loop"))
    .bind(3, str(x, "node"))
    .bind(4, num(x, "iteration"))
    .bind(5, num(x, "attempt"))
    .bind(6, num(x, "at_ns"))
    .bind(7, str(x, "client"))
    .bind(8, str(x, "provider"))
    .bind(9, str(x, "model"))
    .bind(10, str(x, "url"))
    .bind(11, num(x, "status"))
    .bind(12, num(x, "error_code"))
    .bind(13, str(x, "error_text"))
    .bind(14, num(x, "latency_ms"))
    .bind(15, bounded(dump(x.value("request", nlohmann::json{})),
                      opts_.max_exchange_bytes))
    .bind(16, dump(headers))
    .bind(17, bounded(str(x, "response_body"), opts_.max_exchange_bytes));
  return s.run("store: insert llm exchange");
}

caf::error database::put_decision(const std::string& trace_id,
                                  const std::string& loop,
                                  const std::string& node,
                                  const std::string& brain, int64_t iteration,
                                  int64_t at_ns, const nlohmann::json& call) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  if (trace_id.empty())
    return make_error(store_errc::invalid_query,
                      "store: a decision without trace_id");
  stmt s{db_, "INSERT INTO llm_decisions(trace_id, loop, node, brain, "
              "iteration, at_ns, call) VALUES(?,?,?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert decision"))
    return err;
  s.bind(1, trace_id)
    .bind(2, loop)
    .bind(3, node)
    .bind(4, brain)
    .bind(5, iteration)
    .bind(6, at_ns)
    .bind(7, dump(call));
  return s.run("store: insert decision");
}

caf::expected<nlohmann::json>
database::recording(const std::string& trace_id) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  bool known = false;
  {
    stmt s{db_, "SELECT 1 FROM investigations WHERE trace_id = ?"};
    if (auto err = s.prepared("store: read recording"))
      return err;
    s.bind(1, trace_id);
    known = s.step() == SQLITE_ROW;
  }
  auto xs = read_exchanges(trace_id);
  if (!xs)
    return std::move(xs.error());
  auto ds = read_decisions(trace_id);
  if (!ds)
    return std::move(ds.error());
  if (!known && xs->empty() && ds->empty())
    return make_error(store_errc::not_found,
                      "store: nothing recorded for '" + trace_id + "'");
  auto exchanges = nlohmann::json::array();
  for (auto& x : *xs) {
    // The shape of `llm::recording::to_json` (plus the loop label).
    exchanges.push_back({{"client", x["client"]},
                         {"provider", x["provider"]},
                         {"model", x["model"]},
                         {"url", x["url"]},
                         {"trace_id", trace_id},
                         {"loop", x["loop"]},
                         {"iteration", x["iteration"]},
                         {"attempt", x["attempt"]},
                         {"request", x["request"]},
                         {"status", x["status"]},
                         {"response_headers", x["response_headers"]},
                         {"response_body", x["response_body"]},
                         {"error_code", x["error_code"]},
                         {"error_text", x["error_text"]},
                         {"latency_ms", x["latency_ms"]}});
  }
  auto decisions = nlohmann::json::array();
  for (auto& d : *ds)
    decisions.push_back({{"trace_id", trace_id},
                         {"loop", d["loop"]},
                         {"iteration", d["iteration"]},
                         {"call", d["call"]}});
  return nlohmann::json{{"version", 1},
                        {"exchanges", std::move(exchanges)},
                        {"decisions", std::move(decisions)}};
}

caf::expected<std::vector<nlohmann::json>>
database::read_exchanges(const std::string& trace_id) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "SELECT loop, node, iteration, attempt, at_ns, client, "
              "provider, model, url, status, error_code, error_text, "
              "latency_ms, request, response_headers, response_body "
              "FROM llm_exchanges WHERE trace_id = ? ORDER BY seq"};
  if (auto err = s.prepared("store: read llm exchanges"))
    return err;
  s.bind(1, trace_id);
  std::vector<nlohmann::json> out;
  while (s.step() == SQLITE_ROW) {
    auto headers = parse(s.text(14));
    out.push_back({{"loop", s.text(0)},
                   {"node", s.text(1)},
                   {"iteration", s.integer(2)},
                   {"attempt", s.integer(3)},
                   {"at_ns", s.integer(4)},
                   {"client", s.text(5)},
                   {"provider", s.text(6)},
                   {"model", s.text(7)},
                   {"url", s.text(8)},
                   {"status", s.integer(9)},
                   {"error_code", s.integer(10)},
                   {"error_text", s.text(11)},
                   {"latency_ms", s.integer(12)},
                   {"request", parse(s.text(13))},
                   {"response_headers", headers.is_object()
                                          ? headers
                                          : nlohmann::json::object()},
                   {"response_body", s.text(15)}});
  }
  return out;
}

caf::expected<std::vector<nlohmann::json>>
database::read_decisions(const std::string& trace_id) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "SELECT loop, node, brain, iteration, at_ns, call "
              "FROM llm_decisions WHERE trace_id = ? ORDER BY seq"};
  if (auto err = s.prepared("store: read decisions"))
    return err;
  s.bind(1, trace_id);
  std::vector<nlohmann::json> out;
  while (s.step() == SQLITE_ROW)
    out.push_back({{"loop", s.text(0)},
                   {"node", s.text(1)},
                   {"brain", s.text(2)},
                   {"iteration", s.integer(3)},
                   {"at_ns", s.integer(4)},
                   {"call", parse(s.text(5))}});
  return out;
}

caf::error database::put_event(const sinks::record& x,
                               const std::string& trace_id) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "INSERT INTO timeline(trace_id, time_ns, event, measurements, "
              "metadata) VALUES(?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert event"))
    return err;
  auto m = nlohmann::json::object();
  for (auto& [k, v] : x.measurements)
    m[k] = v;
  s.bind(1, trace_id)
    .bind(2, x.system_time_ns)
    .bind(3, x.event)
    .bind(4, dump(m))
    .bind(5, dump(x.metadata));
  return s.run("store: insert event");
}

caf::error database::put_alert(const sinks::record& x) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "INSERT INTO alerts(at_ns, rule, state, metric, severity, "
              "value, threshold) VALUES(?,?,?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert alert"))
    return err;
  auto m = [&](const char* k) {
    auto p = x.measurement(k);
    return p != nullptr ? *p : 0.0;
  };
  auto st = x.system_time_ns;
  if (auto p = x.measurement("system_time"); p != nullptr && *p > 0)
    st = static_cast<int64_t>(*p);
  s.bind(1, st)
    .bind(2, str(x.metadata, "alert"))
    .bind(3, std::string{x.event == "caflens.alert.fired" ? "fired"
                                                          : "resolved"})
    .bind(4, str(x.metadata, "metric"))
    .bind(5, str(x.metadata, "severity"))
    .bind(6, m("value"))
    .bind(7, m("threshold"));
  return s.run("store: insert alert");
}

caf::error database::put_experiment(const sinks::record& x) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "INSERT INTO experiments(at_ns, experiment, condition, state, "
              "samples, tags) VALUES(?,?,?,?,?,?)"};
  if (auto err = s.prepared("store: insert experiment"))
    return err;
  auto samples = x.measurement("samples");
  s.bind(1, x.system_time_ns)
    .bind(2, str(x.metadata, "experiment"))
    .bind(3, str(x.metadata, "condition"))
    .bind(4, std::string{x.event == "caflens.experiment.started" ? "started"
                                                                 : "stopped"})
    .bind(5, static_cast<int64_t>(samples != nullptr ? *samples : 0))
    .bind(6, str(x.metadata, "tags"));
  return s.run("store: insert experiment");
}

caf::expected<std::vector<nlohmann::json>>
database::alerts(int64_t from_ns, int64_t to_ns, size_t limit) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "SELECT at_ns, rule, state, metric, severity, value, threshold "
              "FROM alerts WHERE at_ns >= ? AND at_ns <= ? ORDER BY seq DESC "
              "LIMIT ?"};
  if (auto err = s.prepared("store: query alerts"))
    return err;
  s.bind(1, from_ns).bind(2, to_ns).bind(3, static_cast<int64_t>(limit));
  std::vector<nlohmann::json> out;
  while (s.step() == SQLITE_ROW)
    out.push_back({{"at_ns", s.integer(0)},
                   {"rule", s.text(1)},
                   {"state", s.text(2)},
                   {"metric", s.text(3)},
                   {"severity", s.text(4)},
                   {"value", s.real(5)},
                   {"threshold", s.real(6)}});
  return out;
}

caf::expected<std::vector<nlohmann::json>> database::experiments() {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "SELECT at_ns, experiment, condition, state, samples, tags "
              "FROM experiments ORDER BY seq"};
  if (auto err = s.prepared("store: query experiments"))
    return err;
  std::vector<nlohmann::json> out;
  while (s.step() == SQLITE_ROW)
    out.push_back({{"at_ns", s.integer(0)},
                   {"experiment", s.text(1)},
                   {"condition", s.text(2)},
                   {"state", s.text(3)},
                   {"samples", s.integer(4)},
                   {"tags", s.text(5)}});
  return out;
}

caf::expected<std::vector<investigation_row>>
database::investigations(const query& q) {
  if (q.limit < 1 || q.limit > 10'000)
    return make_error(store_errc::invalid_query,
                      "store: limit must be 1..10000, got "
                        + std::to_string(q.limit));
  int64_t min_rank = 0;
  if (q.min_severity) {
    min_rank = severity_rank(*q.min_severity);
    if (min_rank == 0)
      return make_error(store_errc::invalid_query,
                        "store: severity must be info, warning or critical, "
                        "got '" + *q.min_severity + "'");
  }
  std::string sql = std::string{"SELECT "} + row_columns
                    + " FROM investigations i WHERE 1=1";
  if (q.trace_id)
    sql += " AND trace_id = ?1";
  if (q.from_ms)
    sql += " AND started_at >= ?2";
  if (q.to_ms)
    sql += " AND started_at <= ?3";
  if (q.min_severity || q.culprit || q.pattern) {
    sql += " AND EXISTS (SELECT 1 FROM insights n WHERE n.trace_id = "
           "i.trace_id";
    if (q.min_severity)
      sql += " AND n.severity_rank >= ?4";
    if (q.culprit)
      sql += " AND instr(n.culprits, ?5) > 0";
    if (q.pattern)
      sql += " AND n.pattern = ?6";
    sql += ")";
  }
  sql += " ORDER BY started_at DESC, trace_id LIMIT ?7";
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, sql.c_str()};
  if (auto err = s.prepared("store: query"))
    return err;
  if (q.trace_id)
    s.bind(1, *q.trace_id);
  if (q.from_ms)
    s.bind(2, *q.from_ms);
  if (q.to_ms)
    s.bind(3, *q.to_ms);
  if (q.min_severity)
    s.bind(4, min_rank);
  if (q.culprit)
    s.bind(5, *q.culprit);
  if (q.pattern)
    s.bind(6, *q.pattern);
  s.bind(7, static_cast<int64_t>(q.limit));
  std::vector<investigation_row> result;
  for (;;) {
    auto rc = s.step();
    if (rc == SQLITE_DONE)
      break;
    if (rc != SQLITE_ROW)
      return sql_error(db_, rc, "store: query");
    result.push_back(read_row(s));
  }
  return result;
}

caf::expected<investigation_detail>
database::investigation(const std::string& trace_id) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  investigation_detail d;
  {
    auto sql = std::string{"SELECT "} + row_columns
               + ", result FROM investigations WHERE trace_id = ?";
    stmt s{db_, sql.c_str()};
    if (auto err = s.prepared("store: read investigation"))
      return err;
    s.bind(1, trace_id);
    auto rc = s.step();
    if (rc == SQLITE_DONE)
      return make_error(store_errc::not_found,
                        "store: no investigation '" + trace_id + "'");
    if (rc != SQLITE_ROW)
      return sql_error(db_, rc, "store: read investigation");
    d.row = read_row(s);
    d.result = nlohmann::json::parse(s.text(17), nullptr, false);
    if (d.result.is_discarded())
      return make_error(store_errc::corrupt,
                        "store: investigation '" + trace_id
                          + "' holds malformed JSON");
  }
  {
    stmt s{db_, "SELECT id, skill, node, captured_at, data FROM snapshots "
                "WHERE trace_id = ? ORDER BY captured_at, id"};
    if (auto err = s.prepared("store: read snapshots"))
      return err;
    s.bind(1, trace_id);
    while (s.step() == SQLITE_ROW)
      d.snapshots.push_back(
        {{"id", s.text(0)},
         {"skill", s.text(1)},
         {"node", s.text(2)},
         {"captured_at", s.integer(3)},
         {"data", nlohmann::json::parse(s.text(4), nullptr, false)}});
  }
  {
    stmt s{db_, "SELECT time_ns, event, measurements, metadata FROM timeline "
                "WHERE trace_id = ? ORDER BY seq"};
    if (auto err = s.prepared("store: read timeline"))
      return err;
    s.bind(1, trace_id);
    while (s.step() == SQLITE_ROW)
      d.timeline.push_back(
        {{"time_ns", s.integer(0)},
         {"event", s.text(1)},
         {"measurements", nlohmann::json::parse(s.text(2), nullptr, false)},
         {"metadata", nlohmann::json::parse(s.text(3), nullptr, false)}});
  }
  auto xs = read_exchanges(trace_id);
  if (!xs)
    return std::move(xs.error());
  d.llm_exchanges = std::move(*xs);
  auto ds = read_decisions(trace_id);
  if (!ds)
    return std::move(ds.error());
  d.decisions = std::move(*ds);
  return d;
}

caf::expected<size_t> database::apply_retention(int64_t now_ms) {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  size_t deleted = 0;
  auto err = transaction([&]() -> caf::error {
    std::vector<std::string> victims;
    if (opts_.max_age.count() > 0) {
      auto cutoff = now_ms
                    - std::chrono::duration_cast<std::chrono::milliseconds>(
                        opts_.max_age)
                        .count();
      stmt s{db_, "SELECT trace_id FROM investigations WHERE started_at < ?"};
      if (auto err = s.prepared("store: retention"))
        return err;
      s.bind(1, cutoff);
      while (s.step() == SQLITE_ROW)
        victims.push_back(s.text(0));
    }
    if (opts_.max_investigations > 0) {
      stmt s{db_, "SELECT trace_id FROM investigations ORDER BY started_at "
                  "DESC, trace_id LIMIT -1 OFFSET ?"};
      if (auto err = s.prepared("store: retention"))
        return err;
      s.bind(1, static_cast<int64_t>(opts_.max_investigations));
      while (s.step() == SQLITE_ROW)
        victims.push_back(s.text(0));
    }
    std::sort(victims.begin(), victims.end());
    victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
    for (auto& v : victims) {
      for (auto table : {"insights", "notifications", "snapshots", "timeline",
                         "llm_exchanges", "llm_decisions", "investigations"}) {
        auto sql = std::string{"DELETE FROM "} + table
                   + " WHERE trace_id = ?";
        stmt del{db_, sql.c_str()};
        if (auto err = del.prepared("store: retention"))
          return err;
        if (auto err = del.bind(1, v).run("store: retention"))
          return err;
      }
    }
    deleted = victims.size();
    // Exchanges and decisions of an investigation that never stored a
    // result (it failed) go by age alone: they can be large.
    if (opts_.max_age.count() > 0) {
      auto cutoff_ns = (now_ms
                        - std::chrono::duration_cast<std::chrono::milliseconds>(
                            opts_.max_age)
                            .count())
                       * 1'000'000;
      for (auto table : {"llm_exchanges", "llm_decisions"}) {
        auto sql = std::string{"DELETE FROM "} + table
                   + " WHERE at_ns < ? AND trace_id NOT IN (SELECT trace_id "
                     "FROM investigations)";
        stmt del{db_, sql.c_str()};
        if (auto err = del.prepared("store: retention"))
          return err;
        if (auto err = del.bind(1, cutoff_ns).run("store: retention"))
          return err;
      }
    }
    return {};
  });
  if (err)
    return err;
  return deleted;
}

caf::error database::check_integrity() {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  stmt s{db_, "PRAGMA integrity_check"};
  if (auto err = s.prepared("store: integrity_check"))
    return err;
  std::string findings;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto line = s.text(0);
    if (line != "ok")
      findings += line + "\n";
  }
  if (rc != SQLITE_DONE)
    return sql_error(db_, rc, "store: integrity_check");
  if (!findings.empty())
    return make_error(store_errc::corrupt, "store " + opts_.path + ": "
                                             + findings);
  return {};
}

caf::expected<std::vector<std::pair<std::string, int64_t>>>
database::counts() {
  std::lock_guard<std::recursive_mutex> guard{mtx_};
  std::vector<std::pair<std::string, int64_t>> result;
  for (auto table : {"investigations", "insights", "notifications",
                     "snapshots", "timeline", "alerts", "experiments",
                     "llm_exchanges", "llm_decisions"}) {
    auto sql = std::string{"SELECT count(*) FROM "} + table;
    stmt s{db_, sql.c_str()};
    if (auto err = s.prepared("store: count"))
      return err;
    if (s.step() != SQLITE_ROW)
      return make_error(store_errc::io_error, "store: count failed");
    result.emplace_back(table, s.integer(0));
  }
  return result;
}

// -- store sink ---------------------------------------------------------------

namespace {

constexpr std::string_view result_event = "caflens.store.investigation";
constexpr std::string_view snapshot_event = "caflens.store.snapshot";
constexpr std::string_view exchange_event = "caflens.store.llm_exchange";
constexpr std::string_view decision_event = "caflens.store.decision";

} // namespace

sinks::record result_record(nlohmann::json result) {
  sinks::record r;
  r.event = std::string{result_event};
  r.system_time_ns = telemetry::bus::system_time();
  r.metadata = std::move(result);
  return r;
}

sinks::record snapshot_record(const std::string& trace_id,
                              const std::string& id, const std::string& skill,
                              const std::string& node, int64_t captured_at,
                              nlohmann::json data) {
  sinks::record r;
  r.event = std::string{snapshot_event};
  r.system_time_ns = telemetry::bus::system_time();
  r.metadata = {{"trace_id", trace_id}, {"id", id},     {"skill", skill},
                {"node", node},         {"captured_at", captured_at},
                {"data", std::move(data)}};
  return r;
}

sinks::record llm_exchange_record(nlohmann::json exchange) {
  sinks::record r;
  r.event = std::string{exchange_event};
  r.system_time_ns = telemetry::bus::system_time();
  if (!exchange.is_object())
    exchange = nlohmann::json::object();
  if (!exchange.contains("at_ns"))
    exchange["at_ns"] = r.system_time_ns;
  r.metadata = std::move(exchange);
  return r;
}

sinks::record decision_record(const std::string& trace_id,
                              const std::string& loop, const std::string& node,
                              const std::string& brain, int64_t iteration,
                              nlohmann::json call) {
  sinks::record r;
  r.event = std::string{decision_event};
  r.system_time_ns = telemetry::bus::system_time();
  r.metadata = {{"trace_id", trace_id}, {"loop", loop},
                {"node", node},         {"brain", brain},
                {"iteration", iteration}, {"call", std::move(call)}};
  return r;
}

std::vector<telemetry::event_name> timeline_events() {
  std::vector<telemetry::event_name> result;
  telemetry::event_name sink_prefix{"caflens", "sink"};
  telemetry::event_name store_prefix{"caflens", "store"};
  for (auto& info : telemetry::catalogue()) {
    if (info.name.starts_with(sink_prefix)
        || info.name.starts_with(store_prefix))
      continue;
    if (std::find(info.metadata.begin(), info.metadata.end(), "trace_id")
        != info.metadata.end())
      result.push_back(info.name);
  }
  for (auto what : {"fired", "resolved"})
    result.push_back(telemetry::event_name{"caflens", "alert", what});
  for (auto what : {"started", "stopped"})
    result.push_back(telemetry::event_name{"caflens", "experiment", what});
  return result;
}

store_sink::store_sink(sinks::sink_options sopts, std::shared_ptr<database> db,
                       redact_fn redact)
  : sink(std::move(sopts)), db_(std::move(db)), redact_(std::move(redact)) {
}

caf::expected<std::shared_ptr<store_sink>>
store_sink::open(sinks::sink_options sopts, store_options opts,
                 redact_fn redact) {
  auto db = database::open(opts);
  if (!db)
    return std::move(db.error());
  if (sopts.name.empty())
    sopts.name = "store";
  if (sopts.events.empty())
    sopts.events = timeline_events();
  return std::shared_ptr<store_sink>{
    new store_sink(std::move(sopts), std::move(*db), std::move(redact))};
}

void store_sink::close_() {
  // Readers holding the database keep it until their query ends.
  std::lock_guard<std::mutex> guard{db_mtx_};
  db_.reset();
}

caf::error store_sink::export_(const sinks::batch& xs) {
  auto start = telemetry::bus::monotonic_time();
  size_t rows = 0;
  auto db = this->db();
  if (!db)
    return make_error(store_errc::open_failed, "store: the sink is closed");
  auto err = db->transaction([&]() -> caf::error {
    for (auto& rec : xs) {
      // Producers redact snapshots, exchanges and decisions; everything
      // else (events may carry what a brain wrote) is redacted here.
      std::optional<sinks::record> redacted;
      if (redact_ && rec.event != snapshot_event && rec.event != exchange_event
          && rec.event != decision_event) {
        redacted = rec;
        redact_(redacted->metadata);
      }
      auto& x = redacted ? *redacted : rec;
      if (x.event == result_event) {
        if (auto err = db->put_investigation(x.metadata))
          return err;
        ++results_since_retention_;
      } else if (x.event == snapshot_event) {
        auto& m = x.metadata;
        if (auto err = db->put_snapshot(
              str(m, "trace_id"), str(m, "id"), str(m, "skill"),
              str(m, "node"), num(m, "captured_at"),
              m.value("data", nlohmann::json{})))
          return err;
      } else if (x.event == exchange_event) {
        if (str(x.metadata, "trace_id").empty())
          continue; // not part of an investigation
        if (auto err = db->put_llm_exchange(x.metadata))
          return err;
      } else if (x.event == decision_event) {
        auto& m = x.metadata;
        if (str(m, "trace_id").empty())
          continue;
        if (auto err = db->put_decision(
              str(m, "trace_id"), str(m, "loop"), str(m, "node"),
              str(m, "brain"), num(m, "iteration"), x.system_time_ns,
              m.value("call", nlohmann::json{})))
          return err;
      } else if (x.event == "caflens.alert.fired"
                 || x.event == "caflens.alert.resolved") {
        if (auto err = db->put_alert(x))
          return err;
      } else if (x.event == "caflens.experiment.started"
                 || x.event == "caflens.experiment.stopped") {
        if (auto err = db->put_experiment(x))
          return err;
      } else {
        auto trace = str(x.metadata, "trace_id");
        if (trace.empty())
          continue; // not part of an investigation
        if (auto err = db->put_event(x, trace))
          return err;
      }
      ++rows;
    }
    return {};
  });
  auto& b = telemetry::bus::global();
  auto now = telemetry::bus::monotonic_time();
  if (err) {
    auto reason = render_error(err);
    b.execute(telemetry::event_name{"caflens", "store", "error"},
              {{"system_time",
                static_cast<double>(telemetry::bus::system_time())}},
              {{"operation", "write"}, {"reason", reason}});
    return err;
  }
  b.execute(telemetry::event_name{"caflens", "store", "write"},
            {{"system_time", static_cast<double>(telemetry::bus::system_time())},
             {"rows", static_cast<double>(rows)},
             {"duration", static_cast<double>(now - start)}},
            {{"table", "investigations"}});
  // Retention at most once a minute.
  auto now_ms = telemetry::bus::system_time() / 1'000'000;
  // Retention once a minute, and sooner when a tenth of what it keeps has
  // come in since (at 100 investigations a second the store would hold
  // 6 000 more than it should before the minute is over).
  auto due = std::max<size_t>(10, db->options().max_investigations / 10);
  if (now_ms - last_retention_ms_ >= 60'000
      || results_since_retention_ >= due) {
    last_retention_ms_ = now_ms;
    results_since_retention_ = 0;
    if (auto n = db->apply_retention(now_ms); !n) {
      auto reason = render_error(n.error());
      b.execute(telemetry::event_name{"caflens", "store", "error"},
                {{"system_time",
                  static_cast<double>(telemetry::bus::system_time())}},
                {{"operation", "retention"}, {"reason", reason}});
    }
  }
  return {};
}

nlohmann::json to_json(const investigation_row& r) {
  return {{"trace_id", r.trace_id},     {"started_at", r.started_at},
          {"finished_at", r.finished_at}, {"reason", r.reason},
          {"trigger", r.trigger},       {"node", r.node},
          {"brain", r.brain},           {"partial", r.partial},
          {"severity", r.severity},     {"pattern", r.pattern},
          {"culprit", r.culprit},       {"summary", r.summary},
          {"insights", r.insights},     {"notifications", r.notifications},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cost_usd", r.cost_usd}};
}

} // namespace caflens::store
