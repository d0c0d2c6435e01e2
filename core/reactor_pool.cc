// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/reactor_pool.h"

#include <sched.h>

#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/arena_zeroing.h"

namespace kensa {

int UsableCpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

absl::StatusOr<std::unique_ptr<ReactorPool>> ReactorPool::Start(int count,
                                                                const ReactorOptions& base,
                                                                bool pin, InitFn init,
                                                                FiniFn fini) {
  std::unique_ptr<ReactorPool> pool(new ReactorPool);
  pool->reactors_.resize(count);

  // Shared with the threads: they may still be waking from the barrier after Start returns.
  struct Barrier {
    std::mutex mu;
    std::condition_variable cv;
    int ready = 0;
    bool go = false;
    absl::Status first_error;
  };
  auto barrier = std::make_shared<Barrier>();

  for (int i = 0; i < count; ++i) {
    pool->threads_.emplace_back([barrier, base, pin, init, fini, i, p = pool.get()] {
      Barrier& b = *barrier;
      (void)MoveThisThreadOffArenaZero();  // a failure costs slower callocs, nothing more
      ReactorOptions opts = base;
      opts.index = i;
      opts.cpu = pin ? i % UsableCpuCount() : -1;
      absl::StatusOr<std::unique_ptr<Reactor>> r = Reactor::Create(opts);
      absl::Status s = r.ok() ? absl::OkStatus() : r.status();
      if (s.ok()) {
        p->reactors_[i] = std::move(*r);
        s = init(*p->reactors_[i]);
      }
      bool run = false;
      {
        std::unique_lock<std::mutex> lock(b.mu);
        if (!s.ok() && b.first_error.ok()) {
          b.first_error = absl::Status(s.code(), absl::StrCat("reactor ", i, ": ", s.message()));
        }
        ++b.ready;
        b.cv.notify_all();
        b.cv.wait(lock, [&] { return b.go; });
        run = b.first_error.ok();
      }
      if (run) p->reactors_[i]->Run();
      if (fini && p->reactors_[i] != nullptr) fini(*p->reactors_[i]);
    });
  }
  absl::Status first_error;
  {
    std::unique_lock<std::mutex> lock(barrier->mu);
    barrier->cv.wait(lock, [&] { return barrier->ready == count; });
    barrier->go = true;
    first_error = barrier->first_error;
    barrier->cv.notify_all();
  }
  if (!first_error.ok()) {
    for (auto& t : pool->threads_) t.join();
    pool->threads_.clear();
    return first_error;
  }
  return pool;
}

void ReactorPool::StopAll() {
  for (auto& r : reactors_) {
    Reactor* rp = r.get();
    rp->Post([rp] { rp->Stop(); });
  }
}

void ReactorPool::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

ReactorPool::~ReactorPool() {
  if (!threads_.empty()) {
    StopAll();
    Join();
  }
}

}  // namespace kensa
