#include "caflens/supervision/observer.hpp"

#include <mutex>

namespace caflens::supervision {

child_observer::~child_observer() = default;

void child_observer::child_terminated(const child_event& ev,
                                      caf::actor_id child,
                                      const caf::error& reason) {
  child_exited(ev, child, reason);
}

void child_observer::intensity_exceeded(const child_event&, const caf::error&,
                                        uint32_t, uint32_t, int64_t) {
  // nop
}

void child_observer::child_start_failed(const child_event&, const caf::error&) {
  // nop
}

namespace {

std::mutex default_observer_mtx;
std::shared_ptr<child_observer> default_observer;

} // namespace

void set_default_child_observer(std::shared_ptr<child_observer> observer) {
  std::lock_guard<std::mutex> guard{default_observer_mtx};
  default_observer = std::move(observer);
}

std::shared_ptr<child_observer> default_child_observer() {
  std::lock_guard<std::mutex> guard{default_observer_mtx};
  return default_observer;
}

} // namespace caflens::supervision
