// The tree view returned by `get_tree`, as nlohmann::json:
//
//   { "name": "root", "actor": 12, "strategy": "one_for_one",
//     "intensity": 1, "period_ms": 5000, "auto_shutdown": "never",
//     "state": "running", "restarts_in_period": 0, "uptime_ms": 8000,
//     "children": [
//       { "id": "db", "actor": 13, "status": "running", "type": "worker",
//         "restart": "permanent", "shutdown": "5000", "significant": false,
//         "restarts": 2,
//         "history": [ { "at_ms": 1200, "reason": "runtime_error" } ] },
//       { "id": "pool", "type": "supervisor", ..., "tree": { ...nested... } }
//     ] }
//
// `at_ms` is milliseconds since the supervisor started; `history` keeps the
// last 8 restarts of each child.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

namespace caflens::supervision {

/// Parses the reply of `get_tree`.
caf::expected<nlohmann::json> parse_tree(std::string_view text);

} // namespace caflens::supervision
