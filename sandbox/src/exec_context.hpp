// Per-call state of one `sandbox::execute` and the three limit mechanisms:
// the counting allocator (memory), the count hook (instructions, wall time)
// and the guard every library function passes on entry (wall time in C).
//
// Lua raises errors with longjmp. Every function in this component that may
// raise a Lua error (directly or through a Lua API call that allocates) keeps
// only trivially destructible objects alive at that point; C++ work that owns
// memory runs in separate functions that return before anything is raised.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <lua.hpp>

#include "caflens/sandbox/callback.hpp"
#include "caflens/sandbox/limits.hpp"

namespace caflens::sandbox::detail {

using clock = std::chrono::steady_clock;

/// Which limit stopped a script.
enum class limit_kind : uint8_t {
  none,
  instructions,
  memory,
  wall_time,
  call_depth,
};

/// The name of the `limits` field behind `x` ("max_instructions", ...).
const char* limit_field(limit_kind x) noexcept;

/// State of one `execute` call; reachable from Lua through the state's extra
/// space. Not shared between threads.
struct exec_context {
  const limits* lim = nullptr;
  lua_State* L = nullptr;
  std::string_view trace_id;

  // -- memory -----------------------------------------------------------------

  size_t memory_used = 0;
  size_t memory_peak = 0;
  /// While positive, the allocator grants growth beyond the limit: the host
  /// is converting values and checks the limit itself afterwards.
  int host_mode = 0;
  /// The last refused request; Lua retries it once after an emergency GC, and
  /// only a refused retry trips the limit.
  const void* refused_block = nullptr;
  size_t refused_size = 0;
  bool refused_pending = false;
  uint32_t allocations = 0;

  // -- instructions and time --------------------------------------------------

  uint64_t instructions = 0;
  /// The count the hook is armed with (instructions until it fires).
  int hook_count = 0;
  clock::time_point start;
  clock::time_point deadline;
  std::chrono::milliseconds declared_extension{0};

  // -- limit state ------------------------------------------------------------

  limit_kind tripped = limit_kind::none;
  /// Line of the script when the limit tripped, or -1.
  int trip_line = -1;
  /// The library function running when the limit tripped, or nullptr.
  const char* trip_function = nullptr;

  // -- callbacks and output ---------------------------------------------------

  /// Registered callbacks, indexed by the trampolines' upvalue.
  std::vector<const callback*> callbacks;
  size_t callback_calls = 0;
  std::string output;
  bool output_truncated = false;
};

/// The context of `L` (stored in the state's extra space).
inline exec_context* context_of(lua_State* L) noexcept {
  return *static_cast<exec_context**>(lua_getextraspace(L));
}

/// The lua_Alloc that enforces `max_memory_bytes` (and, every 64 growths or
/// on a large one, the deadline). Never fails a shrink.
void* counting_alloc(void* ud, void* ptr, size_t osize, size_t nsize) noexcept;

/// Arms the count hook for the first `check_interval` instructions.
void arm_hook(exec_context* ctx) noexcept;

/// Records that `kind` tripped (the first limit wins) and makes the hook
/// fire on every instruction from now on. Does not raise.
void trip(exec_context* ctx, limit_kind kind,
          const char* function = nullptr) noexcept;

/// Raises the Lua error for a tripped limit. Does not return.
[[noreturn]] void raise_tripped(lua_State* L, exec_context* ctx);

/// Checks the deadline (and a tripped limit) on entry to a library function
/// named `function`; raises when the script must stop.
void enter_library(lua_State* L, const char* function = nullptr);

/// As `enter_library` without the clock read: raises only when a limit has
/// tripped already. For hot inner loops that read the clock themselves.
inline void check_tripped(lua_State* L, exec_context* ctx) {
  if (ctx->tripped != limit_kind::none)
    raise_tripped(L, ctx);
}

/// Extends the deadline by `d` (a callback's declared duration).
void extend_deadline(exec_context* ctx, std::chrono::milliseconds d) noexcept;

/// Enters host mode for the lifetime of the guard (see `host_mode`).
class host_mode_guard {
public:
  explicit host_mode_guard(exec_context* ctx) noexcept
    : ctx_(ctx) {
    ++ctx_->host_mode;
  }

  ~host_mode_guard() { --ctx_->host_mode; }

  host_mode_guard(const host_mode_guard&) = delete;
  host_mode_guard& operator=(const host_mode_guard&) = delete;

private:
  exec_context* ctx_;
};

} // namespace caflens::sandbox::detail
