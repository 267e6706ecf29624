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

/// get_notifications, update_notification_statuses, invoke_operators,
/// message_operator, get_operator_statuses, produce_insight, schedule, think,
/// wait, done. `skills` becomes the enum of invoke_operators.skills.
llm::tool_set coordinator_tools(const std::vector<std::string>& skills);

} // namespace caflens::actors
