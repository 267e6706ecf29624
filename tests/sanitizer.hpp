// Whether a test binary runs under ThreadSanitizer (scripts/tsan.sh). TSan
// slows every memory access several times over: a loaded application (the
// demo pipeline, a node with a backlog) then backs up wherever it slows
// most, not only at the injected fault. Suites that judge the diagnosis of
// such an application check under TSan that it runs, is looked at and gives
// findings, and leave which actor they name unjudged (a TSan report still
// fails them). ASan's slowdown leaves those diagnoses intact.
#pragma once

namespace caflens::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
inline constexpr bool under_tsan = true;
#  else
inline constexpr bool under_tsan = false;
#  endif
#else
inline constexpr bool under_tsan = false;
#endif

} // namespace caflens::test
