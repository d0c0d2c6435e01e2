// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/message_spool.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "scan/temp_file.h"

namespace kensa::scan {

MessageSpool::MessageSpool(size_t memory_bytes, std::string temp_dir)
    : memory_bytes_(memory_bytes), temp_dir_(std::move(temp_dir)) {}

MessageSpool::~MessageSpool() {
  if (fd_ >= 0) close(fd_);
}

void MessageSpool::Append(std::string_view bytes) {
  size_ += bytes.size();
  if (bytes.empty() || !error_.ok()) return;
  if (fd_ < 0 && memory_.size() + bytes.size() <= memory_bytes_) {
    memory_.append(bytes);
    return;
  }
  if (fd_ < 0) {
    absl::StatusOr<int> fd = OpenUnlinkedTempFile(temp_dir_);
    if (!fd.ok()) {
      error_ = fd.status();
      std::string().swap(memory_);
      return;
    }
    fd_ = *fd;
    error_ = WriteAllToTempFile(fd_, memory_, temp_dir_);
    std::string().swap(memory_);
    if (!error_.ok()) return;
  }
  error_ = WriteAllToTempFile(fd_, bytes, temp_dir_);
}

absl::Status MessageSpool::ReadAt(uint64_t offset, size_t max, std::string* out) const {
  out->clear();
  if (!error_.ok()) return error_;
  if (offset >= size_) return absl::OkStatus();
  const size_t want = static_cast<size_t>(std::min<uint64_t>(max, size_ - offset));
  if (fd_ < 0) {
    out->assign(memory_, offset, want);
    return absl::OkStatus();
  }
  out->resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd_, out->data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out->clear();
      return absl::InternalError(absl::StrCat("reading back the temporary file in ", temp_dir_,
                                              ": ", n < 0 ? std::strerror(errno) : "truncated"));
    }
    got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace kensa::scan
