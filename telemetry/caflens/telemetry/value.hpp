#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace caflens::telemetry {

namespace detail {

/// `a == b`, inline for the short keys of measurements and metadata (a
/// libc `memcmp` call costs more than the comparison).
[[gnu::always_inline]] inline bool same_text(std::string_view a,
                                             std::string_view b) noexcept {
  auto n = a.size();
  if (n != b.size())
    return false;
  auto* p = a.data();
  auto* q = b.data();
  if (n > 16)
    return std::memcmp(p, q, n) == 0;
  if (n >= 8) { // two overlapping words
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, p, 8);
    std::memcpy(&b0, q, 8);
    std::memcpy(&a1, p + n - 8, 8);
    std::memcpy(&b1, q + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4) {
    uint32_t a0, a1, b0, b1;
    std::memcpy(&a0, p, 4);
    std::memcpy(&b0, q, 4);
    std::memcpy(&a1, p + n - 4, 4);
    std::memcpy(&b1, q + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  for (size_t i = 0; i < n; ++i)
    if (p[i] != q[i])
      return false;
  return true;
}

} // namespace detail

/// A metadata value: null, bool, integer, float, string or a JSON document.
/// Non-owning like `std::string_view`: strings and JSON documents must outlive
/// the value, which holds for arguments of `execute` during the call. Handlers
/// that keep metadata copy it with `to_json()`. Trivially copyable.
class value {
public:
  enum class kind : uint8_t {
    null,
    boolean,
    integer,
    unsigned_integer,
    floating,
    string,
    json
  };

  constexpr value() noexcept : kind_(kind::null), int_(0) {
  }

  constexpr value(std::nullptr_t) noexcept : value() {
  }

  constexpr value(bool x) noexcept : kind_(kind::boolean), bool_(x) {
  }

  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>
             && !std::is_same_v<T, char>)
  constexpr value(T x) noexcept {
    if constexpr (std::is_signed_v<T>) {
      kind_ = kind::integer;
      int_ = static_cast<int64_t>(x);
    } else {
      kind_ = kind::unsigned_integer;
      uint_ = static_cast<uint64_t>(x);
    }
  }

  constexpr value(double x) noexcept : kind_(kind::floating), double_(x) {
  }

  constexpr value(float x) noexcept : value(static_cast<double>(x)) {
  }

  constexpr value(std::string_view x) noexcept
    : kind_(kind::string), str_{x.data(), x.size()} {
  }

  constexpr value(const char* x) noexcept : value(std::string_view{x}) {
  }

  value(const std::string& x) noexcept : value(std::string_view{x}) {
  }

  value(const nlohmann::json& x) noexcept : kind_(kind::json), json_(&x) {
  }

  constexpr kind type() const noexcept {
    return kind_;
  }

  constexpr bool is_null() const noexcept {
    return kind_ == kind::null;
  }

  constexpr bool is_number() const noexcept {
    return kind_ == kind::integer || kind_ == kind::unsigned_integer
           || kind_ == kind::floating;
  }

  /// The boolean, or `false` for other kinds.
  constexpr bool as_bool() const noexcept {
    return kind_ == kind::boolean && bool_;
  }

  /// Numbers converted to int64; `nullopt` for non-numbers.
  std::optional<int64_t> as_int() const noexcept;

  /// Numbers converted to double; `nullopt` for non-numbers.
  std::optional<double> as_double() const noexcept;

  /// The string; empty for other kinds.
  constexpr std::string_view as_string() const noexcept {
    return kind_ == kind::string ? std::string_view{str_.data, str_.size}
                                 : std::string_view{};
  }

  /// The JSON document, or nullptr for other kinds.
  const nlohmann::json* as_json() const noexcept {
    return kind_ == kind::json ? json_ : nullptr;
  }

  /// Deep copy as JSON.
  nlohmann::json to_json() const;

  /// Text form: strings verbatim, numbers and bools as in JSON, JSON dumped.
  std::string to_string() const;

private:
  struct str_view {
    const char* data;
    size_t size;
  };

  kind kind_;
  union {
    bool bool_;
    int64_t int_;
    uint64_t uint_;
    double double_;
    str_view str_;
    const nlohmann::json* json_;
  };
};

/// One measurement: name → number.
struct measurement {
  std::string_view key;
  double value;
};

/// One metadata entry: name → value.
struct meta_entry {
  std::string_view key;
  telemetry::value value;
};

#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif

/// A read-only view of measurements (like `std::span`). Valid as long as the
/// storage it was made from; `execute` arguments live for the whole call.
class measurements {
public:
  constexpr measurements() noexcept = default;

  constexpr measurements(std::initializer_list<measurement> xs) noexcept
    : data_(xs.begin()), size_(xs.size()) {
  }

  measurements(const std::vector<measurement>& xs) noexcept
    : data_(xs.data()), size_(xs.size()) {
  }

  constexpr measurements(const measurement* data, size_t size) noexcept
    : data_(data), size_(size) {
  }

  constexpr const measurement* begin() const noexcept {
    return data_;
  }

  constexpr const measurement* end() const noexcept {
    return data_ + size_;
  }

  constexpr size_t size() const noexcept {
    return size_;
  }

  constexpr bool empty() const noexcept {
    return size_ == 0;
  }

  /// The value of the first measurement named `key`.
  std::optional<double> find(std::string_view key) const noexcept {
    for (auto& x : *this)
      if (detail::same_text(x.key, key))
        return x.value;
    return std::nullopt;
  }

  nlohmann::json to_json() const;

private:
  const measurement* data_ = nullptr;
  size_t size_ = 0;
};

/// A read-only view of metadata entries; see `measurements`.
class metadata {
public:
  constexpr metadata() noexcept = default;

  constexpr metadata(std::initializer_list<meta_entry> xs) noexcept
    : data_(xs.begin()), size_(xs.size()) {
  }

  metadata(const std::vector<meta_entry>& xs) noexcept
    : data_(xs.data()), size_(xs.size()) {
  }

  constexpr metadata(const meta_entry* data, size_t size) noexcept
    : data_(data), size_(size) {
  }

  constexpr const meta_entry* begin() const noexcept {
    return data_;
  }

  constexpr const meta_entry* end() const noexcept {
    return data_ + size_;
  }

  constexpr size_t size() const noexcept {
    return size_;
  }

  constexpr bool empty() const noexcept {
    return size_ == 0;
  }

  /// The first entry named `key`, or nullptr.
  const value* find(std::string_view key) const noexcept {
    for (auto& x : *this)
      if (detail::same_text(x.key, key))
        return &x.value;
    return nullptr;
  }

  /// All entries as one JSON object (deep copy).
  nlohmann::json to_json() const;

private:
  const meta_entry* data_ = nullptr;
  size_t size_ = 0;
};

#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic pop
#endif

} // namespace caflens::telemetry
