// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/spool_shard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "spool/queue_id.h"

namespace kensa::spool {
namespace {

absl::Status Errno(int err, const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status FsyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", path);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno(err, "fsync", path);
  return absl::OkStatus();
}

// mkdir that makes a new directory entry durable: a spool directory that vanishes after a
// power cut would take the messages we acknowledged with it.
absl::Status MkdirDurable(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return Errno(errno, "mkdir", path);
  }
  return FsyncDir(Parent(path));
}

std::string StripTrailingSlashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// "shard-<N>" with N canonical decimal (no sign, no leading zeros): the only names Open makes.
bool ParseShardName(std::string_view name, int* index) {
  constexpr std::string_view kPrefix = "shard-";
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view digits = name.substr(kPrefix.size());
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *index);
  return ec == std::errc() && end == digits.data() + digits.size();
}

// Names in a directory, read through its own descriptor (fdopendir takes ownership of a dup).
absl::StatusOr<std::vector<std::string>> ListNames(int dir_fd, const std::string& path) {
  int fd = dup(dir_fd);
  if (fd < 0) return Errno(errno, "dup", path);
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    close(fd);
    return Errno(err, "opendir", path);
  }
  rewinddir(d);  // the dup shares the offset with dir_fd; start from the top regardless
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = readdir(d);
    if (e == nullptr) {
      int err = errno;
      closedir(d);
      if (err != 0) return Errno(err, "readdir", path);
      return names;
    }
    if (e->d_name[0] == '.') continue;  // ".", "..", dotfiles are never queue files
    names.emplace_back(e->d_name);
  }
}

}  // namespace

absl::StatusOr<SpoolShard> SpoolShard::Open(const std::string& spool_dir, int index) {
  if (index < 0) return absl::InvalidArgumentError(absl::StrCat("bad shard index ", index));
  std::string root = StripTrailingSlashes(spool_dir);
  if (absl::Status s = MkdirDurable(root); !s.ok()) return s;
  std::string dir = absl::StrCat(root, "/shard-", index);
  if (absl::Status s = MkdirDurable(dir); !s.ok()) return s;
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", dir);
  return SpoolShard(std::move(dir), fd, index);
}

SpoolShard::SpoolShard(SpoolShard&& other) noexcept
    : dir_(std::move(other.dir_)), dir_fd_(std::exchange(other.dir_fd_, -1)), index_(other.index_) {}

SpoolShard& SpoolShard::operator=(SpoolShard&& other) noexcept {
  if (this != &other) {
    if (dir_fd_ >= 0) close(dir_fd_);
    dir_ = std::move(other.dir_);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    index_ = other.index_;
  }
  return *this;
}

SpoolShard::~SpoolShard() {
  if (dir_fd_ >= 0) close(dir_fd_);
}

std::string SpoolShard::PathFor(const std::string& queue_id) const {
  return absl::StrCat(dir_, "/", queue_id);
}

absl::StatusOr<std::vector<SpoolShard::Recovered>> SpoolShard::Recover(
    std::vector<std::string>* discarded) {
  absl::StatusOr<std::vector<std::string>> names = ListNames(dir_fd_, dir_);
  if (!names.ok()) return names.status();
  std::vector<Recovered> out;
  for (const std::string& name : *names) {
    if (!IsQueueIdShaped(name)) continue;
    std::string path = PathFor(name);
    absl::StatusOr<QueueFileInfo> info = ReadQueueFile(path);
    if (info.ok()) {
      // The file name is what Unlink and the directory use; trust it over the payload.
      info->envelope.queue_id = name;
      out.push_back({std::move(path), std::move(*info)});
    } else if (absl::IsDataLoss(info.status())) {
      // Never acknowledged (no END): the client was not told 250, so it will retry.
      if (unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
        return Errno(errno, "unlink", path);
      }
      if (discarded != nullptr) discarded->push_back(path);
    } else if (!absl::IsNotFound(info.status())) {
      // Unreadable (permissions, I/O error, newer format): leave it for the operator rather
      // than delete it or refuse to start the other messages.
      KLOG(kWarning, "recovery_skipped").Kv("path", path).Kv("error", info.status());
    }
  }
  std::sort(out.begin(), out.end(), [](const Recovered& a, const Recovered& b) {
    if (a.info.envelope.arrival_unix_micros != b.info.envelope.arrival_unix_micros) {
      return a.info.envelope.arrival_unix_micros < b.info.envelope.arrival_unix_micros;
    }
    return a.info.envelope.queue_id < b.info.envelope.queue_id;
  });
  return out;
}

absl::StatusOr<std::vector<int>> ListShards(const std::string& spool_dir) {
  std::string root = StripTrailingSlashes(spool_dir);
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<int>{};  // nothing spooled yet
    return Errno(errno, "open", root);
  }
  absl::StatusOr<std::vector<std::string>> names = ListNames(fd, root);
  std::vector<int> shards;
  if (names.ok()) {
    for (const std::string& name : *names) {
      int index;
      struct stat st;
      if (!ParseShardName(name, &index)) continue;
      if (fstatat(fd, name.c_str(), &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
      shards.push_back(index);
    }
  }
  close(fd);
  if (!names.ok()) return names.status();
  std::sort(shards.begin(), shards.end());
  return shards;
}

absl::StatusOr<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) != 0) return Errno(errno, "statvfs", dir);
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

}  // namespace kensa::spool
