// The reviewed prompt texts (actors/prompts/*.txt, embedded at build time).
#pragma once

#include <string>
#include <string_view>

namespace caflens::actors {

namespace detail {

/// The file's text as written, budget line included; empty when unknown.
std::string_view raw_prompt(std::string_view name);

} // namespace detail

/// One prompt file: its text and the token budget its first line declares
/// ("# budget: N tokens"), which tests hold it to.
struct prompt_file {
  std::string text;
  size_t budget_tokens = 0;
};

/// The prompt `name` ("coordinator", "operator") without its budget line.
prompt_file load_prompt(std::string_view name);

/// The coordinator's system prompt with the failure-pattern table of every
/// registered skill filled in.
std::string coordinator_prompt();

/// The protocol appended to each skill's own system prompt.
std::string operator_protocol();

} // namespace caflens::actors
