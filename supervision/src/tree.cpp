#include "caflens/supervision/tree.hpp"

#include "caf/sec.hpp"

namespace caflens::supervision {

caf::expected<nlohmann::json> parse_tree(std::string_view text) {
  auto result = nlohmann::json::parse(text, nullptr, false);
  if (result.is_discarded())
    return caf::make_error(caf::sec::invalid_argument,
                           "get_tree reply is not JSON");
  return result;
}

} // namespace caflens::supervision
