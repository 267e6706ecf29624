// The scenarios of caflens-market: single faults at two magnitudes (just over
// and far over what the service's alert rules catch), controls that must stay
// quiet, realistic variants and compound faults.
#include "market.hpp"

namespace market {

namespace {

using namespace std::chrono_literals;

// Symbol indexes (see symbol_name).
constexpr int aapl = 0, msft = 1, ibm = 2, jpm = 3, vod = 4, bp = 5,
              hsba = 6;

std::vector<scenario> make_all() {
  std::vector<scenario> xs;
  auto add = [&](std::string name, std::string description) -> scenario& {
    scenario sc;
    sc.name = std::move(name);
    sc.description = std::move(description);
    xs.push_back(std::move(sc));
    return xs.back();
  };
  // -- controls ---------------------------------------------------------------
  {
    auto& s = add("healthy", "no fault: the control run");
    s.control = true;
  }
  {
    auto& s = add("busy_steady_backlog",
                  "replay-feed streams history to tape-archiver with a "
                  "credit window of 5000 records: its mailbox holds ~5000 "
                  "all the time, and it keeps up");
    s.control = true;
    s.busy_archive = true;
  }
  {
    auto& s = add("bursty_open",
                  "both feeds add an opening-auction burst of 1500 ticks "
                  "every 500 ms on top of the steady flow");
    s.control = true;
    s.bursty = true;
  }
  {
    auto& s = add("hot_symbol",
                  "earnings day: feed-nyse runs at 4x its rate, 85% of it "
                  "AAPL; book-AAPL handles ~2700 ticks/s against its peers' "
                  "~100 and keeps up");
    s.control = true;
    s.hot_symbol_factor = 4;
  }
  {
    auto& s = add("journal_segment_buffer",
                  "the journal keeps its open segment in memory (512 bytes "
                  "per record, ~800 KB/s) and releases it when the segment "
                  "rolls every 1.5 s: a sawtooth, not a leak");
    s.control = true;
    s.journal_record_bytes = 512;
  }
  {
    auto& s = add("planned_book_reload",
                  "maintenance: book-BP and book-VOD are stopped and started "
                  "again through books_sup (terminate_child, restart_child); "
                  "the router holds their ticks meanwhile");
    s.control = true;
    s.reload_books = true;
  }
  {
    auto& s = add("pool_scale_down",
                  "subscriber-session-5 and -6 are drained and quit with "
                  "user_shutdown (transient children: not restarted)");
    s.control = true;
    s.scale_down = true;
  }
  {
    auto& s = add("graceful_subtree_shutdown",
                  "end of day: sessions_sup and its sessions are shut down "
                  "gracefully and feed-lse closes");
    s.control = true;
    s.graceful_shutdown = true;
  }
  {
    auto& s = add("detached_blocking_io",
                  "the detached archiver uploads each 1.5 s journal segment "
                  "with a blocking 1.2 s call (its own thread; keeps up)");
    s.control = true;
    s.archiver_upload_ms = 1200;
  }
  // -- slow consumer ----------------------------------------------------------
  {
    auto& s = add("slow_book_mild",
                  "book-MSFT spends 6 ms per tick (a synchronous "
                  "reference-data lookup): a little slower than its feed");
    s.slow_book = msft;
    s.slow_tick_ms = 6;
  }
  {
    auto& s = add("slow_book_severe",
                  "book-MSFT spends 25 ms per tick: far slower than its "
                  "feed");
    s.slow_book = msft;
    s.slow_tick_ms = 25;
  }
  {
    auto& s = add("slow_session",
                  "subscriber-session-2 writes every quote to its client "
                  "socket synchronously (2 ms): slower than the ~900 quotes/s "
                  "of its four symbols");
    s.slow_session = 2;
    s.slow_quote_ms = 2;
  }
  {
    auto& s = add("slow_router",
                  "the router normalizes every tick's symbol with a "
                  "synchronous 0.8 ms lookup: slower than the 1600 ticks/s "
                  "of both feeds together");
    s.router_tick_us = 800;
  }
  // -- crash loop ---------------------------------------------------------------
  {
    auto& s = add("crash_loop_mild",
                  "book-JPM crashes 700 ms after every (re)start (crossed "
                  "book after a trade bust)");
    s.crash_book = jpm;
    s.crash_after_ms = 700;
  }
  {
    auto& s = add("crash_loop_severe",
                  "book-JPM crashes 120 ms after every (re)start");
    s.crash_book = jpm;
    s.crash_after_ms = 120;
  }
  {
    auto& s = add("session_crash_loop",
                  "subscriber-session-5 (a transient child of sessions_sup) "
                  "crashes on a malformed client frame 700 ms after every "
                  "(re)start");
    s.crash_session = 5;
    s.crash_session_after_ms = 700;
  }
  // -- blocked scheduler thread -------------------------------------------------
  {
    auto& s = add("blocked_journal_mild",
                  "the journal blocks 1.3 s in every persist request (fsync "
                  "on a stalled volume, on a scheduler thread)");
    s.journal_block_ms = 1300;
  }
  {
    auto& s = add("blocked_journal_severe",
                  "the journal blocks 2 s in every persist request");
    s.journal_block_ms = 2000;
  }
  // -- unresponsive pair ----------------------------------------------------------
  {
    auto& s = add("unresponsive_pair_mild",
                  "book-AAPL awaits the risk gate's approval per tick; for a "
                  "large order the risk gate awaits book-AAPL's exposure: a "
                  "request cycle; the awaits time out after 2.5 s and the "
                  "next large order forms it again");
    s.await_book = aapl;
    s.await_timeout_ms = 2500;
  }
  {
    auto& s = add("unresponsive_pair_severe",
                  "book-AAPL and the risk gate await each other with 8 s "
                  "timeouts");
    s.await_book = aapl;
    s.await_timeout_ms = 8000;
  }
  // -- error burst -----------------------------------------------------------------
  {
    auto& s = add("error_burst_mild",
                  "feed-lse logs 15 sequence-gap errors per second");
    s.feed_errors_per_s = 15;
  }
  {
    auto& s = add("error_burst_severe",
                  "feed-lse logs 400 sequence-gap errors per second");
    s.feed_errors_per_s = 400;
  }
  // -- memory leak -------------------------------------------------------------------
  {
    auto& s = add("book_leak_mild",
                  "book-VOD keeps every tick's depth snapshot: its history "
                  "grows by 400 KB/s (reported state bytes)");
    s.leak_book = vod;
    s.leak_bytes_per_s = 400e3;
  }
  {
    auto& s = add("book_leak_severe",
                  "book-VOD's history grows by 12 MB/s (reported state "
                  "bytes)");
    s.leak_book = vod;
    s.leak_bytes_per_s = 12e6;
  }
  // -- latency regression ----------------------------------------------------------------
  {
    auto& s = add("risk_latency_mild",
                  "the risk gate's pricing call gets 3x slower");
    s.risk_latency_factor = 3;
    s.warmup = 2500ms;
  }
  {
    auto& s = add("risk_latency_severe",
                  "the risk gate's pricing call gets 10x slower");
    s.risk_latency_factor = 10;
    s.warmup = 2500ms;
  }
  // -- realistic variants ----------------------------------------------------------------
  {
    auto& s = add("session_slow_leak",
                  "subscriber-session-3 keeps a replay buffer that is never "
                  "trimmed: ~1 MB/s (reported state bytes)");
    s.leak_session = 3;
    s.session_leak_bytes_per_s = 1e6;
  }
  {
    auto& s = add("router_leak_state_only",
                  "the router caches every vendor alias it sees (4 MB/s); "
                  "visible only in its exposed state, never reported as "
                  "state bytes");
    s.router_leak_bytes_per_s = 4e6;
  }
  {
    auto& s = add("journal_pending_acks",
                  "the journal fsyncs one batch at a time instead of group "
                  "commits: the books' persist requests (request.then) wait "
                  "as response promises, the journal's mailbox stays empty");
    s.journal_no_group_commit = true;
  }
  {
    auto& s = add("lost_reply",
                  "the risk gate awaits the journal's durable offset before "
                  "every check (10 s timeout); the journal parks the query "
                  "and never answers it (a forgotten response promise)");
    s.risk_awaits_offset = true;
    s.journal_parks_offset_queries = true;
  }
  {
    auto& s = add("backlog_grows_memory",
                  "depth-of-book deployment (8 KB per quote), alerting on "
                  "memory only: subscriber-session-4 writes to a slow client "
                  "(3 ms per quote), its mailbox grows and holds the quotes: "
                  "RSS climbs, no state of any actor grows");
    s.quote_depth_bytes = 8192;
    s.delivery_alerts = false;
    s.slow_session = 4;
    s.slow_quote_ms = 3;
  }
  {
    auto& s = add("books_sup_gives_up",
                  "book-BP crashes 300 ms after every start; books_sup allows "
                  "2 restarts in 5 s, reaches its intensity and shuts every "
                  "book down");
    s.crash_book = bp;
    s.crash_after_ms = 300;
    s.books_intensity = 2;
    s.books_period = 5000ms;
  }
  {
    auto& s = add("cold_lens_blocked_book",
                  "dormant lens, nothing wired to it: book-HSBA blocks 2 s "
                  "in every tick handler");
    s.block_book = hsba;
    s.block_ms = 2000;
    s.cold_lens = true;
  }
  // -- compound faults ----------------------------------------------------------------------
  {
    auto& s = add("two_roots_crash_and_leak",
                  "two independent faults: book-JPM crashes 500 ms after "
                  "every start, and book-VOD's history grows by 600 KB/s");
    s.crash_book = jpm;
    s.crash_after_ms = 500;
    s.leak_book = vod;
    s.leak_bytes_per_s = 600e3;
  }
  {
    auto& s = add("thread_pool_exhaustion",
                  "book-AAPL and book-MSFT call a synchronous limit service "
                  "for 300 ms in every tick handler: no single run reaches a "
                  "second, but two of the four scheduler threads are held "
                  "for good and everything else shares the other two");
    s.block_mask = (1u << aapl) | (1u << msft);
    s.block_ms = 300;
  }
  {
    auto& s = add("two_slow_consumers",
                  "two independent slow consumers at once: book-MSFT spends "
                  "25 ms per tick and subscriber-session-5 4 ms per quote");
    s.slow_book = msft;
    s.slow_tick_ms = 25;
    s.slow_session = 5;
    s.slow_quote_ms = 4;
  }
  {
    auto& s = add("journal_stall_paged_by_errors",
                  "the journal blocks 2 s in every persist request (root "
                  "cause); this deployment has no journal alert and is paged "
                  "by the books' errors when their persist requests time out "
                  "after 1 s (symptom)");
    s.journal_block_ms = 2000;
    s.journal_backlog_alert = false;
  }
  {
    auto& s = add("blocked_book_with_backlog",
                  "book-IBM blocks 2 s in every tick handler (root cause) and "
                  "its mailbox grows behind it (symptom)");
    s.block_book = ibm;
    s.block_ms = 2000;
  }
  return xs;
}

} // namespace

const std::vector<scenario>& all_scenarios() {
  static const std::vector<scenario> xs = make_all();
  return xs;
}

const scenario* find_scenario(std::string_view name) {
  for (auto& s : all_scenarios())
    if (s.name == name)
      return &s;
  return nullptr;
}

std::string_view symbol_name(size_t index) {
  static constexpr std::string_view names[symbol_count]
    = {"AAPL", "MSFT", "IBM", "JPM", "VOD", "BP", "HSBA", "ULVR"};
  return index < symbol_count ? names[index] : std::string_view{"?"};
}

} // namespace market
