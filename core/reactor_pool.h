// SPDX-License-Identifier: GPL-2.0-or-later
// ReactorPool: one pinned thread per reactor. Each thread creates its own Reactor (the ring is
// bound to its creator), runs the caller's init on it, and reports back before any starts
// serving, so a bad listener address fails the whole start instead of one core.
#ifndef KENSA_CORE_REACTOR_POOL_H_
#define KENSA_CORE_REACTOR_POOL_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/reactor.h"

namespace kensa {

class ReactorPool {
 public:
  using InitFn = std::function<absl::Status(Reactor&)>;
  using FiniFn = std::function<void(Reactor&)>;
  // Starts `count` reactors; reactor i is pinned to CPU i when `pin` is set. `init` runs on each
  // reactor's thread before its loop starts; `fini` on the same thread after the loop ended
  // (the place to destroy what the reactor owned, once no callback can reach it).
  static absl::StatusOr<std::unique_ptr<ReactorPool>> Start(int count, const ReactorOptions& base,
                                                            bool pin, InitFn init,
                                                            FiniFn fini = nullptr);
  ~ReactorPool();  // Stop()s every reactor and joins

  int size() const { return static_cast<int>(reactors_.size()); }
  Reactor& reactor(int i) { return *reactors_[i]; }
  // Asks every reactor to stop after its current batch; Join() waits for the threads.
  void StopAll();
  void Join();

 private:
  ReactorPool() = default;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
};

// Online CPUs this process may run on.
int UsableCpuCount();

}  // namespace kensa

#endif  // KENSA_CORE_REACTOR_POOL_H_
