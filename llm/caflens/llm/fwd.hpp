// Forward declarations for the llm component.
#pragma once

#include <cstdint>

namespace caflens::llm {

enum class llm_errc : uint8_t;
enum class role : uint8_t;
enum class provider_kind : uint8_t;
enum class compaction_strategy : uint8_t;

struct tool_call;
struct message;
struct usage;
struct completion_request;
struct completion;
struct client_config;
struct client_services;
struct http_request;
struct http_response;
struct retry_policy;
struct circuit_breaker_config;
struct compaction_policy;
struct compaction_result;
struct budget_limits;
struct exchange;

class tool_parameter;
class tool_definition;
class tool_set;
class conversation;
class budget;
class redactor;
class clock;
class manual_clock;
class circuit_breaker;
class http_transport;
class wire_format;
class client;
class client_registry;
class brain;
class llm_brain;
class scripted_brain;
class recording;

} // namespace caflens::llm
