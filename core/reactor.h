// SPDX-License-Identifier: GPL-2.0-or-later
// Reactor: one io_uring event loop, owned by one thread (SINGLE_ISSUER | DEFER_TASKRUN).
// Every operation takes a callback that runs on the reactor's thread when its completion
// arrives; buffers passed in must stay valid until then. Other threads reach a reactor only
// through Post(). Nothing here blocks except Run()'s wait for completions.
#ifndef KENSA_CORE_REACTOR_H_
#define KENSA_CORE_REACTOR_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kensa {

struct ReactorOptions {
  int index = 0;
  int cpu = -1;                       // pin the reactor thread to this CPU; -1 = no pinning
  unsigned ring_entries = 4096;       // submission queue size
  unsigned recv_buffer_count = 4096;  // provided receive buffers shared by all sockets (power of 2)
  unsigned recv_buffer_size = 16384;  // bytes per provided buffer
  absl::Duration stall_threshold = absl::Milliseconds(20);  // a batch longer than this is logged
};

// The CQE result (>= 0, or -errno) of a one-shot operation.
using IoCallback = absl::AnyInvocable<void(int res)>;
// A multishot receive delivers data chunks; res <= 0 ends the stream (0 = EOF, -errno = error).
using RecvCallback = absl::AnyInvocable<void(int res, std::string_view data)>;
using Task = absl::AnyInvocable<void()>;

class Reactor {
 public:
  // Must be called on the thread that will Run() it: SINGLE_ISSUER binds the ring to its creator.
  static absl::StatusOr<std::unique_ptr<Reactor>> Create(const ReactorOptions& options);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  int index() const { return options_.index; }
  // The reactor running on the calling thread, or nullptr.
  static Reactor* Current();

  // Runs the loop on the calling thread until Stop(). The ring is created by Create() but
  // only this thread may submit to it afterwards (SINGLE_ISSUER).
  void Run();
  // Reactor thread only: Run() returns after the current batch.
  void Stop();
  // Any thread: runs task on the reactor thread. This is how cores and workers talk.
  void Post(Task task);
  // Reactor thread: runs task after the current batch of completions (avoids reentrancy).
  void Defer(Task task);

  // Accepts on listen_fd until cancelled, one connection at a time (re-armed as each completes,
  // so the kernel never holds more than one new descriptor per listener for the loop);
  // on_accept gets each new fd (or -errno; -ECANCELED ends it).
  // An error that ends the kernel's request (EMFILE, ENFILE, ENOMEM) pauses the accept:
  // re-arming at once would fail the same way, in a busy loop. The owner calls ResumeAccept()
  // when a descriptor may be free again.
  uint64_t Accept(int listen_fd, absl::AnyInvocable<void(int res)> on_accept);
  // Re-arms an accept paused by an error; a no-op for one that is armed, cancelled or unknown.
  void ResumeAccept(uint64_t op_id);
  // Multishot receive into the shared provided-buffer ring. The data view is valid only
  // during the callback. Returns an id for Cancel().
  uint64_t Recv(int fd, RecvCallback on_data);
  void Send(int fd, const void* buf, size_t len, IoCallback done);
  void Write(int fd, const void* buf, size_t len, uint64_t offset, IoCallback done);
  void Read(int fd, void* buf, size_t len, uint64_t offset, IoCallback done);
  void Fsync(int fd, bool datasync, IoCallback done);
  // Connects with a linked timeout: done(-ECANCELED) when `timeout` passes first.
  void Connect(int fd, const sockaddr* addr, socklen_t len, absl::Duration timeout,
               IoCallback done);
  // Cancels a Recv() or Accept(): the callback still runs (with data already in flight, then
  // once with -ECANCELED) and never after that. Unknown or finished ids are ignored.
  void Cancel(uint64_t op_id);

  using TimerId = uint64_t;
  TimerId RunAfter(absl::Duration delay, Task task);
  // The task will not run after this returns (no-op for a timer that already fired).
  void CancelTimer(TimerId id);

  uint64_t loop_iterations() const { return iterations_; }

 private:
  struct Op;
  explicit Reactor(const ReactorOptions& options);
  absl::Status Init();
  io_uring_sqe* GetSqe();
  Op* NewOp(int kind);
  void Dispatch(io_uring_cqe* cqe);
  void ArmRecv(Op* op);
  void ArmAccept(Op* op);
  void DropPausedAccepts();  // end of Run(): they are not in the kernel, nothing to reap
  void RecycleBuffer(uint16_t bid);
  void FinishMultishot(Op* op, int res);  // final callback, then the op is gone
  void DeleteOp(Op* op);
  void CancelAllAndReap();  // end of Run(): nothing may outlive the loop in the kernel
  void DrainPosted();
  void ArmWakeup();

  ReactorOptions options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
  static constexpr int kBufferGroup = 0;
  bool stopping_ = false;
  uint64_t iterations_ = 0;

  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  std::mutex posted_mu_;
  std::vector<Task> posted_;      // guarded by posted_mu_
  std::vector<Task> deferred_;    // reactor thread only

  Op* live_ops_ = nullptr;  // intrusive list of every op the kernel may still complete
  TimerId next_timer_id_ = 1;
  absl::flat_hash_map<TimerId, Op*> timers_;
  absl::flat_hash_set<Op*> live_multishot_;  // Recv/Accept ops that Cancel() may still reach
};

}  // namespace kensa

#endif  // KENSA_CORE_REACTOR_H_
