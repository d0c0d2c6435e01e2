// SPDX-License-Identifier: GPL-2.0-or-later
// SpoolShard: one reactor's queue directory, <spool_dir>/shard-<N>/, holding one queue file
// per message named by its queue id. The shard keeps its directory open (dir_fd) so that
// files are created and the directory fsync'd relative to it.
#ifndef KENSA_SPOOL_SPOOL_SHARD_H_
#define KENSA_SPOOL_SPOOL_SHARD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spool/queue_file.h"

namespace kensa::spool {

class SpoolShard {
 public:
  // Creates <spool_dir>/shard-<index> if needed (and fsyncs spool_dir when it did).
  static absl::StatusOr<SpoolShard> Open(const std::string& spool_dir, int index);
  SpoolShard(SpoolShard&& other) noexcept;
  SpoolShard& operator=(SpoolShard&& other) noexcept;
  SpoolShard(const SpoolShard&) = delete;
  SpoolShard& operator=(const SpoolShard&) = delete;
  ~SpoolShard();  // closes dir_fd

  int index() const { return index_; }
  const std::string& dir() const { return dir_; }
  int dir_fd() const { return dir_fd_; }
  std::string PathFor(const std::string& queue_id) const;  // dir_ + "/" + queue_id

  struct Recovered {
    std::string path;
    QueueFileInfo info;
  };
  // Reads every queue file of the shard: complete ones are returned (oldest arrival first);
  // incomplete or unparsable ones are removed and their paths appended to `discarded`; names
  // that are not queue ids (editor droppings, "lost+found") are left alone.
  absl::StatusOr<std::vector<Recovered>> Recover(std::vector<std::string>* discarded);

 private:
  SpoolShard(std::string dir, int dir_fd, int index) : dir_(std::move(dir)), dir_fd_(dir_fd), index_(index) {}
  std::string dir_;
  int dir_fd_ = -1;
  int index_ = 0;
};

// The shard indexes present under spool_dir (shard-<N> directories), ascending.
absl::StatusOr<std::vector<int>> ListShards(const std::string& spool_dir);
// Bytes available to an unprivileged writer on the file system holding `dir` (statvfs).
absl::StatusOr<uint64_t> FreeBytes(const std::string& dir);

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_SPOOL_SHARD_H_
