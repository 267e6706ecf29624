#include "caf/actor_system_config.hpp"

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervision_errc.hpp"
#include "caflens/supervision/supervisor.hpp"

namespace caflens::supervision {

void add_message_types(caf::actor_system_config& cfg) {
#define CAFLENS_SUPERVISION_ADD(type)                                          \
  cfg.add_message_type<type>("caflens::supervision::" #type)
  // Requests and replies.
  CAFLENS_SUPERVISION_ADD(start_child);
  CAFLENS_SUPERVISION_ADD(start_dynamic_child);
  CAFLENS_SUPERVISION_ADD(terminate_child);
  CAFLENS_SUPERVISION_ADD(restart_child);
  CAFLENS_SUPERVISION_ADD(delete_child);
  CAFLENS_SUPERVISION_ADD(which_children);
  CAFLENS_SUPERVISION_ADD(count_children);
  CAFLENS_SUPERVISION_ADD(get_childspec);
  CAFLENS_SUPERVISION_ADD(get_tree);
  CAFLENS_SUPERVISION_ADD(subscribe);
  CAFLENS_SUPERVISION_ADD(unsubscribe);
  CAFLENS_SUPERVISION_ADD(child_spec);
  CAFLENS_SUPERVISION_ADD(child_info); // also std::vector<child_info>
  CAFLENS_SUPERVISION_ADD(child_counts);
  // Reports.
  CAFLENS_SUPERVISION_ADD(supervisor_started);
  CAFLENS_SUPERVISION_ADD(child_started);
  CAFLENS_SUPERVISION_ADD(child_ignored);
  CAFLENS_SUPERVISION_ADD(child_start_error);
  CAFLENS_SUPERVISION_ADD(child_exited);
  CAFLENS_SUPERVISION_ADD(child_restarted);
  CAFLENS_SUPERVISION_ADD(child_terminated);
  CAFLENS_SUPERVISION_ADD(intensity_exceeded);
  CAFLENS_SUPERVISION_ADD(auto_shutdown_triggered);
  CAFLENS_SUPERVISION_ADD(supervisor_stopped);
#undef CAFLENS_SUPERVISION_ADD
  // Renders every registered caflens category, `supervisor` included.
  detail::error_category_registered();
  caflens::add_error_categories(cfg);
}

} // namespace caflens::supervision
