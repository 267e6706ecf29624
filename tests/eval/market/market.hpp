// A market-data fan-out service in CAF, written against caflens's public API
// only, as a second evaluation application of the investigation engine.
//
//   feed-nyse ─┐                ┌─ books_sup (one_for_one) ─────────────┐
//   feed-lse  ─┴─► router ─────►│ book-AAPL book-MSFT ... book-ULVR    │
//                               └──┬──────────────┬─────────────────────┘
//                                  │ quotes       │ persist (request/then)
//               sessions_sup ◄─────┘              ▼
//               subscriber-session-1..6        journal ──► archiver (detached)
//                                  ▲
//   risk-gate ◄── exposure (request/response with every book)
//
// Feed handlers emit ticks for their venue's symbols; the router hands each
// tick to its symbol's order book (buffering while a book restarts); a book
// applies the tick, fans the quote out to the subscribed client sessions and
// journals what it applied every 10 ms; the risk gate asks every book for its
// exposure every 50 ms and prices it (an asynchronous call). Every actor is
// tracked (`spawn_tracked`); stage latencies go into metric distributions,
// log lines into a log buffer, both handed to the lens.
//
// A `scenario` plans one fault (or a control); `run_scenario` starts the
// service and a lens, warms up, injects the fault, watches the service's own
// alert rules and investigates with the first alert's text (or a scheduled
// check) as the reason. The result goes to stdout as JSON.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace market {

/// Symbols 0..3 trade on NYSE (feed-nyse), 4..7 on LSE (feed-lse).
inline constexpr size_t symbol_count = 8;

/// What one scenario does to the service. Zero / -1 / false: no such fault.
struct scenario {
  std::string name;
  std::string description;
  /// A control: no alert is expected; investigate as a scheduled check.
  bool control = false;
  std::chrono::milliseconds warmup{1500};
  /// Controls: investigate this long after the injection.
  std::chrono::milliseconds check_after{2000};
  /// Faults: investigate anyway (scheduled) when no alert fired by then.
  std::chrono::milliseconds alert_timeout{4500};

  // -- faults of the order books -------------------------------------------
  /// This book sleeps `slow_tick_ms` per tick (slower than its feed).
  int slow_book = -1;
  double slow_tick_ms = 0;
  /// This book throws `crash_after_ms` after every (re)start.
  int crash_book = -1;
  int crash_after_ms = 0;
  /// This book sleeps `block_ms` in every tick handler (a synchronous call
  /// on a scheduler thread).
  int block_book = -1;
  int block_ms = 0;
  /// These books (bit i: symbol i) sleep `block_ms` in every tick handler.
  uint32_t block_mask = 0;
  /// This book keeps a history that grows by `leak_bytes_per_s` and reports
  /// it with `report_state_bytes`.
  int leak_book = -1;
  double leak_bytes_per_s = 0;
  /// This book asks the risk gate before every tick with `request(...).await`;
  /// for a large order the risk gate asks the book for its exposure with
  /// `request(...).await` before it answers: a cycle. Both awaits time out
  /// after `await_timeout_ms`, then the next large order forms it again.
  int await_book = -1;
  int await_timeout_ms = 0;
  /// books_sup's restart intensity: more than `books_intensity` restarts
  /// within `books_period` and it gives up.
  uint32_t books_intensity = 50;
  std::chrono::milliseconds books_period{10'000};

  // -- client sessions -------------------------------------------------------
  /// subscriber-session-`crash_session` throws `crash_session_after_ms`
  /// after every (re)start (sessions are transient children).
  int crash_session = 0;
  int crash_session_after_ms = 0;
  /// subscriber-session-`slow_session` sleeps `slow_quote_ms` per quote.
  int slow_session = 0;
  double slow_quote_ms = 0;

  // -- other components ----------------------------------------------------
  /// feed-lse logs this many error lines per second (sequence gaps).
  double feed_errors_per_s = 0;
  /// The journal sleeps this long inside every persist request.
  int journal_block_ms = 0;
  /// The journal fsyncs one batch at a time instead of group commits: the
  /// acknowledgements (response promises) pile up.
  bool journal_no_group_commit = false;
  /// The risk gate awaits the journal's durable offset before every check
  /// (`request(...).await`, 10 s timeout) ...
  bool risk_awaits_offset = false;
  /// ... and the journal parks such queries and never answers them (a
  /// forgotten response promise).
  bool journal_parks_offset_queries = false;
  /// The router spends this long per tick (a synchronous lookup).
  int router_tick_us = 0;
  /// The risk gate's pricing call gets this much slower.
  double risk_latency_factor = 1;
  /// subscriber-session-`leak_session` keeps a replay buffer growing by
  /// `session_leak_bytes_per_s` (reported with `report_state_bytes`).
  int leak_session = 0;
  double session_leak_bytes_per_s = 0;
  /// The router's alias cache grows by this much per second; visible only
  /// through the router's `expose_state` view.
  double router_leak_bytes_per_s = 0;

  // -- controls ---------------------------------------------------------------
  /// A replay stream keeps ~5000 records in tape-archiver's mailbox (credit
  /// window), which keeps up.
  bool busy_archive = false;
  /// Both feeds add an opening-auction burst of ticks every 500 ms.
  bool bursty = false;
  /// feed-nyse runs at this multiple of its normal rate with 85 % of its
  /// ticks for AAPL (an earnings day): book-AAPL carries many times its
  /// peers' load, and keeps up.
  double hot_symbol_factor = 0;
  /// The journal keeps its open segment in memory (this many bytes per
  /// record) and releases it at every roll (1.5 s): a sawtooth, no leak.
  uint64_t journal_record_bytes = 0;
  /// book-BP and book-VOD are reloaded through books_sup (terminate_child,
  /// then restart_child): planned stops and starts, no crash.
  bool reload_books = false;
  /// Sessions 5 and 6 are drained and quit normally.
  bool scale_down = false;
  /// sessions_sup (the client-session subtree) is shut down and feed-lse
  /// closes for the day.
  bool graceful_shutdown = false;
  /// The detached archiver uploads each journal segment with a blocking call
  /// of this many ms (default 30).
  int archiver_upload_ms = 30;

  // -- how the application runs --------------------------------------------
  /// Quotes carry this many bytes of book depth (0: top of book only).
  size_t quote_depth_bytes = 0;
  /// The tick-to-client delay and stall rules exist (a deployment without
  /// them alerts on memory and the rest only).
  bool delivery_alerts = true;
  /// The journal backlog alert rule exists (a deployment without it is paged
  /// by the error rate of the books' failed persist requests instead).
  bool journal_backlog_alert = true;
  /// No application loop touches the lens before the alert: logs and metrics
  /// are not wired to it and the alert rules use the service's own counters.
  bool cold_lens = false;
};

/// Every scenario in a stable order.
const std::vector<scenario>& all_scenarios();

/// The scenario named `name`, or nullptr.
const scenario* find_scenario(std::string_view name);

struct run_options {
  bool json = false;
  bool quiet = false;
  /// How many copies of the eval run in parallel (informational).
  int runs_hint = 1;
};

/// Runs one scenario end to end; prints progress on stderr and the report
/// (or the investigation result as JSON) on stdout. Returns the exit code.
int run_scenario(const scenario& sc, const run_options& opts);

/// The symbol's ticker ("AAPL", ...).
std::string_view symbol_name(size_t index);

} // namespace market
