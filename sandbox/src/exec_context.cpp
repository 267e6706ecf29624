#include "exec_context.hpp"

#include <algorithm>
#include <cstdlib>

namespace caflens::sandbox::detail {

namespace {

void count_hook(lua_State* L, lua_Debug* ar);

void set_hook_count(exec_context* ctx, int count) noexcept {
  ctx->hook_count = count;
  // lua_sethook is safe anywhere (lua.c calls it from a signal handler).
  lua_sethook(ctx->L, count_hook, LUA_MASKCOUNT, count);
}

void rearm(exec_context* ctx) noexcept {
  auto left = ctx->lim->max_instructions - ctx->instructions;
  auto step = std::min<uint64_t>(ctx->lim->check_interval, left);
  set_hook_count(ctx, static_cast<int>(std::max<uint64_t>(step, 1)));
}

// Remembers the script line running at stack `level` for the limit message.
void note_line(lua_State* L, exec_context* ctx, int level) noexcept {
  lua_Debug ar;
  if (ctx->trip_line < 0 && lua_getstack(L, level, &ar) != 0 &&
      lua_getinfo(L, "Sl", &ar) != 0 && ar.currentline > 0 &&
      ar.source != nullptr && ar.source[0] == '=' && ar.source[1] == 'l')
    ctx->trip_line = ar.currentline;
}

// Fires every `hook_count` instructions: counts them, checks the instruction
// and wall-time limits, and once a limit tripped raises on every instruction
// so that `pcall` cannot swallow the limit.
void count_hook(lua_State* L, lua_Debug* ar) {
  auto* ctx = context_of(L);
  if (ctx->tripped == limit_kind::none) {
    ctx->instructions += static_cast<uint64_t>(ctx->hook_count);
    if (ctx->instructions >= ctx->lim->max_instructions)
      trip(ctx, limit_kind::instructions);
    else if (clock::now() >= ctx->deadline)
      trip(ctx, limit_kind::wall_time);
    else if (lua_Debug deep;
             lua_getstack(L, static_cast<int>(ctx->lim->max_call_depth),
                          &deep) != 0)
      trip(ctx, limit_kind::call_depth);
    else {
      rearm(ctx);
      return;
    }
    if (lua_getinfo(L, "Sl", ar) != 0 && ar->currentline > 0 &&
        ar->source != nullptr && ar->source[0] == '=' && ar->source[1] == 'l')
      ctx->trip_line = ar->currentline;
    else
      note_line(L, ctx, 1);
  }
  raise_tripped(L, ctx);
}

} // namespace

const char* limit_field(limit_kind x) noexcept {
  switch (x) {
    case limit_kind::instructions:
      return "max_instructions";
    case limit_kind::memory:
      return "max_memory_bytes";
    case limit_kind::wall_time:
      return "max_wall_time";
    case limit_kind::call_depth:
      return "max_call_depth";
    default:
      return "none";
  }
}

void* counting_alloc(void* ud, void* ptr, size_t osize, size_t nsize) noexcept {
  auto* ctx = static_cast<exec_context*>(ud);
  // For a new block, `osize` encodes the object type, not a size.
  size_t old = ptr != nullptr ? osize : 0;
  if (nsize == 0) {
    std::free(ptr);
    ctx->memory_used -= old;
    return nullptr;
  }
  if (nsize > old && ctx->host_mode == 0) {
    // A stopped script gets no more memory: whatever it tries next fails.
    if (ctx->tripped != limit_kind::none)
      return nullptr;
    auto growth = nsize - old;
    if (ctx->memory_used + growth > ctx->lim->max_memory_bytes) {
      // Lua answers a refusal with an emergency collection and one retry of
      // the same request; only a refused retry means the script is over.
      if (ctx->refused_pending && ctx->refused_block == ptr &&
          ctx->refused_size == nsize) {
        trip(ctx, limit_kind::memory);
      } else {
        ctx->refused_pending = true;
        ctx->refused_block = ptr;
        ctx->refused_size = nsize;
      }
      return nullptr;
    }
    if ((++ctx->allocations & 63) == 0 || growth >= 64 * 1024) {
      if (clock::now() >= ctx->deadline) {
        trip(ctx, limit_kind::wall_time);
        return nullptr;
      }
    }
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) {
    if (nsize > old) {
      // The machine is out of memory: stop the script for good.
      trip(ctx, limit_kind::memory);
      return nullptr;
    }
    block = ptr; // Lua assumes shrinking never fails; keep the larger block.
  }
  ctx->refused_pending = false;
  ctx->memory_used = ctx->memory_used - old + nsize;
  ctx->memory_peak = std::max(ctx->memory_peak, ctx->memory_used);
  return block;
}

void arm_hook(exec_context* ctx) noexcept {
  rearm(ctx);
}

void trip(exec_context* ctx, limit_kind kind, const char* function) noexcept {
  if (ctx->tripped != limit_kind::none)
    return;
  ctx->tripped = kind;
  ctx->trip_function = function;
  if (ctx->L != nullptr)
    set_hook_count(ctx, 1);
}

void raise_tripped(lua_State* L, exec_context* ctx) {
  // The message is for a `pcall` in the script; the host reports the limit
  // from `ctx->tripped`. When this allocation fails, Lua raises its memory
  // error instead, which stops the script just as well.
  luaL_error(L, "sandbox limit exceeded: %s", limit_field(ctx->tripped));
  std::abort(); // unreachable: luaL_error does not return
}

void enter_library(lua_State* L, const char* function) {
  auto* ctx = context_of(L);
  if (ctx->tripped == limit_kind::none) {
    if (clock::now() < ctx->deadline)
      return;
    trip(ctx, limit_kind::wall_time, function);
    note_line(L, ctx, 1);
  }
  raise_tripped(L, ctx);
}

void extend_deadline(exec_context* ctx, std::chrono::milliseconds d) noexcept {
  if (d.count() <= 0)
    return;
  ctx->deadline += d;
  ctx->declared_extension += d;
}

} // namespace caflens::sandbox::detail
