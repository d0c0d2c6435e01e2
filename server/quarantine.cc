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

}  // namespace

absl::Status QuarantineOriginal(const std::string& dir, const std::string& queue_file_path,
                                const std::string& queue_id) {
  absl::StatusOr<spool::QueueFileInfo> info = spool::ReadQueueFile(queue_file_path);
  if (!info.ok()) return info.status();
  int in = open(queue_file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno(absl::StrCat("open ", queue_file_path));
  absl::StatusOr<std::string> content = spool::ReadContent(in, *info);
  close(in);
  if (!content.ok()) return content.status();

  const std::string tmp = absl::StrCat(dir, "/.", queue_id, ".tmp");
  const std::string final_path = absl::StrCat(dir, "/", queue_id, ".eml");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", tmp));
  std::string_view left = *content;
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
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno(absl::StrCat("open ", dir));
  const int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return Errno(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace kensa
