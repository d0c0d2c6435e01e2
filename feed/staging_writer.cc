// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/staging_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace kensa::feed {
namespace {

constexpr mode_t kStagingDirMode = 0700;
constexpr mode_t kDatabaseFileMode = 0644;

int FsyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int r = fsync(fd);
  close(fd);
  return r;
}

bool IsEmptyDir(int fd) {
  const int dup_fd = dup(fd);
  if (dup_fd < 0) return false;
  DIR* d = fdopendir(dup_fd);
  if (d == nullptr) {
    close(dup_fd);
    return false;
  }
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  }
  closedir(d);
  return empty;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StagingWriter>> StagingWriter::Open(const std::string& dir) {
  bool created = false;
  if (mkdir(dir.c_str(), kStagingDirMode) == 0) {
    created = true;
    const std::string parent = std::filesystem::path(dir).parent_path().string();
    if (FsyncPath(parent.empty() ? "." : parent) != 0) {
      const int e = errno;
      rmdir(dir.c_str());
      return absl::InternalError(
          absl::StrCat("staging ", dir, ": fsync of its parent: ", std::strerror(e)));
    }
  } else if (errno != EEXIST) {
    return absl::InternalError(absl::StrCat("staging ", dir, ": ", std::strerror(errno)));
  }
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (created) rmdir(dir.c_str());
    return absl::InternalError(absl::StrCat("staging ", dir, ": ", std::strerror(e)));
  }
  // mkdir's mode is masked by the umask; the staging directory is private whatever it is.
  if (created && fchmod(fd, kStagingDirMode) != 0) {
    const int e = errno;
    close(fd);
    rmdir(dir.c_str());
    return absl::InternalError(absl::StrCat("staging ", dir, ": ", std::strerror(e)));
  }
  if (!created && !IsEmptyDir(fd)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("staging ", dir, " exists and is not an empty directory"));
  }
  return std::unique_ptr<StagingWriter>(new StagingWriter(dir, fd, created));
}

StagingWriter::~StagingWriter() {
  if (file_fd_ >= 0) close(file_fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
}

absl::Status StagingWriter::Error(std::string_view what, int err) const {
  return absl::InternalError(absl::StrCat("staging ", dir_, "/", file_name_, ": ",
                                          absl::string_view(what.data(), what.size()), ": ",
                                          std::strerror(err)));
}

absl::Status StagingWriter::Begin(const ManifestFile& file) {
  file_name_ = file.name;
  // The reader validated the name (no '/', no leading '.'); O_EXCL|O_NOFOLLOW makes sure
  // nothing already there is written through.
  file_fd_ = openat(dir_fd_, file.name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kDatabaseFileMode);
  if (file_fd_ < 0) return Error("create", errno);
  written_.push_back(file.name);
  return absl::OkStatus();
}

absl::Status StagingWriter::Write(std::string_view chunk) {
  while (!chunk.empty()) {
    const ssize_t n = write(file_fd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error("write", errno);
    chunk.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status StagingWriter::Finish(const ManifestFile& file) {
  const int fd = file_fd_;
  file_fd_ = -1;
  if (fsync(fd) != 0) {
    const int e = errno;
    close(fd);
    return Error("fsync", e);
  }
  if (close(fd) != 0) return Error("close", errno);
  return absl::OkStatus();
}

absl::Status StagingWriter::Commit() {
  if (fsync(dir_fd_) != 0) return Error("fsync of the directory", errno);
  return absl::OkStatus();
}

void StagingWriter::RemoveAll() {
  if (file_fd_ >= 0) {
    close(file_fd_);
    file_fd_ = -1;
  }
  for (const std::string& name : written_) unlinkat(dir_fd_, name.c_str(), 0);
  written_.clear();
  fsync(dir_fd_);  // best effort: the removal is what matters, a crash leaves only what it left
  if (created_) {
    close(dir_fd_);
    dir_fd_ = -1;
    rmdir(dir_.c_str());
  }
}

}  // namespace kensa::feed
