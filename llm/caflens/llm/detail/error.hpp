#pragma once

#include <optional>
#include <string>

#include "caflens/llm/llm_errc.hpp"

namespace caflens::llm::detail {

/// Makes an llm error with a text context. Every error of the component goes
/// through here, which also keeps the category registration linked.
caf::error llm_error(llm_errc code, std::string text);

} // namespace caflens::llm::detail
