// The tools of DESIGN.md section 3 (private header).
#pragma once

#include <string>
#include <vector>

#include "caflens/llm/tool_definition.hpp"

#include "prompts.hpp"

namespace caflens::actors {

/// take_snapshot, get_snapshot, get_snapshots, execute, send_notification,
/// set_state, think, wait, done.
llm::tool_set operator_tools();

/// An action a coordinator may propose: name, its parameters described,
/// one line.
struct action_offer {
  std::string name;
  std::string params;
  std::string description;
};

/// get_notifications, update_notification_statuses, invoke_operators,
/// message_operator, get_operator_statuses, produce_insight, schedule, think,
/// wait, done; and propose_action when `actions` is not empty (never in
/// read-only mode). `skills` becomes the enum of invoke_operators.skills.
llm::tool_set coordinator_tools(const std::vector<std::string>& skills,
                                const std::vector<action_offer>& actions = {},
                                bool autonomous = false);

} // namespace caflens::actors
