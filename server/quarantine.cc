// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/quarantine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spool/queue_file.h"

namespace kensa {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Writes `bytes` to dir/name through a temporary name: whole or not at all.
absl::Status WriteWhole(const std::string& dir, const std::string& name, std::string_view left) {
  const std::string tmp = absl::StrCat(dir, "/.", name, ".tmp");
  const std::string final_path = absl::StrCat(dir, "/", name);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", tmp));
  while (!left.empty()) {
    ssize_t n = write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = Errno(absl::StrCat("write ", tmp));
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    left.remove_prefix(static_cast<size_t>(n));
  }
  if (fdatasync(fd) != 0) {
    absl::Status s = Errno(absl::StrCat("fdatasync ", tmp));
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    absl::Status s = Errno(absl::StrCat("rename ", final_path));
    unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno(absl::StrCat("read ", path));
      close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace

std::string QuarantineMessagePath(const std::string& dir, const std::string& queue_id) {
  return absl::StrCat(dir, "/", queue_id, kQuarantineMessageSuffix);
}

std::string QuarantineQueueFilePath(const std::string& dir, const std::string& queue_id) {
  return absl::StrCat(dir, "/", queue_id, kQuarantineQueueFileSuffix);
}

absl::Status QuarantineOriginal(const std::string& dir, const std::string& queue_file_path,
                                const std::string& queue_id) {
  // The queue file as committed (no status records yet: delivery starts after this) keeps
  // the envelope, so that a release can deliver the original to its recipients.
  absl::StatusOr<std::string> queue_file = ReadWhole(queue_file_path);
  if (!queue_file.ok()) return queue_file.status();
  absl::StatusOr<spool::QueueFileInfo> info = spool::ParseQueueFile(*queue_file);
  if (!info.ok()) return info.status();
  std::string content;
  content.reserve(info->content_bytes);
  for (const auto& [offset, len] : info->content_chunks) {
    content.append(*queue_file, offset, len);
  }
  if (absl::Status s = WriteWhole(dir, absl::StrCat(queue_id, kQuarantineQueueFileSuffix),
                                  *queue_file);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteWhole(dir, absl::StrCat(queue_id, kQuarantineMessageSuffix), content);
      !s.ok()) {
    return s;
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno(absl::StrCat("open ", dir));
  const int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return Errno(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace kensa
