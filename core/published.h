// SPDX-License-Identifier: GPL-2.0-or-later
// Published<T>: the current version of something every thread reads and one thread replaces
// as a whole (a signature set, a generation of live settings). A reader takes a shared_ptr and
// keeps what it took for as long as it uses it; the version replaced goes when its last reader
// lets go, never under one.
#ifndef KENSA_CORE_PUBLISHED_H_
#define KENSA_CORE_PUBLISHED_H_

#include <atomic>
#include <memory>

namespace kensa {

template <typename T>
class Published {
 public:
  std::shared_ptr<const T> Current() const { return current_.load(); }
  void Publish(std::shared_ptr<const T> next) { current_.store(std::move(next)); }

 private:
  std::atomic<std::shared_ptr<const T>> current_;
};

}  // namespace kensa

#endif  // KENSA_CORE_PUBLISHED_H_
