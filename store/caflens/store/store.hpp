#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/error.hpp"
#include "caf/expected.hpp"

#include "caflens/sinks/sink.hpp"
#include "caflens/telemetry/error.hpp"

struct sqlite3;

namespace caflens::store {

/// Errors of the store.
enum class store_errc : uint8_t {
  /// The database file cannot be opened or created.
  open_failed = 1,
  /// The schema is newer than this caflens, or a migration failed.
  schema_mismatch,
  /// A statement failed (disk full, I/O error, constraint).
  io_error,
  /// The database is locked by another writer beyond the busy timeout.
  locked,
  /// The file is not a database or is corrupt.
  corrupt,
  /// No investigation with this trace id.
  not_found,
  /// A query's arguments are invalid.
  invalid_query,
};

std::string to_string(store_errc code);

CAFLENS_ERROR_CATEGORY(store_errc, "store");

/// The schema version this caflens writes (PRAGMA user_version).
constexpr int schema_version = 3;

/// How much of the model conversation a lens puts into the store.
enum class llm_exchanges_mode : uint8_t {
  /// Neither decisions nor exchanges.
  none,
  /// The tool call every loop ran, whatever its brain (a few hundred bytes
  /// per call): enough to replay the investigation with scripted brains.
  decisions,
  /// Decisions plus every HTTP exchange with the provider: the redacted
  /// request body, the response or the transport error (about 0.5 MB per
  /// investigation of about 30 model calls).
  full,
};

/// "none", "decisions" or "full".
std::string to_string(llm_exchanges_mode x);

/// Parses "none", "decisions" or "full".
bool parse_llm_exchanges_mode(const std::string& text,
                              llm_exchanges_mode& out);

struct store_options {
  /// The SQLite file (created when missing; its directory must exist).
  std::string path;
  /// How long a statement waits for another connection's lock.
  std::chrono::milliseconds busy_timeout{2000};
  /// Retention: investigations older than this go, with everything that
  /// belongs to them (0: keep).
  std::chrono::hours max_age{24 * 30};
  /// Retention: at most this many investigations, the oldest go first
  /// (0: no limit).
  size_t max_investigations = 10'000;
  /// What a lens records of its model calls (`[caflens]`
  /// store-llm-exchanges, CAFLENS_STORE_LLM_EXCHANGES). Everything recorded
  /// passes the lens's redactor first.
  llm_exchanges_mode llm_exchanges = llm_exchanges_mode::decisions;
  /// An exchange's request or response body longer than this is stored as
  /// the stub `{"truncated":<bytes>}` (0: no limit).
  size_t max_exchange_bytes = 256 * 1024;
};

/// One investigation as listed by `investigations`.
struct investigation_row {
  std::string trace_id;
  /// Unix milliseconds.
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::string reason;
  std::string trigger;
  std::string node;
  std::string brain;
  bool partial = false;
  /// The top insight's severity, pattern and first culprit ("" when none).
  std::string severity;
  std::string pattern;
  std::string culprit;
  std::string summary;
  int64_t insights = 0;
  int64_t notifications = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

/// A filter over stored investigations; every set field must match.
struct query {
  std::optional<std::string> trace_id;
  /// started_at within [from_ms, to_ms] (Unix ms).
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
  /// info, warning or critical: insights at least this severe.
  std::optional<std::string> min_severity;
  /// An insight's culprit contains this text.
  std::optional<std::string> culprit;
  /// An insight has exactly this pattern.
  std::optional<std::string> pattern;
  /// Newest first, at most this many (1..10000).
  size_t limit = 50;
};

/// The row as a JSON object with the same keys.
nlohmann::json to_json(const investigation_row& r);

/// Everything stored about one investigation.
struct investigation_detail {
  investigation_row row;
  /// The whole `investigation_result` as JSON (insights, notifications,
  /// operators, errors, actions).
  nlohmann::json result;
  /// Snapshots the operators took: {id, skill, node, captured_at, data}.
  std::vector<nlohmann::json> snapshots;
  /// The investigation's events in order: tool calls, LLM calls, operator
  /// and coordinator events ({time_ns, event, measurements, metadata}).
  std::vector<nlohmann::json> timeline;
  /// The HTTP exchanges with the model in order: {loop, node, iteration,
  /// attempt, at_ns, client, provider, model, url, status, error_code,
  /// error_text, latency_ms, request, response_headers, response_body}.
  std::vector<nlohmann::json> llm_exchanges;
  /// The calls every loop ran in order: {loop, node, brain, iteration, at_ns,
  /// call} (`call` as `llm::to_json(tool_call)`).
  std::vector<nlohmann::json> decisions;
};

/// One SQLite connection (WAL mode). Thread-safe: calls are serialized.
/// Writers are the store sink's actor; readers open their own connection
/// (WAL lets them read while it writes).
class database {
public:
  /// Opens or creates the database and migrates it to `schema_version`.
  /// `read_only` never creates or migrates. Errors: `open_failed`,
  /// `schema_mismatch` (a newer schema), `corrupt`.
  static caf::expected<std::shared_ptr<database>>
  open(const store_options& opts, bool read_only = false);

