// Forward declarations of the supervision component.
#pragma once

#include <cstdint>

namespace caflens::supervision {

// -- enums and specs ----------------------------------------------------------

enum class strategy : uint8_t;
enum class restart_type : uint8_t;
enum class child_type : uint8_t;
enum class auto_shutdown : uint8_t;
enum class supervision_errc : uint8_t;
enum class child_status : uint8_t;

struct shutdown_policy;
struct child_spec;
struct supervisor_flags;
class start_result;
class child_observer;
struct child_event;

// -- requests and replies (messages.hpp) --------------------------------------

struct start_child;
struct start_dynamic_child;
struct terminate_child;
struct restart_child;
struct delete_child;
struct which_children;
struct count_children;
struct get_childspec;
struct get_tree;
struct subscribe;
struct unsubscribe;
struct child_info;
struct child_counts;

// -- reports (reports.hpp) ----------------------------------------------------

struct supervisor_started;
struct child_started;
struct child_ignored;
struct child_start_error;
struct child_exited;
struct child_restarted;
struct child_terminated;
struct intensity_exceeded;
struct auto_shutdown_triggered;
struct supervisor_stopped;

} // namespace caflens::supervision
