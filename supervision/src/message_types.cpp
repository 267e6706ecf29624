#include "caf/actor_system_config.hpp"

#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervision_errc.hpp"
#include "caflens/supervision/supervisor.hpp"
#include "caflens/supervision/type_ids.hpp"

namespace caflens::supervision {

void add_message_types(caf::actor_system_config& cfg) {
  // Every message of the module, from one type-ID block.
  cfg.add_message_types<caf::id_block::caflens_supervision>();
  // Renders every registered caflens category, `supervisor` included.
  detail::error_category_registered();
  caflens::add_error_categories(cfg);
}

} // namespace caflens::supervision
