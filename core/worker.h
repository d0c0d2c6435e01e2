// SPDX-License-Identifier: GPL-2.0-or-later
// Worker: a thread that runs blocking jobs for one reactor (Maildir writes, reading queue files,
// later the libclamav scans) so the reactor never blocks. A job reports back by posting to its
// reactor; the queue is bounded by whoever submits (sessions wait for their own job).
#ifndef KENSA_CORE_WORKER_H_
#define KENSA_CORE_WORKER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"

namespace kensa {

class Worker {
 public:
  explicit Worker(std::string name);
  ~Worker();  // finishes queued jobs, then joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Submit(absl::AnyInvocable<void()> job);  // any thread
  size_t queued() const;

 private:
  void Loop();
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::AnyInvocable<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kensa

#endif  // KENSA_CORE_WORKER_H_
