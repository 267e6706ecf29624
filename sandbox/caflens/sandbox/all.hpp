// caflens::sandbox runs short, untrusted Lua 5.4 programs (written by an LLM
// or an operator at a shell) against host callbacks, each in a fresh state
// under hard limits on instructions, memory and wall time. Values cross the
// boundary as JSON.
//
//   using namespace std::chrono_literals;
//   caflens::sandbox::callback top{
//     "actors_top", {"n"}, "top actors by mailbox",
//     [&](const std::vector<nlohmann::json>& args)
//       -> caf::expected<nlohmann::json> { return table.top(args.at(0)); }};
//   caflens::sandbox::sandbox box{{.max_wall_time = 500ms}};
//   auto res = box.execute(R"(
//     local out = {}
//     for _, a in ipairs(actors_top(5)) do
//       if a.mailbox > 1000 then out[#out + 1] = a.name end
//     end
//     return out)", {top});
//   // res->value is a JSON array of names, or res.error() says which line,
//   // limit or callback failed.
#pragma once

#include "caflens/sandbox/callback.hpp"
#include "caflens/sandbox/execute_result.hpp"
#include "caflens/sandbox/fwd.hpp"
#include "caflens/sandbox/limits.hpp"
#include "caflens/sandbox/sandbox.hpp"
#include "caflens/sandbox/sandbox_errc.hpp"
