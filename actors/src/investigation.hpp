// One investigation's bookkeeping: its operators, the evidence they hand
// in, the insights, and the aggregation into the result (private header).
// No actor code: the coordinator actor drives it, tests use it directly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor.hpp"
#include "caf/actor_addr.hpp"
#include "caf/typed_response_promise.hpp"

#include "caflens/actors/messages.hpp"

#include "loop.hpp"

namespace caflens::skills {
class process_table;
} // namespace caflens::skills

namespace caflens::actors {

using result_promise = caf::typed_response_promise<investigation_result>;

/// One operator run of an investigation.
struct op_entry {
  uint64_t run_id = 0;
  std::string skill;
  std::string node;
  caf::actor handle;
  operator_state state = operator_state::healthy;
  int32_t iteration = 0;
  bool running = true;
  int32_t crashes = 0;
  std::optional<operator_result> result;
  std::vector<std::string> notification_ids;
  /// Messages for an operator that has not announced itself yet.
  std::vector<std::string> pending;

  /// The result of a run that did not hand one in (still running, crashed
  /// for good): what is known of it, stopped for `stop_reason`.
  operator_result stand_in(const std::string& stop_reason) const;
};

/// Somebody waiting for a result.
struct waiter {
  result_promise rp;
  caf::actor_addr caller;
};

/// A request with the callers waiting for it.
struct request_entry {
  std::string trace_id;
  investigate_request req;
  std::vector<waiter> waiters;
  /// False for automatic triggers: nobody's death cancels them.
  bool has_callers = false;

  /// Answers every waiter with `err`.
  void fail(const caf::error& err);
};

/// What the coordinator needs from its lens to label and resolve things.
struct investigation_env {
  std::string node;
  /// Ids for notifications and insights ("n-12", "i-3").
  std::function<std::string(const char* prefix)> next_id;
  /// Live actors and supervisors by name (may be null).
  const skills::process_table* processes = nullptr;
};

/// One running investigation.
struct investigation {
  request_entry entry;
  int64_t started_at = 0;
  int64_t started_mono = 0;
  int32_t operator_max_iterations = 25;
  int64_t deadline_at = 0;
  uint64_t seq = 0;
  loop_core loop;
  std::vector<std::string> allowed_skills;
  std::vector<notification> notes;
  std::vector<insight> insights;
  std::map<uint64_t, op_entry> ops;
  std::vector<std::string> errors;
  bool waiting = false;
  /// The model failed: the rule brain goes on, operators start offline.
  bool offline = false;
  /// Actions its insights or its brain proposed (the action book's ids).
  std::vector<std::string> action_ids;
  /// The investigation's trace context (W3C traceparent).
  std::string traceparent;
  /// Remote nodes that ran operators (told when it is over).
  std::set<std::string> remote_nodes;

  // -- queries ----------------------------------------------------------------

  op_entry* find_op(uint64_t run_id);

  /// The running operator of `skill` (on `node`; empty: any), or nullptr.
  op_entry* running_op(const std::string& skill,
                       const std::string& node = {});

  bool any_running() const;

  std::vector<std::string> running_skills() const;

  /// True when there is anything to hand in.
  bool has_evidence() const;

  notification* find_note(const std::string& id);

  /// The ids in `ids` (a JSON array) that name no notification.
  std::vector<std::string> unknown_notes(const nlohmann::json& ids);

  // -- what operators report --------------------------------------------------

  /// A notification of `op` joins the evidence, unread.
  void add_notification(op_entry& op, notification n);

  /// `op` handed in its result.
  void complete(op_entry& op, operator_result r);

  /// `op` crashed (`reason`) for the `op.crashes`-th time: a notification
  /// `operator_crashed` joins the evidence; past `max_restarts` the run is
  /// given up (not running any more, its result `crashed`). True when given
  /// up.
  bool crashed(op_entry& op, const std::string& reason, int max_restarts,
               const investigation_env& env);

  /// `op` could not be started.
  void start_failed(op_entry& op, const std::string& why);

  /// Node `node` was lost (`why`) at `at` (Unix ms): its running operators
  /// are given up, a `node_lost` notification names it and the skills it
  /// did not finish. Returns those skills (empty: nothing was running
  /// there).
  std::vector<std::string> node_lost(const std::string& node,
                                     const std::string& why, int64_t at,
                                     const investigation_env& env);

  // -- the coordinator's bookkeeping tools ------------------------------------

  /// get_notifications: all of `status` ("all" for every one), or a page.
  tool_outcome notifications(const std::string& status, int64_t limit,
                             int64_t offset) const;

  /// update_notification_statuses.
  tool_outcome update_statuses(const nlohmann::json& args);

  /// get_operator_statuses, with finished operators' summaries and errors.
  tool_outcome operator_statuses() const;

  /// produce_insight: cited notifications must exist and name every
  /// culprit; grounded needs two independent sources.
  tool_outcome produce_insight(const nlohmann::json& args,
                               const investigation_env& env);

  /// What `name` is (actor, supervisor, metric series, log source, node).
  culprit resolve_culprit(const std::string& name, const nlohmann::json& ids,
                          const investigation_env& env);

  // -- the result -------------------------------------------------------------

  /// The result when the investigation stops for `stop_reason` ("done",
  /// "deadline", "cancelled", ...): every operator's result (stand-ins for
  /// runs that did not finish), tokens and cost summed over every loop,
  /// partial unless everything finished cleanly, insights warning-first.
  /// Moves the evidence out.
  investigation_result result(const std::string& stop_reason,
                              const std::string& node, std::string brain,
                              std::string summary);

  /// The `status` view of the running investigation.
  nlohmann::json status() const;
};

} // namespace caflens::actors
