// Lua programs on a node's skill callbacks: `lens::execute`, the node
// agent's `remote_execute` (caflens shell, the dashboard).
#include <set>

#include "caf/event_based_actor.hpp"

#include "caflens/sandbox/sandbox.hpp"
#include "caflens/skills/skill.hpp"

#include "cluster_impl.hpp"
#include "engine.hpp"

namespace caflens::actors {

caf::expected<sandbox::execute_result>
run_lua(engine& eng, const std::string& code, const std::string& trace_id) {
  std::vector<sandbox::callback> cbs;
  std::set<std::string> names;
  for (auto& sk : eng.skills())
    for (auto& cb : skills::sandbox_callbacks(*sk))
      if (names.insert(cb.name).second)
        cbs.push_back(std::move(cb));
  // What a program returns or prints leaves the process (a terminal, a
  // browser): it passes the redactor like everything else that does.
  auto res = eng.box().execute(code, cbs, trace_id);
  if (!res) {
    auto& ctx = res.error().context();
    if (ctx.match_elements<std::string>())
      return caf::error{res.error().code(), res.error().category(),
                        caf::make_message(eng.redact(ctx.get_as<std::string>(0)))};
    return res;
  }
  res->value = eng.redact_json(std::move(res->value));
  res->output = eng.redact(std::move(res->output));
  return res;
}

nlohmann::json to_json(const sandbox::execute_result& r) {
  return {{"value", r.value},
          {"output", r.output},
          {"output_truncated", r.output_truncated},
          {"instructions", r.instructions},
          {"peak_memory_bytes", r.peak_memory_bytes},
          {"duration_ms",
           std::chrono::duration<double, std::milli>(r.duration).count()},
          {"callback_calls", r.callback_calls}};
}

sandbox::execute_result execute_result_from(const nlohmann::json& j) {
  sandbox::execute_result r;
  if (!j.is_object())
    return r;
  r.value = j.value("value", nlohmann::json{});
  r.output = j.value("output", std::string{});
  r.output_truncated = j.value("output_truncated", false);
  r.instructions = j.value("instructions", uint64_t{0});
  r.peak_memory_bytes = j.value("peak_memory_bytes", size_t{0});
  r.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
    std::chrono::duration<double, std::milli>(j.value("duration_ms", 0.0)));
  r.callback_calls = j.value("callback_calls", size_t{0});
  return r;
}

namespace {

caf::behavior executor(caf::event_based_actor* self,
                       std::shared_ptr<engine> eng) {
  return {[self, eng](std::string& code,
                      std::string& trace_id) -> caf::result<std::string> {
    self->quit();
    auto res = run_lua(*eng, code, trace_id);
    if (!res)
      return std::move(res.error());
    return to_json(*res).dump();
  }};
}

} // namespace

caf::actor spawn_executor(caf::actor_system& sys,
                          std::shared_ptr<engine> eng) {
  return sys.spawn<caf::detached>(executor, std::move(eng));
}

} // namespace caflens::actors
