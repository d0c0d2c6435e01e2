// SPDX-License-Identifier: GPL-2.0-or-later
// DirSyncer: group commit of a spool shard's directory. A new queue file's name is durable
// only after an fsync of its directory that *started after the file was created*; every
// message waiting at that moment shares one fsync (a running one if it qualifies, else the
// next). Lives on one reactor.
#ifndef KENSA_SPOOL_DIR_SYNCER_H_
#define KENSA_SPOOL_DIR_SYNCER_H_

#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/reactor.h"

namespace kensa::spool {

class DirSyncer {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;
  DirSyncer(Reactor* reactor, int dir_fd) : reactor_(reactor), dir_fd_(dir_fd) {}

  // The epoch to remember when creating a file: an fsync numbered above it covers the file.
  uint64_t epoch() const { return started_; }
  void SyncAfter(uint64_t created_epoch, Done done);
  uint64_t fsyncs() const { return started_; }

 private:
  void StartRound();
  Reactor* reactor_;
  int dir_fd_;
  uint64_t started_ = 0;      // number of fsyncs started; the running one is number started_
  bool running_ = false;
  std::vector<Done> on_running_;  // satisfied by the running fsync
  std::vector<Done> on_next_;     // need a later one
};

}  // namespace kensa

#endif  // KENSA_SPOOL_DIR_SYNCER_H_
