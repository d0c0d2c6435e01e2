// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/off_path_release.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/arena_zeroing.h"
#include "core/background_priority.h"

namespace kensa::core {
namespace {

// Constant-initialised and trivially destructible: still readable after the releaser below
// was destroyed at exit.
std::atomic<bool> releaser_gone{false};

class Releaser {
 public:
  Releaser() : thread_([this] { Run(); }) {}
  ~Releaser() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();  // after what was queued has run
    releaser_gone.store(true);
  }

  void Add(std::function<void()> release) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(release));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "kensa-release");
    (void)MoveThisThreadOffArenaZero();  // a failure costs slower callocs, nothing more
    LowerThisThreadForBackgroundWork();   // freeing a set must not slow the data path either
    for (;;) {
      std::function<void()> next;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      next();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

void ReleaseOffThePath(std::function<void()> release) {
  if (releaser_gone.load()) {
    release();
    return;
  }
  static Releaser releaser;
  releaser.Add(std::move(release));
}

}  // namespace kensa::core
