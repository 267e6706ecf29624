// Project-wide error plumbing in CAF's style: every component declares an
// `enum class <component>_errc : uint8_t`, a `to_string` for it, and a
// `make_error` overload that tags it with the component's atom category.
// Components register a renderer here so `render_error` can print any caflens
// error as readable text outside an actor system, and `add_error_categories`
// registers them all with an `actor_system_config`.
#pragma once

#include <string>

#include "caf/atom.hpp"
#include "caf/error.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace caflens {

/// Renders the code of one error category as text (e.g. "not_found").
using error_code_renderer = std::string (*)(uint8_t code);

/// Registers the renderer for `category`. Called once per component at static
/// initialization through `CAFLENS_REGISTER_ERROR_CATEGORY`. Thread-safe.
bool register_error_category(caf::atom_value category,
                             error_code_renderer renderer);

/// Returns "category: code (context...)" for a caflens error and CAF's own
/// rendering for any other error. Never empty for a non-empty error.
std::string render_error(const caf::error& err);

/// Adds every registered caflens error category to `cfg` so that
/// `actor_system::render` prints caflens errors readably.
void add_error_categories(caf::actor_system_config& cfg);

/// Returns the context string(s) attached to `err`, or "" when there are none.
std::string error_context(const caf::error& err);

} // namespace caflens

/// Defines `make_error` overloads for `Enum` in the current namespace and
/// registers its renderer under `AtomText`.
#define CAFLENS_ERROR_CATEGORY(Enum, AtomText)                                  \
  inline caf::error make_error(Enum code) {                                    \
    return {static_cast<uint8_t>(code), caf::atom(AtomText)};                  \
  }                                                                            \
  template <class T, class... Ts>                                              \
  caf::error make_error(Enum code, T&& x, Ts&&... xs) {                        \
    return {static_cast<uint8_t>(code), caf::atom(AtomText),                   \
            caf::make_message(std::forward<T>(x), std::forward<Ts>(xs)...)};   \
  }                                                                            \
  inline constexpr caf::atom_value Enum##_category = caf::atom(AtomText)
