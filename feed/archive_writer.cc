// SPDX-License-Identifier: GPL-2.0-or-later
// Why gzip: ClamAV's text databases shrink three- to fivefold, a fleet fetches every bundle
// from one HTTP server or CDN, and ClamAV's own CVDs are gzip'd tar too; the reader bounds
// what it unpacks (BundleLimits::max_unpacked_bytes), so compression is no way around a limit.
#include "feed/archive_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kensa::feed {
namespace {

constexpr size_t kCopyChunkBytes = 64 * 1024;
constexpr mode_t kMemberMode = 0644;

}  // namespace

absl::StatusOr<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Create(const std::string& path,
                                                                     time_t mtime) {
  std::string temp = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a file beside ", path, ": ", std::strerror(errno)));
  }
  // mkstemp makes it 0600; a bundle is public (any web server serves it).
  if (fchmod(fd, kMemberMode) != 0) {
    const int e = errno;
    close(fd);
    unlink(temp.c_str());
    return absl::InternalError(absl::StrCat(temp, ": chmod: ", std::strerror(e)));
  }
  archive* a = archive_write_new();
  if (a == nullptr || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
      // No timestamp in the gzip header, so equal input gives equal bytes.
      archive_write_set_filter_option(a, "gzip", "timestamp", nullptr) != ARCHIVE_OK ||
      archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    const std::string why = a != nullptr && archive_error_string(a) != nullptr
                                ? archive_error_string(a)
                                : "archive_write_new";
    if (a != nullptr) archive_write_free(a);
    close(fd);
    unlink(temp.c_str());
    return absl::InternalError(absl::StrCat("libarchive: ", why));
  }
  return std::unique_ptr<ArchiveWriter>(new ArchiveWriter(path, temp, fd, a, mtime));
}

ArchiveWriter::~ArchiveWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(temp_path_.c_str());
}

std::string ArchiveWriter::Error() const {
  const char* e = archive_error_string(archive_);
  return absl::StrCat(path_, ": ", e != nullptr ? e : "libarchive error");
}

absl::Status ArchiveWriter::Begin(std::string_view name, uint64_t size) {
  archive_entry* e = archive_entry_new();
  if (e == nullptr) return absl::ResourceExhaustedError("archive_entry_new");
  const std::string n(name);
  archive_entry_set_pathname(e, n.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, kMemberMode);
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_mtime(e, mtime_, 0);
  const int r = archive_write_header(archive_, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK) return absl::InternalError(Error());
  return absl::OkStatus();
}

absl::Status ArchiveWriter::Write(std::string_view data) {
  while (!data.empty()) {
    const la_ssize_t n = archive_write_data(archive_, data.data(), data.size());
    if (n <= 0) return absl::InternalError(Error());
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status ArchiveWriter::AddFile(std::string_view name, std::string_view data) {
  if (absl::Status s = Begin(name, data.size()); !s.ok()) return s;
  return Write(data);
}

absl::Status ArchiveWriter::AddFileFrom(std::string_view name, const std::string& source_path,
                                        uint64_t size) {
  const int in = open(source_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return absl::NotFoundError(absl::StrCat(source_path, ": ", std::strerror(errno)));
  }
  absl::Status status = Begin(name, size);
  std::vector<char> buf(kCopyChunkBytes);
  uint64_t total = 0;
  while (status.ok()) {
    const ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::InternalError(absl::StrCat(source_path, ": ", std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    status = Write(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  close(in);
  if (status.ok() && total != size) {
    status = absl::FailedPreconditionError(absl::StrCat(source_path, " changed while it was read (",
                                                        total, " bytes, not ", size, ")"));
  }
  return status;
}

absl::Status ArchiveWriter::Commit() {
  if (archive_write_close(archive_) != ARCHIVE_OK) return absl::InternalError(Error());
  if (fsync(fd_) != 0) {
    return absl::InternalError(absl::StrCat(temp_path_, ": fsync: ", std::strerror(errno)));
  }
  if (close(fd_) != 0) {
    fd_ = -1;
    return absl::InternalError(absl::StrCat(temp_path_, ": close: ", std::strerror(errno)));
  }
  fd_ = -1;
  if (rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename to ", path_, ": ", std::strerror(errno)));
  }
  committed_ = true;
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (parent.empty()) parent = std::filesystem::path(".");
  const int dir = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || fsync(dir) != 0) {
    const int e = errno;
    if (dir >= 0) close(dir);
    return absl::InternalError(absl::StrCat(parent.string(), ": fsync: ", std::strerror(e)));
  }
  close(dir);
  return absl::OkStatus();
}

}  // namespace kensa::feed
