// SPDX-License-Identifier: GPL-2.0-or-later
// SpoolWriter: one message's queue file, written with io_uring while the message arrives.
// Commit() is the durability protocol behind every "250 queued": END record written, all
// writes completed, then (issued together) fdatasync of the file and an fsync of the shard
// directory that started after the file was created (group commit). Only then does `done` get
// OK; any failure is an error status and the file is removed (the client gets a 4xx and keeps
// its copy).
#ifndef KENSA_SPOOL_SPOOL_WRITER_H_
#define KENSA_SPOOL_SPOOL_WRITER_H_

#include <deque>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "spool/dir_syncer.h"
#include "core/reactor.h"
#include "spool/queue_file.h"
#include "spool/spool_shard.h"

namespace kensa::spool {

class SpoolWriter : public std::enable_shared_from_this<SpoolWriter> {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;
  static constexpr size_t kWriteChunk = 256 * 1024;

  // Creates <shard>/<queue_id> (O_EXCL) and queues the envelope records.
  static absl::StatusOr<std::shared_ptr<SpoolWriter>> Create(Reactor* reactor, DirSyncer* syncer,
                                                             const spool::SpoolShard& shard,
                                                             const spool::QueueEnvelope& env);
  ~SpoolWriter();

  void Append(std::string_view content);
  // Bytes handed to the kernel and not yet written: the connection pauses input above a bound.
  size_t bytes_in_flight() const { return in_flight_bytes_; }
  // `wake` runs on the reactor, once, when a write completes and bytes_in_flight() is then at
  // most `bound` (never inside this call); a later call replaces an earlier one. This is how
  // a connection paused for the spool resumes.
  void WakeWhenAtMost(size_t bound, absl::AnyInvocable<void()> wake);
  uint64_t content_bytes() const { return writer_.content_bytes(); }
  // What scanning decided (the copies and who gets which); before Commit(), at most once.
  void SetScanOutcome(const spool::ScanOutcome& outcome);
  void Commit(Done done);
  // Removes the file (the transaction was abandoned or failed).
  void Abort();
  const std::string& path() const { return path_; }
  const spool::QueueEnvelope& envelope() const { return env_; }
  int fd() const { return fd_; }

 private:
  SpoolWriter(Reactor* reactor, DirSyncer* syncer, const spool::QueueEnvelope& env)
      : reactor_(reactor), syncer_(syncer), env_(env), writer_(env) {}
  void Flush();
  void IssueWrite(std::shared_ptr<std::string> buf, size_t offset_in_buf, uint64_t file_offset);
  void MaybeFinishCommit();
  void MaybeWake();
  void Fail(absl::Status s);
  void CloseFile();
  void OnSyncDone();
  Done TakeDone();

  Reactor* reactor_;
  DirSyncer* syncer_;
  spool::QueueEnvelope env_;
  spool::QueueFileWriter writer_;
  std::string path_;
  int dir_fd_ = -1;
  int fd_ = -1;
  uint64_t created_epoch_ = 0;
  std::string pending_;
  uint64_t next_offset_ = 0;  // file offset of pending_[0]
  size_t in_flight_bytes_ = 0;
  int writes_in_flight_ = 0;
  absl::Status error_;
  bool committing_ = false;
  bool syncing_ = false;
  int syncs_pending_ = 0;
  bool aborted_ = false;
  Done done_;
  size_t wake_bound_ = 0;
  absl::AnyInvocable<void()> wake_;
};

}  // namespace kensa

#endif  // KENSA_SPOOL_SPOOL_WRITER_H_
