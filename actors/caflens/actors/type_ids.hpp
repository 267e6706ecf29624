// The type IDs of every caflens engine message (CAF's type-ID block,
// `caf/type_id.hpp`), right after the supervision block:
// `caflens::add_message_types(cfg)` registers both with
// `cfg.add_message_types<caf::id_block::caflens_actors>()`.
#pragma once

#include <vector>

#include "caf/type_id.hpp"

#include "caflens/actors/cluster.hpp"
#include "caflens/actors/messages.hpp"
#include "caflens/actors/types.hpp"
#include "caflens/supervision/type_ids.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(caflens_actors,
                        caf::id_block::caflens_supervision::end)

  // Results (what callers and remote nodes receive).
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::notification))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::culprit))
  CAF_ADD_TYPE_ID(caflens_actors, (std::vector<caflens::culprit>))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::insight))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::snapshot))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::operator_result))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::investigation_result))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::investigate_options))
  CAF_ADD_TYPE_ID(caflens_actors, (std::vector<caflens::notification>))
  CAF_ADD_TYPE_ID(caflens_actors, (std::vector<caflens::insight>))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::operator_report))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::action_record))
  CAF_ADD_TYPE_ID(caflens_actors, (std::vector<caflens::action_record>))

  // Requests of the coordinator's interface.
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::investigate_request))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::cancel_request))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::status_request))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::alert_request))

  // Between coordinator and operators.
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_spec))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_started))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_notification))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_progress))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_complete))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_message))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::operator_cancel))

  // Timers.
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::loop_tick))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::deadline_tick))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::scheduled_check))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::restart_check))

  // Between nodes (cluster.hpp).
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::node_info))
  CAF_ADD_TYPE_ID(caflens_actors, (std::vector<caflens::node_info>))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::node_hello))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::node_welcome))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_invoke))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_done))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::node_ping))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::node_pong))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::node_event))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::connect_peer))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_snapshot))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_profile))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_subscribe))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::node_profile))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::message_profile))
  CAF_ADD_TYPE_ID(caflens_actors, (caflens::actors::remote_execute))

CAF_END_TYPE_ID_BLOCK(caflens_actors)
