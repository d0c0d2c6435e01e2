// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/worker.h"

#include <pthread.h>

#include "core/arena_zeroing.h"

namespace kensa {

Worker::Worker(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::Submit(absl::AnyInvocable<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

size_t Worker::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void Worker::Loop() {
  // A failure only leaves the thread on arena 0, whose callocs are zeroed the slower way.
  (void)MoveThisThreadOffArenaZero();
  for (;;) {
    absl::AnyInvocable<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace kensa
