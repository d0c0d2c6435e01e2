// SPDX-License-Identifier: GPL-2.0-or-later
// RunOnReactor (tests only): runs `fn` on the reactor's own thread, as a connection's code
// runs, and returns when it has finished.
#ifndef KENSA_CORE_REACTOR_TEST_SUPPORT_H_
#define KENSA_CORE_REACTOR_TEST_SUPPORT_H_

#include <functional>
#include <future>

#include "core/reactor.h"

namespace kensa {

inline void RunOnReactor(Reactor& reactor, const std::function<void()>& fn) {
  std::promise<void> done;
  reactor.Post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace kensa

#endif  // KENSA_CORE_REACTOR_TEST_SUPPORT_H_
