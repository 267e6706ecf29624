#include "loop.hpp"

#include <map>

#include "caflens/llm/llm_errc.hpp"
#include "caflens/telemetry/error.hpp"
#include "caflens/telemetry/bus.hpp"

namespace caflens::actors {

void emit(std::string_view group, std::string_view what,
          const std::vector<telemetry::meta_entry>& md) {
  const telemetry::measurement ms[]
    = {{"system_time", static_cast<double>(telemetry::bus::system_time())}};
  telemetry::bus::global().execute(
    telemetry::event_name{"caflens", group, what},
    telemetry::measurements{ms, 1}, telemetry::metadata{md});
}

tool_outcome run_timed(
  const std::string& trace_id, int64_t iteration, std::string_view intent,
  const llm::tool_call& call,
  const std::function<tool_outcome(const std::string&, const nlohmann::json&)>&
    dispatch) {
  auto& bus = telemetry::bus::global();
  auto t0 = telemetry::bus::monotonic_time();
  bus.execute(telemetry::event_name{"caflens", "tool", "start"},
              {{"system_time",
                static_cast<double>(telemetry::bus::system_time())},
               {"monotonic_time", static_cast<double>(t0)}},
              {{"trace_id", trace_id},
               {"iteration", iteration},
               {"tool_name", call.name},
               {"intent", intent}});
  tool_outcome out;
  // A tool that throws ends its span with tool.exception (the model gets
  // the failure as a tool error); an error result is a normal stop.
  std::string thrown;
  try {
    out = dispatch(call.name, call.arguments);
  } catch (const std::exception& ex) {
    thrown = ex.what();
  } catch (...) {
    thrown = "unknown exception";
  }
  auto t1 = telemetry::bus::monotonic_time();
  if (!thrown.empty()) {
    out = tool_outcome::error(call.name + " failed: " + thrown);
    bus.execute(telemetry::event_name{"caflens", "tool", "exception"},
                {{"duration", static_cast<double>(t1 - t0)},
                 {"monotonic_time", static_cast<double>(t1)}},
                {{"trace_id", trace_id},
                 {"iteration", iteration},
                 {"tool_name", call.name},
                 {"kind", "error"},
                 {"reason", thrown}});
    return out;
  }
  bus.execute(telemetry::event_name{"caflens", "tool", "stop"},
              {{"duration", static_cast<double>(t1 - t0)},
               {"monotonic_time", static_cast<double>(t1)}},
              {{"trace_id", trace_id},
               {"iteration", iteration},
               {"tool_name", call.name},
               {"intent", intent},
               {"result", out.is_error ? "error" : "ok"}});
  return out;
}

caf::error tool_table::add(llm::tool_definition def, tool_handler run) {
  auto name = std::string{def.name()};
  if (auto err = defs_.add(std::move(def)))
    return err;
  handlers_.emplace_back(std::move(name), std::move(run));
  return {};
}

const tool_handler* tool_table::find(std::string_view name) const {
  for (auto& [n, h] : handlers_)
    if (n == name)
      return &h;
  return nullptr;
}

caf::expected<tool_outcome> loop_core::step() {
  auto call = brain->decide(conv, tools.definitions());
  if (!call)
    return std::move(call.error());
  normalize_final_answer(*call);
  return run(*call);
}

tool_outcome loop_core::run(const llm::tool_call& call) {
  if (on_call)
    on_call(brain ? brain->kind() : std::string_view{}, iteration, call);
  tool_outcome out;
  auto& defs = tools.definitions();
  auto* def = defs.find(call.name);
  auto* handler = tools.find(call.name);
  if (def == nullptr || handler == nullptr) {
    out = tool_outcome::error("unknown tool '" + call.name
                              + "'; known tools: " + defs.names());
  } else if (call.arguments.is_null() || !call.arguments.is_object()) {
    out = tool_outcome::error(call.name + ": arguments must be a JSON object");
  } else if (auto problems = def->problems(call.arguments);
             !problems.empty()) {
    out = tool_outcome::error(problems);
  } else {
    out = run_timed(conv.trace_id(), iteration, intent, call,
                    [handler](const std::string&, const nlohmann::json& args) {
                      return (*handler)(args);
                    });
  }
  answer(call, out);
  return out;
}

void loop_core::normalize_final_answer(llm::tool_call& call) {
  if (call.name != "done" || !call.arguments.is_object())
    return;
  auto i = call.arguments.find("answer");
  if (i == call.arguments.end())
    return;
  if (!call.arguments.contains("summary"))
    call.arguments["summary"] = *i;
  call.arguments.erase("answer");
}

namespace {

// The longest array in `x` and its JSON-pointer path.
nlohmann::json* longest_array(nlohmann::json& x, std::string path,
                              std::string& best_path) {
  nlohmann::json* best = nullptr;
  auto visit = [&](auto& self, nlohmann::json& y, const std::string& at)
    -> void {
    if (y.is_array()) {
      if (!y.empty() && (best == nullptr || y.size() > best->size())) {
        best = &y;
        best_path = at;
      }
      for (size_t i = 0; i < y.size(); ++i)
        self(self, y[i], at + "/" + std::to_string(i));
    } else if (y.is_object()) {
      for (auto& [k, v] : y.items())
        if (k != "more")
          self(self, v, at + "/" + k);
    }
  };
  visit(visit, x, path);
  return best;
}

} // namespace

nlohmann::json bound_result(const nlohmann::json& x, size_t max_bytes) {
  if (x.dump().size() <= max_bytes)
    return x;
  nlohmann::json y;
  if (x.is_array())
    y = {{"items", x}, {"total", x.size()}};
  else if (x.is_object())
    y = x;
  else
    y = {{"value", x}};
  std::map<std::string, size_t> more;
  auto with_more = [&] {
    auto c = y;
    if (!more.empty()) {
      nlohmann::json m = nlohmann::json::object();
      for (auto& [path, n] : more)
        m[path.empty() ? "/" : path] = n;
      c["more"] = std::move(m);
    }
    return c;
  };
  for (;;) {
    auto c = with_more();
    if (c.dump().size() <= max_bytes)
      return c;
    std::string path;
    auto* arr = longest_array(y, "", path);
    if (arr == nullptr) {
      // No list left to shorten: say so rather than cut a value.
      return {{"truncated", true},
              {"error", "result exceeds " + std::to_string(max_bytes)
                          + " bytes; ask for less (limit, offset, n)"}};
    }
    auto keep = arr->size() / 2;
    more[path] += arr->size() - keep;
    arr->erase(arr->begin() + static_cast<long>(keep), arr->end());
  }
}

void loop_core::answer(const llm::tool_call& call, const tool_outcome& out) {
  auto pending = conv.pending_calls();
  bool is_pending = false;
  for (auto& p : pending)
    if (p.id == call.id)
      is_pending = true;
  if (!is_pending)
    return;
  auto data = out.data;
  if (out.content.size() <= max_result_bytes) {
    conv.add_tool_result(call.id, out.content, out.is_error, out.snapshot_ids,
                         out.notification, std::move(data));
    return;
  }
  if (!data) {
    auto j = nlohmann::json::parse(out.content, nullptr, false);
    if (!j.is_discarded())
      data = std::make_shared<const nlohmann::json>(std::move(j));
  }
  std::string text;
  if (data) {
    text = bound_result(*data, max_result_bytes).dump();
  } else {
    // Plain text: cut at a line or a space, and say so.
    auto cut = out.content.rfind('\n', max_result_bytes);
    if (cut == std::string::npos || cut < max_result_bytes / 2)
      cut = out.content.rfind(' ', max_result_bytes);
    if (cut == std::string::npos || cut < max_result_bytes / 2)
      cut = max_result_bytes;
    text = out.content.substr(0, cut) + "\n[cut: "
           + std::to_string(out.content.size()) + " bytes; ask for less]";
  }
  conv.add_tool_result(call.id, std::move(text), out.is_error,
                       out.snapshot_ids, out.notification, std::move(data));
}

llm::brain_usage loop_core::usage() const {
  auto u = spent_;
  if (brain)
    u += brain->usage();
  return u;
}

bool loop_core::grant_final_step() {
  if (final_step_granted || !brain || !brain->model_backed())
    return false;
  final_step_granted = true;
  // A turn's calls must all be answered before the next user message.
  for (auto& c : conv.pending_calls())
    conv.add_tool_result(c.id, "Not run: the iteration limit is reached.",
                         true);
  conv.request_final_answer(
    "You reached the iteration limit (" + std::to_string(max_iterations)
    + " iterations). Do not call any more tools for data: give your final "
      "answer now (call done with your summary) with what you have.");
  return true;
}

bool loop_core::degrade(const caf::error& err,
                        std::unique_ptr<llm::brain> fallback) {
  if (!brain || !fallback || !brain->model_backed())
    return false;
  if (auto b = conv.budget(); b && b->cancelled())
    return false;
  if (auto code = llm::llm_code(err);
      code == llm::llm_errc::cancelled
      || code == llm::llm_errc::deadline_exceeded)
    return false;
  spent_ = usage();
  if (degraded.empty())
    degraded = render_error(err);
  // Calls of the failed turn stay unanswered for a model; the rule brain
  // reads results, so answer them as not run.
  for (auto& c : conv.pending_calls())
    conv.add_tool_result(c.id, "Not run: the brain failed.", true);
  brain = std::move(fallback);
  return true;
}

} // namespace caflens::actors
