// SPDX-License-Identifier: GPL-2.0-or-later
// The io_uring loop: one completion dispatch, typed ops, errors first, multishot requests
// re-armed when IORING_CQE_F_MORE is clear (liburing's examples/proxy.c is the model).
#include "core/reactor.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace kensa {
namespace {

thread_local Reactor* current_reactor = nullptr;

enum OpKind : int {
  kOpAccept,
  kOpRecv,
  kOpOneShot,
  kOpTimer,
  kOpWakeup,
  kOpInternal,  // cancels and timer removals: completion ignored
};

}  // namespace

struct Reactor::Op {
  int kind;
  int fd = -1;
  bool cancelled = false;
  bool paused = false;  // an accept that ended on an error and waits for ResumeAccept()
  IoCallback done;
  RecvCallback on_data;
  absl::AnyInvocable<void(int)> on_accept;
  Task timer_task;
  TimerId timer_id = 0;
  __kernel_timespec ts{};
  Op* prev = nullptr;
  Op* next = nullptr;
};

Reactor::Reactor(const ReactorOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(const ReactorOptions& options) {
  std::unique_ptr<Reactor> r(new Reactor(options));
  absl::Status s = r->Init();
  if (!s.ok()) return s;
  return r;
}

absl::Status Reactor::Init() {
  if ((options_.recv_buffer_count & (options_.recv_buffer_count - 1)) != 0 ||
      options_.recv_buffer_count == 0 || options_.recv_buffer_count > 32768) {
    return absl::InvalidArgumentError("recv_buffer_count must be a power of 2 up to 32768");
  }
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  params.flags |= IORING_SETUP_CQSIZE;
  params.cq_entries = options_.ring_entries * 4;
  int rc = io_uring_queue_init_params(options_.ring_entries, &ring_, &params);
  if (rc < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("io_uring_queue_init (SINGLE_ISSUER|DEFER_TASKRUN) failed: ", strerror(-rc),
                     "; kensa needs Linux >= 6.1 with io_uring enabled"));
  }
  ring_ready_ = true;

  // Provided-buffer ring: every socket of this reactor receives into these buffers, so an
  // idle connection costs no receive memory.
  buf_ring_bytes_ = options_.recv_buffer_count * sizeof(io_uring_buf);
  void* mapped = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) return absl::ResourceExhaustedError("mmap of buffer ring failed");
  buf_ring_ = static_cast<io_uring_buf_ring*>(mapped);
  io_uring_buf_ring_init(buf_ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = options_.recv_buffer_count;
  reg.bgid = kBufferGroup;
  rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("io_uring_register_buf_ring failed: ", strerror(-rc)));
  }
  buffers_ = static_cast<char*>(
      aligned_alloc(4096, size_t{options_.recv_buffer_count} * options_.recv_buffer_size));
  if (buffers_ == nullptr) return absl::ResourceExhaustedError("receive buffers");
  const int mask = io_uring_buf_ring_mask(options_.recv_buffer_count);
  for (unsigned i = 0; i < options_.recv_buffer_count; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{i} * options_.recv_buffer_size,
                          options_.recv_buffer_size, i, mask, i);
  }
  io_uring_buf_ring_advance(buf_ring_, options_.recv_buffer_count);

  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  return absl::OkStatus();
}

Reactor::~Reactor() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  free(buffers_);
  if (wake_fd_ >= 0) close(wake_fd_);
  while (live_ops_ != nullptr) DeleteOp(live_ops_);
}

Reactor* Reactor::Current() { return current_reactor; }

