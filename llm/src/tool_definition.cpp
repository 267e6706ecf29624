#include "caflens/llm/tool_definition.hpp"

#include <algorithm>
#include <cmath>

#include "caflens/llm/detail/error.hpp"

namespace caflens::llm {

namespace {

std::string_view kind_name(tool_parameter::kind k) {
  switch (k) {
    case tool_parameter::kind::string:
      return "string";
    case tool_parameter::kind::integer:
      return "integer";
    case tool_parameter::kind::number:
      return "number";
    case tool_parameter::kind::boolean:
      return "boolean";
    case tool_parameter::kind::array:
      return "array";
    case tool_parameter::kind::object:
      return "object";
  }
  return "unknown";
}

std::string json_kind(const nlohmann::json& x) {
  if (x.is_null())
    return "null";
  if (x.is_boolean())
    return "boolean";
  if (x.is_number_integer() || x.is_number_unsigned())
    return "integer";
  if (x.is_number())
    return "number";
  if (x.is_string())
    return "string";
  if (x.is_array())
    return "array";
  return "object";
}

std::string short_dump(const nlohmann::json& x) {
  auto str = x.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (str.size() > 60)
    str = str.substr(0, 57) + "...";
  return str;
}

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

nlohmann::json object_schema(const std::vector<tool_parameter>& fields) {
  nlohmann::json props = nlohmann::json::object();
  nlohmann::json required = nlohmann::json::array();
  for (auto& field : fields) {
    props[field.name()] = field.schema();
    if (field.required())
      required.push_back(field.name());
  }
  nlohmann::json result{{"type", "object"},
                        {"properties", std::move(props)},
                        {"additionalProperties", false}};
  if (!required.empty())
    result["required"] = std::move(required);
  return result;
}

void validate_object(const std::vector<tool_parameter>& fields,
                     const nlohmann::json& x, const std::string& prefix,
                     std::vector<std::string>& problems) {
  auto qualified = [&](const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
  };
  for (auto& field : fields) {
    auto i = x.find(field.name());
    if (i == x.end() || (i->is_null() && field.required())) {
      if (field.required())
        problems.push_back("missing required argument '" +
                           qualified(field.name()) + "'");
      continue;
    }
    if (i->is_null())
      continue; // optional and explicitly null: accepted
    field.validate(*i, qualified(field.name()), problems);
  }
  for (auto& item : x.items()) {
    // A plain reference: clang 14 cannot capture structured bindings.
    auto& key = item.key();
    auto known = std::any_of(fields.begin(), fields.end(),
                             [&](auto& f) { return f.name() == key; });
    if (!known)
      problems.push_back("unexpected argument '" + qualified(key) + "'");
  }
}

} // namespace

// -- tool_parameter -----------------------------------------------------------

tool_parameter::tool_parameter(kind k, std::string name,
                               std::string description)
  : kind_(k)
  , name_(std::move(name))
  , description_(std::move(description)) {}

tool_parameter tool_parameter::string(std::string name,
                                      std::string description) {
  return {kind::string, std::move(name), std::move(description)};
}

tool_parameter tool_parameter::integer(std::string name,
                                       std::string description) {
  return {kind::integer, std::move(name), std::move(description)};
}

tool_parameter tool_parameter::number(std::string name,
                                      std::string description) {
  return {kind::number, std::move(name), std::move(description)};
}

tool_parameter tool_parameter::boolean(std::string name,
                                       std::string description) {
  return {kind::boolean, std::move(name), std::move(description)};
}

tool_parameter tool_parameter::array(std::string name, std::string description,
                                     tool_parameter items) {
  tool_parameter result{kind::array, std::move(name), std::move(description)};
  result.children_.push_back(std::move(items));
  return result;
}

tool_parameter tool_parameter::object(std::string name, std::string description,
                                      std::vector<tool_parameter> fields) {
  tool_parameter result{kind::object, std::move(name), std::move(description)};
  result.children_ = std::move(fields);
  return result;
}

tool_parameter& tool_parameter::optional() & {
  required_ = false;
  return *this;
}

tool_parameter&& tool_parameter::optional() && {
  return std::move(optional());
}

tool_parameter& tool_parameter::one_of(std::vector<std::string> values) & {
  enum_ = std::move(values);
  return *this;
}

tool_parameter&& tool_parameter::one_of(std::vector<std::string> values) && {
  return std::move(one_of(std::move(values)));
}

tool_parameter& tool_parameter::range(std::optional<double> min,
                                      std::optional<double> max) & {
  min_ = min;
  max_ = max;
  return *this;
}

tool_parameter&& tool_parameter::range(std::optional<double> min,
                                       std::optional<double> max) && {
  return std::move(range(min, max));
}

tool_parameter& tool_parameter::min_items(size_t n) & {
  min_items_ = n;
  return *this;
}

tool_parameter&& tool_parameter::min_items(size_t n) && {
  return std::move(min_items(n));
}

tool_parameter& tool_parameter::title(std::string text) & {
  title_ = std::move(text);
  return *this;
}

tool_parameter&& tool_parameter::title(std::string text) && {
  return std::move(title(std::move(text)));
}

nlohmann::json tool_parameter::schema() const {
  nlohmann::json result;
  if (kind_ == kind::object)
    // An object parameter without declared fields is free-form (any keys).
    result = children_.empty() ? nlohmann::json{{"type", "object"}}
                               : object_schema(children_);
  else
    result["type"] = kind_name(kind_);
  if (!description_.empty())
    result["description"] = description_;
  if (!title_.empty())
    result["title"] = title_;
  if (!enum_.empty())
    result["enum"] = enum_;
  auto integral = [](double x) {
    return std::floor(x) == x && std::abs(x) < 9e15;
  };
  auto bound = [&](double x) -> nlohmann::json {
    if (integral(x))
      return static_cast<int64_t>(x);
    return x;
  };
  if (min_)
    result["minimum"] = bound(*min_);
  if (max_)
    result["maximum"] = bound(*max_);
  if (kind_ == kind::array) {
    result["items"] = children_.front().schema();
    if (min_items_)
      result["minItems"] = *min_items_;
  }
  return result;
}

void tool_parameter::validate(const nlohmann::json& x, const std::string& path,
                              std::vector<std::string>& problems) const {
  auto type_error = [&] {
    problems.push_back("argument '" + path + "' must be " +
                       std::string{kind_name(kind_)} + ", got " + json_kind(x) +
                       " " + short_dump(x));
  };
  switch (kind_) {
    case kind::string:
      if (!x.is_string())
        return type_error();
      if (!enum_.empty() && std::find(enum_.begin(), enum_.end(),
                                      x.get<std::string>()) == enum_.end()) {
        std::string allowed;
        for (auto& e : enum_)
          allowed += (allowed.empty() ? "" : ", ") + e;
        problems.push_back("argument '" + path + "' must be one of [" +
                           allowed + "], got " + short_dump(x));
      }
      return;
    case kind::integer:
      if (!x.is_number_integer() && !x.is_number_unsigned()) {
        // Models often write 10.0 for 10; accept integral floats.
        if (!x.is_number_float() ||
            std::floor(x.get<double>()) != x.get<double>())
          return type_error();
      }
      [[fallthrough]];
    case kind::number: {
      if (!x.is_number())
        return type_error();
      auto val = x.get<double>();
      if ((min_ && val < *min_) || (max_ && val > *max_))
        problems.push_back(
          "argument '" + path + "' = " + short_dump(x) + " is out of range [" +
          (min_ ? short_dump(*min_) : std::string{"-inf"}) + ", " +
          (max_ ? short_dump(*max_) : std::string{"inf"}) + "]");
      return;
    }
    case kind::boolean:
      if (!x.is_boolean())
        return type_error();
      return;
    case kind::array:
      if (!x.is_array())
        return type_error();
      if (min_items_ && x.size() < *min_items_)
        problems.push_back("argument '" + path + "' needs at least " +
                           std::to_string(*min_items_) + " item(s), got " +
                           std::to_string(x.size()));
      for (size_t i = 0; i < x.size(); ++i)
        children_.front().validate(x[i], path + "[" + std::to_string(i) + "]",
                                   problems);
      return;
    case kind::object:
      if (!x.is_object())
        return type_error();
      if (!children_.empty())
        validate_object(children_, x, path, problems);
      return;
  }
}

// -- tool_definition ----------------------------------------------------------

tool_definition::tool_definition(std::string name, std::string description,
                                 std::vector<tool_parameter> parameters)
  : name_(std::move(name))
  , description_(std::move(description))
  , parameters_(std::move(parameters)) {}

nlohmann::json tool_definition::input_schema() const {
  return object_schema(parameters_);
}

std::string tool_definition::problems(const nlohmann::json& arguments) const {
  std::vector<std::string> found;
  if (!arguments.is_object())
    found.push_back("arguments must be a JSON object, got " +
                    json_kind(arguments));
  else
    validate_object(parameters_, arguments, "", found);
  std::string result;
  for (auto& p : found)
    result += (result.empty() ? "" : "; ") + p;
  return result;
}

caf::error tool_definition::validate(const nlohmann::json& arguments) const {
  auto text = problems(arguments);
  if (text.empty())
    return caf::none;
  return detail::llm_error(llm_errc::invalid_argument, name_ + ": " + text);
}

// -- tool_set -----------------------------------------------------------------

tool_set::tool_set(std::initializer_list<tool_definition> tools) {
  for (auto& tool : tools)
    add(tool);
}

caf::error tool_set::add(tool_definition tool) {
  if (!valid_tool_name(tool.name()))
    return detail::llm_error(llm_errc::invalid_argument,
                             "tool name '" + tool.name() +
                               "' must match ^[a-zA-Z0-9_-]{1,64}$");
  if (find(tool.name()) != nullptr)
    return detail::llm_error(llm_errc::invalid_argument,
                             "tool '" + tool.name() + "' declared twice");
  tools_.push_back(std::move(tool));
  return caf::none;
}

const tool_definition* tool_set::find(std::string_view name) const noexcept {
  for (auto& tool : tools_)
    if (tool.name() == name)
      return &tool;
  return nullptr;
}

tool_set tool_set::only(const std::vector<std::string>& names) const {
  tool_set result;
  for (auto& tool : tools_)
    if (std::find(names.begin(), names.end(), tool.name()) != names.end())
      result.tools_.push_back(tool);
  return result;
}

std::string tool_set::names() const {
  std::string result;
  for (auto& tool : tools_)
    result += (result.empty() ? "" : ", ") + tool.name();
  return result;
}

} // namespace caflens::llm