  ~database();

  database(const database&) = delete;
  database& operator=(const database&) = delete;

  const store_options& options() const noexcept {
    return opts_;
  }

  int version();

  /// Writes an investigation result (the JSON of `investigation_result`)
  /// with its insights and notifications, replacing an earlier copy.
  caf::error put_investigation(const nlohmann::json& result);

  /// Writes a snapshot an operator took.
  caf::error put_snapshot(const std::string& trace_id, const std::string& id,
                          const std::string& skill, const std::string& node,
                          int64_t captured_at, const nlohmann::json& data);

  /// Appends one HTTP exchange with a model: the JSON of `llm::exchange`
  /// (`llm::to_json`) with `loop`, `node` and `at_ns` (Unix ns). A request
  /// or response body over `max_exchange_bytes` is stored as a stub.
  /// Error: `invalid_query` without a trace id.
  caf::error put_llm_exchange(const nlohmann::json& x);

  /// Appends one call a loop ran: `loop` is "coordinator" or
  /// "operator:<skill>", `brain` the brain's kind when it decided (llm,
  /// rule, scripted, ...), `call` the JSON of `llm::tool_call`.
  /// Error: `invalid_query` without a trace id.
  caf::error put_decision(const std::string& trace_id, const std::string& loop,
                          const std::string& node, const std::string& brain,
                          int64_t iteration, int64_t at_ns,
                          const nlohmann::json& call);

  /// One investigation's exchanges and decisions as an `llm::recording`
  /// document (version 1): {"version":1, "exchanges":[...],
  /// "decisions":[{trace_id, loop, iteration, call}...]}, in the order they
  /// were stored. Error: `not_found` when the trace has none of an
  /// investigation, an exchange or a decision.
  caf::expected<nlohmann::json> recording(const std::string& trace_id);

  /// Appends one event to an investigation's timeline.
  caf::error put_event(const sinks::record& x, const std::string& trace_id);

  /// Records a `caflens.alert.fired` / `.resolved` event.
  caf::error put_alert(const sinks::record& x);

  /// Records a `caflens.experiment.started` / `.stopped` event.
  caf::error put_experiment(const sinks::record& x);

  /// Alert state changes within [from_ns, to_ns], newest first:
  /// {at_ns, rule, state, metric, severity, value, threshold}.
  caf::expected<std::vector<nlohmann::json>>
  alerts(int64_t from_ns, int64_t to_ns, size_t limit = 100);

  /// Experiment starts and stops in order: {at_ns, experiment, condition,
  /// state, samples, tags}.
  caf::expected<std::vector<nlohmann::json>> experiments();

  /// Runs `fn` in one transaction (committed when it returns no error).
  caf::error transaction(const std::function<caf::error()>& fn);

