// Remediation, opt-in: actions the embedding code registers and the
// configuration allows, proposed by an insight and approved by a human
// (`action_mode::approve`) or run at once (`action_mode::autonomous`). The
// default is read-only: no action is offered to any brain and none runs.
// Every proposal, approval, rejection, denial and run is an audit record, a
// telemetry event `caflens.action.*` and a message to the lens's
// subscribers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/actor.hpp"
#include "caf/expected.hpp"
#include "caf/fwd.hpp"
#include "caf/meta/type_name.hpp"

#include "caflens/actors/types.hpp"
#include "caflens/sandbox/callback.hpp"

namespace caflens::skills {
class process_table;
} // namespace caflens::skills

namespace caflens {

/// What caflens may do about what it finds.
enum class action_mode : uint8_t {
  /// Nothing (the default): no action tool is offered, none runs.
  read_only,
  /// Insights propose allow-listed actions; a human or the embedding code
  /// approves each through `lens::approve_action` (or rejects it).
  approve,
  /// Allow-listed actions run as soon as they are proposed.
  autonomous,
};

std::string to_string(action_mode x);

/// Parses "read_only" (or "read-only"), "approve", "autonomous".
bool parse_action_mode(std::string_view x, action_mode& out);

/// One action the embedding code lets caflens take.
struct action_definition {
  /// Unique ("restart_child").
  std::string name;
  /// One line for a model and for the audit.
  std::string description;
  /// Its arguments (checked before anything runs).
  std::vector<sandbox::param> params;
  /// The failure patterns it remediates: an insight of one of them proposes
  /// it (with the arguments `for_insight` derives).
  std::vector<std::string> patterns;
  /// The arguments for `x` (its culprits, the notifications it cites), or
  /// nullopt when the action does not apply to it.
  std::function<std::optional<nlohmann::json>(
    const insight& x, const std::vector<notification>& evidence)>
    for_insight;
  /// Does it. Runs on the approving thread (approve) or on a detached
  /// helper actor (autonomous); may block briefly. The result is audited.
  std::function<caf::expected<nlohmann::json>(const nlohmann::json& args)> run;
};

/// The remediation part of `caflens::config`.
struct action_settings {
  action_mode mode = action_mode::read_only;
  /// What the embedding code registers.
  std::vector<action_definition> registered;
  /// The names that may ever run; a registered action missing here is
  /// refused (`denied`).
  std::vector<std::string> allow;
};

namespace actions {

/// restart_child{supervisor, child}: stops a static child of one of
/// `supervisors` (named by its supervisor's name) and starts it again with
/// fresh state (terminate_child + restart_child). Proposed for
/// `crash_loop` insights that name a supervised child.
action_definition restart_child(caf::actor_system& sys,
                                std::vector<caf::actor> supervisors);

/// terminate_child{supervisor, child}: stops a static child and leaves it
/// stopped (a crash loop that should stop hurting its neighbours).
action_definition terminate_child(caf::actor_system& sys,
                                  std::vector<caf::actor> supervisors);

/// stop_actor{actor}: sends `user_shutdown` to a tracked actor of `table`
/// by name (its supervisor, if any, decides what follows).
action_definition stop_actor(caf::actor_system& sys,
                             skills::process_table& table);

} // namespace actions

} // namespace caflens
