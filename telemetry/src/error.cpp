#include "caflens/telemetry/error.hpp"

#include <map>
#include <mutex>

#include "caf/actor_system_config.hpp"
#include "caf/message.hpp"

namespace caflens {

namespace {

struct category_table {
  std::mutex mtx;
  std::map<caf::atom_value, error_code_renderer> renderers;
};

category_table& table() {
  static auto* instance = new category_table; // never destroyed
  return *instance;
}

} // namespace

bool register_error_category(caf::atom_value category,
                             error_code_renderer renderer) {
  auto& t = table();
  std::lock_guard<std::mutex> guard{t.mtx};
  t.renderers[category] = renderer;
  return true;
}

std::string error_context(const caf::error& err) {
  if (!err || err.context().empty())
    return {};
  auto& ctx = err.context();
  std::string result;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (i > 0)
      result += ", ";
    if (ctx.match_element<std::string>(i))
      result += ctx.get_as<std::string>(i);
    else
      result += ctx.stringify(i);
  }
  return result;
}

std::string render_error(const caf::error& err) {
  if (!err)
    return "none";
  error_code_renderer renderer = nullptr;
  {
    auto& t = table();
    std::lock_guard<std::mutex> guard{t.mtx};
    auto i = t.renderers.find(err.category());
    if (i != t.renderers.end())
      renderer = i->second;
  }
  if (renderer == nullptr)
    return caf::to_string(err);
  std::string result = caf::to_string(err.category());
  result += ": ";
  result += renderer(err.code());
  auto ctx = error_context(err);
  if (!ctx.empty()) {
    result += ": ";
    result += ctx;
  }
  return result;
}

void add_error_categories(caf::actor_system_config& cfg) {
  auto& t = table();
  std::lock_guard<std::mutex> guard{t.mtx};
  for (auto& [category, renderer] : t.renderers) {
    auto f = renderer;
    auto cat = category;
    cfg.add_error_category(cat, [f, cat](uint8_t code, caf::atom_value,
                                         const caf::message& ctx) {
      caf::error tmp{code, cat, ctx};
      return render_error(tmp);
    });
  }
}

} // namespace caflens