io_uring_sqe* Reactor::GetSqe() {
  // Getting an SQE never fails: a full submission queue is flushed first.
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

Reactor::Op* Reactor::NewOp(int kind) {
  Op* op = new Op;
  op->kind = kind;
  op->next = live_ops_;
  if (live_ops_ != nullptr) live_ops_->prev = op;
  live_ops_ = op;
  return op;
}

void Reactor::DeleteOp(Op* op) {
  if (op->prev != nullptr) op->prev->next = op->next;
  if (op->next != nullptr) op->next->prev = op->prev;
  if (live_ops_ == op) live_ops_ = op->next;
  delete op;
}

void Reactor::DropPausedAccepts() {
  std::vector<Op*> paused;
  for (Op* op : live_multishot_) {
    if (op->paused) paused.push_back(op);
  }
  for (Op* op : paused) {
    live_multishot_.erase(op);
    DeleteOp(op);
  }
}

void Reactor::CancelAllAndReap() {
  DropPausedAccepts();
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, 0);
  const absl::Time give_up = absl::Now() + absl::Seconds(1);
  while (live_ops_ != nullptr && absl::Now() < give_up) {
    __kernel_timespec ts{0, 50 * 1000 * 1000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    unsigned head, count = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++count;
      Op* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
      if (op == nullptr) continue;
      if (op->kind == kOpRecv && (cqe->flags & IORING_CQE_F_BUFFER)) {
        RecycleBuffer(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
      }
      if (!(cqe->flags & IORING_CQE_F_MORE)) {
        live_multishot_.erase(op);
        if (op->kind == kOpTimer) timers_.erase(op->timer_id);
        DeleteOp(op);  // callbacks are dropped, not run: the loop is over
      }
    }
    io_uring_cq_advance(&ring_, count);
  }
  while (live_ops_ != nullptr) DeleteOp(live_ops_);
  live_multishot_.clear();
  timers_.clear();
}

uint64_t Reactor::Accept(int listen_fd, absl::AnyInvocable<void(int res)> on_accept) {
  Op* op = NewOp(kOpAccept);
  op->fd = listen_fd;
  op->on_accept = std::move(on_accept);
  live_multishot_.insert(op);
  ArmAccept(op);
  return reinterpret_cast<uint64_t>(op);
}

void Reactor::ResumeAccept(uint64_t op_id) {
  Op* op = reinterpret_cast<Op*>(op_id);
  if (!live_multishot_.contains(op) || !op->paused || op->cancelled) return;
  op->paused = false;
  ArmAccept(op);
}

void Reactor::ArmAccept(Op* op) {
  // One accept in flight per listener, re-armed as each completes, not a multishot one: a
  // multishot accept makes the kernel install a descriptor for every connection waiting in the
  // backlog at once (a burst while the loop was busy), which can take the descriptors
  // RLIMIT_NOFILE keeps for the spool, the scans and the deliveries. One at a time, a client
  // the loop is about to refuse holds one descriptor for a moment, never a backlog's worth.
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_accept(sqe, op->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  io_uring_sqe_set_data(sqe, op);
}

uint64_t Reactor::Recv(int fd, RecvCallback on_data) {
  Op* op = NewOp(kOpRecv);
  op->fd = fd;
  op->on_data = std::move(on_data);
  live_multishot_.insert(op);
  ArmRecv(op);
  return reinterpret_cast<uint64_t>(op);
}

void Reactor::ArmRecv(Op* op) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv_multishot(sqe, op->fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::RecycleBuffer(uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{bid} * options_.recv_buffer_size,
                        options_.recv_buffer_size, bid,
                        io_uring_buf_ring_mask(options_.recv_buffer_count), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

void Reactor::Send(int fd, const void* buf, size_t len, IoCallback done) {
  Op* op = NewOp(kOpOneShot);
  op->done = std::move(done);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::Write(int fd, const void* buf, size_t len, uint64_t offset, IoCallback done) {
  Op* op = NewOp(kOpOneShot);
  op->done = std::move(done);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_write(sqe, fd, buf, static_cast<unsigned>(len), offset);
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::Read(int fd, void* buf, size_t len, uint64_t offset, IoCallback done) {
  Op* op = NewOp(kOpOneShot);
  op->done = std::move(done);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, fd, buf, static_cast<unsigned>(len), offset);
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::Fsync(int fd, bool datasync, IoCallback done) {
  Op* op = NewOp(kOpOneShot);
  op->done = std::move(done);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::Connect(int fd, const sockaddr* addr, socklen_t len, absl::Duration timeout,
                      IoCallback done) {
  Op* op = NewOp(kOpOneShot);
  op->done = std::move(done);
  timespec ts = absl::ToTimespec(timeout);
  op->ts.tv_sec = ts.tv_sec;
  op->ts.tv_nsec = ts.tv_nsec;
  // The two SQEs must be adjacent in the ring for the link to hold.
  if (io_uring_sq_space_left(&ring_) < 2) io_uring_submit(&ring_);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_connect(sqe, fd, addr, len);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data(sqe, op);
  io_uring_sqe* t = GetSqe();
  io_uring_prep_link_timeout(t, &op->ts, 0);
  io_uring_sqe_set_data64(t, 0);
}

void Reactor::Cancel(uint64_t op_id) {
  Op* op = reinterpret_cast<Op*>(op_id);
  if (!live_multishot_.contains(op) || op->cancelled) return;
  op->cancelled = true;
  if (op->paused) {  // nothing in the kernel to cancel: end it from the loop, as promised
    Defer([this, op] { FinishMultishot(op, -ECANCELED); });
    return;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, op_id, 0);
  io_uring_sqe_set_data64(sqe, 0);  // completion of the cancel itself is ignored
}

Reactor::TimerId Reactor::RunAfter(absl::Duration delay, Task task) {
  Op* op = NewOp(kOpTimer);
  op->timer_task = std::move(task);
  op->timer_id = next_timer_id_++;
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  timespec ts = absl::ToTimespec(delay);
  op->ts.tv_sec = ts.tv_sec;
  op->ts.tv_nsec = ts.tv_nsec;
  timers_[op->timer_id] = op;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_timeout(sqe, &op->ts, 0, 0);
  io_uring_sqe_set_data(sqe, op);
  return op->timer_id;
}

void Reactor::CancelTimer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  Op* op = it->second;
  timers_.erase(it);
  op->cancelled = true;
  op->timer_task = nullptr;
  // Remove it from the kernel too, so re-armed session timers do not pile up there.
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_timeout_remove(sqe, reinterpret_cast<uint64_t>(op), 0);
  io_uring_sqe_set_data64(sqe, 0);
}

void Reactor::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  // A full eventfd counter still wakes the reactor; nothing to do on EAGAIN.
  (void)!write(wake_fd_, &one, sizeof(one));
}

void Reactor::Defer(Task task) { deferred_.push_back(std::move(task)); }

void Reactor::ArmWakeup() {
  Op* op = NewOp(kOpWakeup);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data(sqe, op);
}

void Reactor::DrainPosted() {
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (Task& t : tasks) t();
}

void Reactor::Dispatch(io_uring_cqe* cqe) {
  Op* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
  if (op == nullptr) return;  // internal cancel / timeout-remove completion
  const int res = cqe->res;
  const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  switch (op->kind) {
    case kOpAccept:
      if (res == -ECANCELED || res == -EBADF || res == -EINVAL || (op->cancelled && !more)) {
        if (res >= 0) close(res);  // accepted while being cancelled: nobody will serve it
        if (!more) FinishMultishot(op, -ECANCELED);
        return;
      }
      if (res < 0 && !more) {
        // The request ended on an error such as EMFILE: the kernel would fail a new one at
        // once (it takes the descriptor before it looks for a connection), so the owner
        // resumes it when one may be free.
        op->paused = true;
        op->on_accept(res);
        return;
      }
      op->on_accept(res);
      if (more) return;
      if (op->cancelled) {  // the owner cancelled it from the callback: nothing to re-arm
        FinishMultishot(op, -ECANCELED);
        return;
      }
      ArmAccept(op);
      return;
    case kOpRecv: {
      if (res == -ENOBUFS) {
        // Every provided buffer is in use right now; they come back as this batch is handled.
        if (!more) {
          if (op->cancelled) {
            FinishMultishot(op, -ECANCELED);
          } else {
            Defer([this, op] {
              if (op->cancelled) {
                FinishMultishot(op, -ECANCELED);
              } else {
                ArmRecv(op);
              }
            });
          }
        }
        return;
      }
      if (res > 0) {
        uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        std::string_view data(buffers_ + size_t{bid} * options_.recv_buffer_size,
                              static_cast<size_t>(res));
        op->on_data(res, data);
        RecycleBuffer(bid);
        if (!more) {
          if (op->cancelled) {
            FinishMultishot(op, -ECANCELED);
          } else {
            ArmRecv(op);
          }
        }
        return;
      }
      if (cqe->flags & IORING_CQE_F_BUFFER) {
        RecycleBuffer(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
      }
      if (more) {  // an error that does not end the request: report it, keep going
        op->on_data(res, {});
        return;
      }
      FinishMultishot(op, res);
      return;
    }
    case kOpOneShot: {
      IoCallback done = std::move(op->done);
      DeleteOp(op);
      done(res);
      return;
    }
    case kOpTimer: {
      if (res == -ECANCELED || op->cancelled) {  // removed by CancelTimer
        DeleteOp(op);
        return;
      }
      timers_.erase(op->timer_id);
      Task task = std::move(op->timer_task);
      DeleteOp(op);
      if (task) task();
      return;
    }
    case kOpWakeup:
      DeleteOp(op);
      ArmWakeup();
      DrainPosted();
      return;
    default:
      DeleteOp(op);
      return;
  }
}

void Reactor::FinishMultishot(Op* op, int res) {
  live_multishot_.erase(op);
  if (op->kind == kOpRecv) {
    RecvCallback cb = std::move(op->on_data);
    DeleteOp(op);
    cb(res, {});
  } else {
    absl::AnyInvocable<void(int)> cb = std::move(op->on_accept);
    DeleteOp(op);
    cb(res);
  }
}

void Reactor::Stop() { stopping_ = true; }

void Reactor::Run() {
  current_reactor = this;
  if (options_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options_.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  // The ring was created on another thread; SINGLE_ISSUER binds it to the first submitter.
  ArmWakeup();
  DrainPosted();
  while (!stopping_) {
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY) {
      KLOG(kError, "reactor_wait_failed").Kv("reactor", options_.index).Kv("error", strerror(-rc));
    }
    absl::Time start = absl::Now();
    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    // Dispatch may submit new SQEs but never reaps, so iterating the CQ here is safe.
    io_uring_for_each_cqe(&ring_, head, cqe) {
      Dispatch(cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    while (!deferred_.empty()) {
      std::vector<Task> tasks;
      tasks.swap(deferred_);
      for (Task& t : tasks) t();
    }
    ++iterations_;
    absl::Duration took = absl::Now() - start;
    if (took > options_.stall_threshold) {
      KLOG(kWarning, "reactor_stall")
          .Kv("reactor", options_.index)
          .Kv("ms", absl::ToDoubleMilliseconds(took))
          .Kv("completions", static_cast<int64_t>(count));
    }
  }
  CancelAllAndReap();
  current_reactor = nullptr;
}

}  // namespace kensa
