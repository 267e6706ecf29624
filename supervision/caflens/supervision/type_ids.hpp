// The type IDs of caflens's supervision messages (CAF's type-ID block,
// `caf/type_id.hpp`): `supervision::add_message_types(cfg)` registers the
// whole block with `cfg.add_message_types<caf::id_block::caflens_supervision>()`.
//
// IDs: from `caflens_supervision_first_type_id` (12000) on, followed by the
// block of `caflens/actors/type_ids.hpp`. An application with a type-ID block
// of its own starts it elsewhere (CAF's `first_custom_type_id` is 200), or
// after `caf::id_block::caflens_actors::end`.
#pragma once

#include <vector>

#include "caf/type_id.hpp"

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(caflens_supervision, 12000)

  // Requests and replies.
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::start_child))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::start_dynamic_child))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::terminate_child))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::restart_child))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::delete_child))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::which_children))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::count_children))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::get_childspec))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::get_tree))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::subscribe))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::unsubscribe))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_spec))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_info))
  // The reply of which_children (a block registers no vectors by itself,
  // unlike `add_message_type`).
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (std::vector<caflens::supervision::child_info>))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_counts))

  // Reports.
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::supervisor_started))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_started))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_ignored))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::child_start_error))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_exited))
  CAF_ADD_TYPE_ID(caflens_supervision, (caflens::supervision::child_restarted))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::child_terminated))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::intensity_exceeded))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::auto_shutdown_triggered))
  CAF_ADD_TYPE_ID(caflens_supervision,
                  (caflens::supervision::supervisor_stopped))

CAF_END_TYPE_ID_BLOCK(caflens_supervision)
