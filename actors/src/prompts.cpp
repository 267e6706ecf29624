#include "prompts.hpp"

#include <cstdlib>

#include "caflens/actors/rule_brain.hpp"

namespace caflens::actors {

prompt_file load_prompt(std::string_view name) {
  prompt_file out;
  auto raw = detail::raw_prompt(name);
  // "# budget: N tokens ..." on the first line.
  if (raw.rfind("# budget:", 0) == 0) {
    auto eol = raw.find('\n');
    auto line = std::string{raw.substr(0, eol)};
    out.budget_tokens = std::strtoul(line.c_str() + 9, nullptr, 10);
    raw = eol == std::string_view::npos ? std::string_view{}
                                        : raw.substr(eol + 1);
  }
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == ' '))
    raw.remove_suffix(1);
  out.text = std::string{raw};
  return out;
}

std::string coordinator_prompt() {
  auto text = load_prompt("coordinator").text;
  std::string table;
  for (auto& p : known_patterns()) {
    table += "- " + p.id + " (rank " + std::to_string(p.rank) + "): ";
    for (size_t i = 0; i < p.anomaly_types.size(); ++i)
      table += (i > 0 ? ", " : "") + p.anomaly_types[i];
    auto cause = p.root_cause;
    for (auto at = cause.find("{culprits}"); at != std::string::npos;
         at = cause.find("{culprits}"))
      cause.replace(at, 10, "the culprit");
    table += ". Cause: " + cause + "\n";
  }
  if (auto at = text.find("{patterns}\n"); at != std::string::npos)
    text.replace(at, 11, table);
  return text;
}

std::string operator_protocol() {
  return "\n\n" + load_prompt("operator").text;
}

} // namespace caflens::actors
