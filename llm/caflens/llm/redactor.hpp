#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/expected.hpp"

namespace caflens::llm {

/// What to redact besides the built-in rules.
struct redaction_config {
  /// JSON keys (case-insensitive) whose values are replaced, in structured
  /// data and in JSON-looking text ("password": "...", password=...).
  std::vector<std::string> keys;
  /// ECMAScript regular expressions; every match is replaced.
  std::vector<std::string> patterns;
  /// Literal strings that are replaced wherever they occur.
  std::vector<std::string> literals;
  /// The replacement text.
  std::string replacement = "[REDACTED]";
};

/// The redaction step applied to everything sent to a provider, recorded, or
/// put into an error text. Always active, whatever the config: API keys
/// (`sk-...`, `sk-ant-...`), bearer tokens, `x-api-key`/`api_key` values and
/// the keys authorization, password, secret, token, api_key.
///
/// Immutable after construction, hence thread-safe.
class redactor {
public:
  /// Only the built-in rules.
  redactor();

  /// Built-in rules plus `cfg`. Error `invalid_config` for a bad regex
  /// (names the pattern).
  static caf::expected<redactor> make(redaction_config cfg);

  /// Returns `text` with every secret replaced; `also` is one more literal
  /// (e.g. the API key read for this call).
  std::string redact(std::string_view text, std::string_view also = {}) const;

  /// Redacts every string in `doc` in place; values under redacted keys are
  /// replaced as a whole.
  void redact(nlohmann::json& doc, std::string_view also = {}) const;

  const std::string& replacement() const noexcept { return replacement_; }

private:
  struct rule {
    std::regex re;
    std::string format; // std::regex_replace format ("$1[REDACTED]$2")
  };

  void init(const redaction_config& cfg);

  bool is_secret_key(std::string_view key) const;

  std::vector<std::string> keys_;
  std::vector<std::string> literals_;
  std::vector<rule> rules_;
  std::string replacement_ = "[REDACTED]";
};

} // namespace caflens::llm
