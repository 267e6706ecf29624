#pragma once

#include <cstdint>

namespace caflens::sandbox {

enum class sandbox_errc : uint8_t;

class sandbox;

struct callback;
struct execute_result;
struct limits;

} // namespace caflens::sandbox
