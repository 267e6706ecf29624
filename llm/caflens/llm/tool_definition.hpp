#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/error.hpp"

namespace caflens::llm {

/// One parameter of a tool (or a nested field/item). The same object
/// generates the JSON Schema sent to providers and validates what a model
/// sends back, so schema and checks cannot drift apart. A value type.
class tool_parameter {
public:
  enum class kind : uint8_t { string, integer, number, boolean, array, object };

  // -- factories (parameters are required unless `optional()` is called) ------

  static tool_parameter string(std::string name, std::string description);
  static tool_parameter integer(std::string name, std::string description);
  static tool_parameter number(std::string name, std::string description);
  static tool_parameter boolean(std::string name, std::string description);
  static tool_parameter array(std::string name, std::string description,
                              tool_parameter items);
  /// An object with the given fields (no others allowed); without fields,
  /// a free-form object (any keys and values).
  static tool_parameter object(std::string name, std::string description,
                               std::vector<tool_parameter> fields);

  // -- builder ----------------------------------------------------------------

  /// Marks the parameter as optional.
  tool_parameter& optional() &;
  tool_parameter&& optional() &&;

  /// Restricts a string to the given values (`enum`).
  tool_parameter& one_of(std::vector<std::string> values) &;
  tool_parameter&& one_of(std::vector<std::string> values) &&;

  /// Inclusive bounds for integers and numbers.
  tool_parameter& range(std::optional<double> min, std::optional<double> max) &;
  tool_parameter&& range(std::optional<double> min,
                         std::optional<double> max) &&;

  /// Minimum number of items of an array.
  tool_parameter& min_items(size_t n) &;
  tool_parameter&& min_items(size_t n) &&;

  /// Adds a JSON Schema `title`.
  tool_parameter& title(std::string text) &;
  tool_parameter&& title(std::string text) &&;

  // -- properties -------------------------------------------------------------

  const std::string& name() const noexcept { return name_; }

  bool required() const noexcept { return required_; }

  kind type() const noexcept { return kind_; }

  /// The JSON Schema of this parameter.
  nlohmann::json schema() const;

  /// Appends a problem description for each violation of `x` to `problems`;
  /// `path` names the value in the texts (e.g. "units", "items[2].name").
  void validate(const nlohmann::json& x, const std::string& path,
                std::vector<std::string>& problems) const;

private:
  tool_parameter(kind k, std::string name, std::string description);

  kind kind_;
  std::string name_;
  std::string description_;
  std::string title_;
  bool required_ = true;
  std::vector<std::string> enum_;
  std::optional<double> min_;
  std::optional<double> max_;
  std::optional<size_t> min_items_;
  std::vector<tool_parameter> children_; // array: one item; object: fields
};

/// A tool the model may call: name, description and parameters. The one
/// definition generates the JSON Schema (`input_schema`) and validates
/// arguments. A value type.
class tool_definition {
public:
  tool_definition() = default;

  tool_definition(std::string name, std::string description,
                  std::vector<tool_parameter> parameters = {});

  const std::string& name() const noexcept { return name_; }

  const std::string& description() const noexcept { return description_; }

  const std::vector<tool_parameter>& parameters() const noexcept {
    return parameters_;
  }

  /// The JSON Schema of the arguments object (`type: object`, properties,
  /// required, `additionalProperties: false`).
  nlohmann::json input_schema() const;

  /// Checks `arguments` against the schema. Returns `invalid_argument` with a
  /// text listing every problem ("get_weather: missing required argument
  /// 'location'; ...").
  caf::error validate(const nlohmann::json& arguments) const;

  /// As `validate`, but returns the problem text (empty when valid).
  std::string problems(const nlohmann::json& arguments) const;

private:
  std::string name_;
  std::string description_;
  std::vector<tool_parameter> parameters_;
};

/// The tools offered to a model, in declaration order, unique by name. A
/// value type.
class tool_set {
public:
  tool_set() = default;

  tool_set(std::initializer_list<tool_definition> tools);

  /// Adds a tool. Errors: `invalid_argument` for a duplicate or a name that
  /// does not match `^[a-zA-Z0-9_-]{1,64}$`.
  caf::error add(tool_definition tool);

  /// The tool named `name`, or nullptr.
  const tool_definition* find(std::string_view name) const noexcept;

  /// The subset of tools whose names are in `names` (unknown names ignored).
  tool_set only(const std::vector<std::string>& names) const;

  /// The declared names, comma-separated ("get_weather, get_time").
  std::string names() const;

  const std::vector<tool_definition>& tools() const noexcept { return tools_; }

  bool empty() const noexcept { return tools_.empty(); }

  size_t size() const noexcept { return tools_.size(); }

private:
  std::vector<tool_definition> tools_;
};

} // namespace caflens::llm
