// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/spool_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kensa::spool {
namespace {

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::shared_ptr<SpoolWriter>> SpoolWriter::Create(Reactor* reactor,
                                                                 DirSyncer* syncer,
                                                                 const spool::SpoolShard& shard,
                                                                 const spool::QueueEnvelope& env) {
  std::shared_ptr<SpoolWriter> w(new SpoolWriter(reactor, syncer, env));
  w->path_ = shard.PathFor(env.queue_id);
  w->dir_fd_ = shard.dir_fd();
  // A plain openat: creating one file is a short metadata operation, and the fd is needed
  // before the first io_uring write can be queued.
  w->created_epoch_ = syncer->epoch();
  w->fd_ = openat(w->dir_fd_, env.queue_id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w->fd_ < 0) return ErrnoStatus(errno, absl::StrCat("create ", w->path_));
  w->pending_ = w->writer_.TakeHeader();
  return w;
}

SpoolWriter::~SpoolWriter() { CloseFile(); }

void SpoolWriter::CloseFile() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

SpoolWriter::Done SpoolWriter::TakeDone() {
  // The callback may hold a reference to this writer: moved out, it dies after the call
  // instead of keeping the writer (and its file descriptor) alive forever.
  Done d = std::move(done_);
  done_ = nullptr;
  return d;
}

void SpoolWriter::Append(std::string_view content) {
  if (aborted_ || !error_.ok()) return;
  pending_ += writer_.ContentRecord(content);
  if (pending_.size() >= kWriteChunk) Flush();
}

void SpoolWriter::Flush() {
  if (pending_.empty()) return;
  auto buf = std::make_shared<std::string>();
  buf->swap(pending_);
  uint64_t offset = next_offset_;
  next_offset_ += buf->size();
  in_flight_bytes_ += buf->size();
  IssueWrite(std::move(buf), 0, offset);
}

void SpoolWriter::IssueWrite(std::shared_ptr<std::string> buf, size_t offset_in_buf,
                             uint64_t file_offset) {
  ++writes_in_flight_;
  const char* data = buf->data() + offset_in_buf;
  size_t len = buf->size() - offset_in_buf;
  reactor_->Write(fd_, data, len, file_offset,
                  [self = shared_from_this(), buf, offset_in_buf, file_offset, len](int res) {
                    --self->writes_in_flight_;
                    if (res < 0) {
                      self->in_flight_bytes_ -= len;
                      self->Fail(ErrnoStatus(-res, absl::StrCat("write ", self->path_)));
                    } else if (res == 0) {
                      self->in_flight_bytes_ -= len;
                      self->Fail(ErrnoStatus(ENOSPC, absl::StrCat("write ", self->path_)));
                    } else if (static_cast<size_t>(res) < len) {
                      self->in_flight_bytes_ -= res;
                      self->IssueWrite(buf, offset_in_buf + res, file_offset + res);
                      self->MaybeWake();
                      return;
                    } else {
                      self->in_flight_bytes_ -= len;
                    }
                    self->MaybeWake();
                    self->MaybeFinishCommit();
                  });
}

void SpoolWriter::WakeWhenAtMost(size_t bound, absl::AnyInvocable<void()> wake) {
  wake_bound_ = bound;
  wake_ = std::move(wake);
}

void SpoolWriter::MaybeWake() {
  if (!wake_ || in_flight_bytes_ > wake_bound_) return;
  // Moved out first: the callback may register again.
  absl::AnyInvocable<void()> wake = std::move(wake_);
  wake_ = nullptr;
  wake();
}

void SpoolWriter::Fail(absl::Status s) {
  if (error_.ok()) error_ = std::move(s);
}

void SpoolWriter::SetScanOutcome(const spool::ScanOutcome& outcome) {
  if (aborted_ || !error_.ok() || committing_) return;
  pending_ += writer_.ScanRecord(outcome);
}

void SpoolWriter::Commit(Done done) {
  done_ = std::move(done);
  committing_ = true;
  if (error_.ok()) {
    pending_ += writer_.EndRecord();
    Flush();
  }
  MaybeFinishCommit();
}

void SpoolWriter::MaybeFinishCommit() {
  if (!committing_ || syncing_ || writes_in_flight_ > 0 || aborted_) return;
  if (!error_.ok()) {
    Abort();
    if (done_) TakeDone()(error_);
    return;
  }
  syncing_ = true;
  // Every write has completed. The file's data and its directory entry are made durable by two
  // fsyncs issued together rather than one after the other: the order between them does not
  // matter, because a name whose data did not reach the disk has no END record and is
  // discarded at recovery, and no 250 is sent before both have finished.
  syncs_pending_ = 2;
  reactor_->Fsync(fd_, true, [self = shared_from_this()](int res) {
    if (res < 0) self->Fail(ErrnoStatus(-res, absl::StrCat("fdatasync ", self->path_)));
    self->OnSyncDone();
  });
  syncer_->SyncAfter(created_epoch_, [self = shared_from_this()](absl::Status s) {
    if (!s.ok()) self->Fail(s);
    self->OnSyncDone();
  });
}

void SpoolWriter::OnSyncDone() {
  if (--syncs_pending_ > 0) return;
  if (!error_.ok()) Abort();
  // On OK the file is complete and durable: from here on it is the delivery agent's.
  CloseFile();
  absl::Status s = error_;
  TakeDone()(s);
}

void SpoolWriter::Abort() {
  if (aborted_) return;
  aborted_ = true;
  pending_.clear();
  // Writes still in flight finish into an unlinked inode; nothing can resurrect the name.
  unlinkat(dir_fd_, env_.queue_id.c_str(), 0);
}

}  // namespace kensa::spool