  caf::expected<std::vector<investigation_row>> investigations(const query& q);

  /// Error: `not_found`.
  caf::expected<investigation_detail> investigation(const std::string& trace_id);

  /// Deletes what the retention options say must go, with everything that
  /// belongs to it; exchanges and decisions of a trace that has no
  /// investigation (one that failed) go once older than `max_age`. Returns
  /// the number of investigations deleted.
  caf::expected<size_t> apply_retention(int64_t now_ms);

  /// PRAGMA integrity_check: nothing when "ok", else the findings.
  caf::error check_integrity();

  /// Row counts per table (investigations, insights, notifications,
  /// snapshots, timeline, alerts, experiments, llm_exchanges,
  /// llm_decisions).
  caf::expected<std::vector<std::pair<std::string, int64_t>>> counts();

private:
  database(sqlite3* db, store_options opts);

  caf::error exec(const char* sql);
  caf::error migrate();

  caf::expected<std::vector<nlohmann::json>>
  read_exchanges(const std::string& trace_id);

  caf::expected<std::vector<nlohmann::json>>
  read_decisions(const std::string& trace_id);

  sqlite3* db_;
  store_options opts_;
  std::recursive_mutex mtx_;
};

/// The store's writer: a sink (bounded queue, batches, its own actor under
/// `telemetry_sup`) whose every batch is one transaction. It records the
/// timeline events of investigations (catalogue events with a trace id),
/// alert and experiment events, and the records `result_record`,
/// `snapshot_record`, `llm_exchange_record` and `decision_record` make.
/// With a `redact` function, the metadata of every other record (timeline
/// events, results, alerts, experiments) passes it before it is written;
/// snapshot, exchange and decision records are redacted by their producer
/// (the lens). A failed
/// write emits `caflens.store.error` and drops its batch; an investigation
/// never waits for the store.
class store_sink final : public sinks::sink {
public:
  /// Redacts secrets in a record's metadata in place.
  using redact_fn = std::function<void(nlohmann::json&)>;

  static caf::expected<std::shared_ptr<store_sink>>
  open(sinks::sink_options sopts, store_options opts, redact_fn redact = {});

  /// The database; null once the sink is shut down (its connection is
  /// released then, not when the last reference to the sink goes).
  std::shared_ptr<database> db() const {
    std::lock_guard<std::mutex> guard{db_mtx_};
    return db_;
  }

protected:
  caf::error export_(const sinks::batch& xs) override;

  void close_() override;

private:
  store_sink(sinks::sink_options sopts, std::shared_ptr<database> db,
             redact_fn redact);

  mutable std::mutex db_mtx_;
  std::shared_ptr<database> db_;
  redact_fn redact_;
  int64_t last_retention_ms_ = 0;
  size_t results_since_retention_ = 0;
};

/// A record carrying a finished investigation (the JSON of
/// `investigation_result`) for `store_sink::consume`.
sinks::record result_record(nlohmann::json result);

/// A record carrying an operator's snapshot.
sinks::record snapshot_record(const std::string& trace_id,
                              const std::string& id, const std::string& skill,
                              const std::string& node, int64_t captured_at,
                              nlohmann::json data);

/// A record carrying one HTTP exchange with a model: the JSON of
/// `llm::exchange` with `trace_id`, `loop` and `node` (`at_ns` defaults to
/// now).
sinks::record llm_exchange_record(nlohmann::json exchange);

/// A record carrying one call a loop ran (see `database::put_decision`).
sinks::record decision_record(const std::string& trace_id,
                              const std::string& loop, const std::string& node,
                              const std::string& brain, int64_t iteration,
                              nlohmann::json call);

/// The events a store sink records by default: every catalogue event whose
/// metadata has a trace id (sinks' and the store's own excepted), alert
/// state changes and experiment starts and stops.
std::vector<telemetry::event_name> timeline_events();

} // namespace caflens::store
