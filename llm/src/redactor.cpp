#include "caflens/llm/redactor.hpp"

#include <algorithm>
#include <cctype>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

namespace {

// Never destroyed (see telemetry's catalogue.cpp).
const std::vector<std::string>& builtin_keys() {
  static const auto& xs = *new std::vector<std::string>{
    "authorization", "password",     "passwd",       "secret",
    "token",         "api_key",      "apikey",       "api-key",
    "x-api-key",     "access_token", "client_secret"};
  return xs;
}

std::string lower(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string regex_escape(std::string_view x) {
  static const auto& special = *new std::string(R"(\^$.|?*+()[]{}-/)");
  std::string result;
  for (auto c : x) {
    if (special.find(c) != std::string::npos)
      result += '\\';
    result += c;
  }
  return result;
}

void replace_all(std::string& text, std::string_view what,
                 std::string_view with) {
  if (what.empty())
    return;
  size_t pos = 0;
  while ((pos = text.find(what, pos)) != std::string::npos) {
    text.replace(pos, what.size(), with);
    pos += with.size();
  }
}

} // namespace

redactor::redactor() {
  init({});
}

caf::expected<redactor> redactor::make(redaction_config cfg) {
  redactor result;
  result.rules_.clear();
  try {
    result.init(cfg);
  } catch (const std::regex_error& ex) {
    return detail::llm_error(llm_errc::invalid_config,
                             "redaction pattern is not a valid regex: " +
                               std::string{ex.what()});
  }
  for (auto& pattern : cfg.patterns) {
    try {
      result.rules_.push_back({std::regex{pattern}, result.replacement_});
    } catch (const std::regex_error& ex) {
      return detail::llm_error(llm_errc::invalid_config,
                               "redaction pattern '" + pattern +
                                 "' is not a valid regex: " + ex.what());
    }
  }
  return result;
}

void redactor::init(const redaction_config& cfg) {
  replacement_ = cfg.replacement.empty() ? "[REDACTED]" : cfg.replacement;
  keys_ = builtin_keys();
  for (auto& key : cfg.keys)
    keys_.push_back(lower(key));
  literals_ = cfg.literals;
  literals_.erase(std::remove_if(literals_.begin(), literals_.end(),
                                 [](auto& x) { return x.size() < 4; }),
                  literals_.end());
  // Longer literals first so that a secret containing another is replaced
  // whole.
  std::sort(literals_.begin(), literals_.end(),
            [](auto& x, auto& y) { return x.size() > y.size(); });
  auto icase = std::regex::ECMAScript | std::regex::icase;
  std::string key_alt;
  for (auto& key : keys_)
    key_alt += (key_alt.empty() ? "" : "|") + regex_escape(key);
  auto& r = replacement_;
  rules_.clear();
  // Anthropic and OpenAI style keys, as whole words: "sk-" inside a name
  // ("task-scheduler-worker-01") is no key.
  rules_.push_back(
    {std::regex{R"((^|[^A-Za-z0-9_\-])sk-ant-[A-Za-z0-9_\-]{8,})"}, "$1" + r});
  rules_.push_back(
    {std::regex{R"((^|[^A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{16,})"}, "$1" + r});
  // Bearer tokens.
  rules_.push_back(
    {std::regex{R"((bearer\s+)[A-Za-z0-9._~+/=\-]{6,})", icase}, "$1" + r});
  // "key": "value" in JSON-looking text (also escaped inside JSON strings).
  rules_.push_back({std::regex{R"((\\?"(?:)" + key_alt +
                                 R"()\\?"\s*:\s*\\?")(?:[^"\\]|\\[^"])*(\\?"))",
                               icase},
                    "$1" + r + "$2"});
  // key=value / key: value in plain text.
  rules_.push_back({std::regex{R"(((?:^|[^A-Za-z0-9_\-"])(?:)" + key_alt +
                                 R"()\s*[=:]\s*)[^\s"',;&}]+)",
                               icase},
                    "$1" + r});
}

bool redactor::is_secret_key(std::string_view key) const {
  auto k = lower(key);
  return std::find(keys_.begin(), keys_.end(), k) != keys_.end();
}

std::string redactor::redact(std::string_view text,
                             std::string_view also) const {
  std::string result{text};
  if (also.size() >= 4)
    replace_all(result, also, replacement_);
  for (auto& lit : literals_)
    replace_all(result, lit, replacement_);
  for (auto& rule : rules_)
    result = std::regex_replace(result, rule.re, rule.format);
  return result;
}

void redactor::redact(nlohmann::json& doc, std::string_view also) const {
  if (doc.is_string()) {
    doc = redact(doc.get_ref<const std::string&>(), also);
  } else if (doc.is_object()) {
    for (auto& [key, val] : doc.items()) {
      if (is_secret_key(key) && (val.is_string() || val.is_number()))
        val = replacement_;
      else
        redact(val, also);
    }
  } else if (doc.is_array()) {
    for (auto& val : doc)
      redact(val, also);
  }
}

} // namespace caflens::llm
