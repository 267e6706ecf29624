// One object per key for the whole process, alive while someone holds it
// (the breakers and call gates of provider endpoints).
#pragma once

#include <map>
#include <memory>
#include <mutex>

namespace caflens::llm::detail {

/// The live `T` under `key`, or a new one from `make()` (expired entries are
/// dropped on the way). Thread-safe; one registry per `T` and `Key`.
template <class T, class Key, class Make>
std::shared_ptr<T> shared_by_key(const Key& key, Make make) {
  static std::mutex mtx;
  static std::map<Key, std::weak_ptr<T>> xs;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto x = xs[key].lock())
    return x;
  for (auto i = xs.begin(); i != xs.end();)
    i = i->second.expired() ? xs.erase(i) : std::next(i);
  std::shared_ptr<T> x = make();
  xs[key] = x;
  return x;
}

} // namespace caflens::llm::detail
