// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/record_source.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kensa::spool {

absl::StatusOr<std::string_view> MemorySource::Read(uint64_t offset, size_t len) {
  if (offset > bytes_.size() || len > bytes_.size() - offset) {
    return absl::DataLossError("queue file: read past end");
  }
  return bytes_.substr(offset, len);
}

absl::Status PreadFully(int fd, char* buf, size_t len, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(errno)));
    }
    // The file shrank under us (or was truncated by hand): what we located is gone.
    if (n == 0) return absl::DataLossError(absl::StrCat("read ", path, ": unexpected end of file"));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> FileSource::Read(uint64_t offset, size_t len) {
  if (offset > size_ || len > size_ - offset) {
    return absl::DataLossError(absl::StrCat(path_, ": read past end"));
  }
  if (offset >= window_offset_ && offset + len <= window_offset_ + window_.size()) {
    return std::string_view(window_).substr(offset - window_offset_, len);
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(len, kWindow), size_ - offset));
  window_.resize(want);
  window_offset_ = offset;
  absl::Status s = PreadFully(fd_, window_.data(), want, offset, path_);
  if (!s.ok()) {
    window_.clear();
    return s;
  }
  return std::string_view(window_).substr(0, len);
}

}  // namespace kensa::spool
