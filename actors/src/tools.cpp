#include "tools.hpp"

namespace caflens::actors {

using llm::tool_definition;
using llm::tool_parameter;
using P = llm::tool_parameter;

namespace {

tool_definition think_tool() {
  return {"think",
          "Record a thought (reasoning you want to keep); has no effect.",
          {P::string("thought", "The thought.")}};
}

tool_definition wait_tool(const char* what) {
  return {"wait", what,
          {P::integer("ms", "Milliseconds to wait (1 to 60000).")
             .range(1, 60'000)}};
}

} // namespace

llm::tool_set operator_tools() {
  llm::tool_set xs;
  xs.add({"take_snapshot",
          "Capture a bounded snapshot of this skill's area now. Returns its "
          "snapshot_id, the data and the findings of the skill's detectors "
          "(compared with earlier snapshots)."});
  xs.add({"get_snapshot", "Return an earlier snapshot by id.",
          {P::string("id", "A snapshot id from take_snapshot.")}});
  xs.add({"get_snapshots", "List earlier snapshots, newest first.",
          {P::integer("limit", "How many (1 to 20, default 5).")
             .range(1, 20)
             .optional(),
           P::integer("offset", "How many newest ones to skip (default 0).")
             .range(0, 1000)
             .optional()}});
  xs.add({"execute",
          "Run a short Lua 5.4 program in a sandbox with this skill's "
          "callbacks as global functions; returns its value and printed "
          "output. Limits: instructions, memory, wall time.",
          {P::string("code", "Lua source; `return` the result.")}});
  xs.add({"send_notification",
          "Report an anomaly to the coordinator. Keep facts (context, "
          "observation, with the measured numbers) apart from guesses "
          "(hypothesis). Cite at least one snapshot.",
          {P::string("type", "Stable anomaly id, e.g. mailbox_growth."),
           P::string("severity", "How bad.")
             .one_of({"info", "warning", "critical"}),
           P::object("context", "Measured facts as key/value pairs.", {}),
           P::string("observation", "What you saw, with the numbers."),
           P::string("hypothesis", "Your guess at the cause.").optional(),
           P::array("snapshot_ids", "Snapshots that show it.",
                    P::string("id", "A snapshot id."))
             .min_items(1),
           P::array("actors", "Actor names involved, culprit first.",
                    P::string("name", "An actor name."))
             .optional()}});
  xs.add({"set_state", "Set your view of this area.",
          {P::string("state", "The new state.")
             .one_of({"healthy", "observing", "warning", "critical"}),
           P::string("reason", "Why.")}});
  xs.add(think_tool());
  xs.add(wait_tool("Wait before the next step (e.g. to measure growth)."));
  xs.add({"done", "Finish this operator's analysis.",
          {P::string("summary", "One paragraph of what you found.")
             .optional()}});
  return xs;
}

llm::tool_set coordinator_tools(const std::vector<std::string>& skills,
                                const std::vector<action_offer>& actions,
                                bool autonomous) {
  llm::tool_set xs;
  xs.add({"get_notifications",
          "Notifications received from operators (all of them, or a page "
          "with limit/offset: {items, total, offset, more}).",
          {P::string("status", "Which ones (default unread).")
             .one_of({"unread", "acknowledged", "resolved", "all"})
             .optional(),
           P::integer("limit", "At most this many (1 to 500; default all).")
             .range(1, 500)
             .optional(),
           P::integer("offset", "Skip this many first (default 0).")
             .range(0, 100'000)
             .optional()}});
  xs.add({"update_notification_statuses",
          "Mark notifications as acknowledged or resolved.",
          {P::array("notification_ids", "The notifications.",
                    P::string("id", "A notification id."))
             .min_items(1),
           P::string("status", "The new status.")
             .one_of({"unread", "acknowledged", "resolved"})}});
  auto skill_param = P::string("skill", "A skill.");
  if (!skills.empty())
    skill_param.one_of(skills);
  xs.add({"invoke_operators",
          "Start one operator per skill to inspect its area (operators "
          "already running are left alone).",
          {P::array("skills", "The skills to inspect.", skill_param)
             .min_items(1),
           P::array("nodes",
                    "Nodes to run them on (default: this node and every "
                    "connected one).",
                    P::string("node", "A node name."))
             .optional(),
           P::string("context", "What the operators should look for.")
             .optional()}});
  xs.add({"message_operator", "Send a message to a running operator.",
          {P::string("skill", "The operator's skill."),
           P::string("node",
                     "Its node (default: the skill's operators on every "
                     "node).")
             .optional(),
           P::string("message", "The message.")}});
  xs.add({"get_operator_statuses",
          "Every operator of this investigation: state, iterations, "
          "running or finished, notifications."});
  xs.add({"produce_insight",
          "Record a conclusion that correlates notifications into a failure "
          "pattern with its culprits and root cause.",
          {P::string("pattern",
                     "Failure pattern id, e.g. slow_consumer, memory_leak, "
                     "crash_loop, restart_intensity, scheduler_starvation, "
                     "unresponsive, error_burst, latency_regression."),
           P::array("culprits",
                    "What to blame, most likely first: actor or supervisor "
                    "names, metric series, log sources, as the notifications "
                    "name them.",
                    P::string("name", "An actor name or id."))
             .optional(),
           P::array("notification_ids", "The notifications it rests on.",
                    P::string("id", "A notification id."))
             .min_items(1),
           P::string("correlation", "How the notifications relate.")
             .one_of({"temporal", "causal", "symptomatic"}),
           P::string("summary", "The insight in one or two sentences."),
           P::array("matched_observations", "Observations that support it.",
                    P::string("observation", "An observation."))
             .optional(),
           P::boolean("grounded",
                      "Corroborated by independent operators (checked).")
             .optional(),
           P::string("root_cause", "The root cause."),
           P::string("confidence", "How sure.")
             .one_of({"low", "medium", "high"}),
           P::string("severity", "How bad (default: the worst notification).")
             .one_of({"info", "warning", "critical"})
             .optional()}});
  xs.add({"schedule", "Schedule a follow-up investigation.",
          {P::integer("ms", "Delay in milliseconds (1000 to 86400000).")
             .range(1000, 86'400'000),
           P::string("reason", "What to check then.")}});
  if (!actions.empty()) {
    // Only allow-listed actions, only when actions are not read-only.
    std::vector<std::string> names;
    std::string menu;
    for (auto& a : actions) {
      names.push_back(a.name);
      menu += "\n- " + a.name + "(" + a.params + "): " + a.description;
    }
    xs.add({"propose_action",
            std::string{autonomous
                          ? "Run a remediation action now (allowed actions "
                            "run at once and are audited):"
                          : "Propose a remediation action for a human to "
                            "approve (audited):"}
              + menu,
            {P::string("action", "The action's name.").one_of(names),
             P::object("arguments", "Its arguments.", {}),
             P::string("reason", "Why, in one sentence."),
             P::string("insight_id", "The insight it remedies.").optional()}});
  }
  xs.add(think_tool());
  xs.add(wait_tool("Wait for operators (returns early when they finish)."));
  xs.add({"done",
          "Finish the investigation (refused while operators are running, "
          "unless you were asked for your final answer).",
          {P::string("summary", "The investigation's summary.").optional()}});
  return xs;
}


} // namespace caflens::actors
