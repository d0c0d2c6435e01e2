// SPDX-License-Identifier: GPL-2.0-or-later
// Where the queue file parser gets its bytes: an in-memory buffer (tests, fuzzing) or an open
// file read with pread through a small window, so that a 50 MB message is located, not loaded.
#ifndef KENSA_SPOOL_RECORD_SOURCE_H_
#define KENSA_SPOOL_RECORD_SOURCE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::spool {

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual uint64_t size() const = 0;
  // Exactly `len` bytes at `offset` (the caller checks the range against size()). The view
  // stays valid until the next Read.
  virtual absl::StatusOr<std::string_view> Read(uint64_t offset, size_t len) = 0;
};

class MemorySource final : public RecordSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  absl::StatusOr<std::string_view> Read(uint64_t offset, size_t len) override;

 private:
  std::string_view bytes_;
};

class FileSource final : public RecordSource {
 public:
  // Does not own fd; `path` only names the file in errors.
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  uint64_t size() const override { return size_; }
  absl::StatusOr<std::string_view> Read(uint64_t offset, size_t len) override;

 private:
  // One pread fills this much, so the header records of a file cost one system call.
  static constexpr size_t kWindow = 64 * 1024;
  int fd_;
  uint64_t size_;
  std::string path_;
  std::string window_;
  uint64_t window_offset_ = 0;
};

// Reads exactly len bytes at offset, retrying short reads; DataLoss if the file ends first.
absl::Status PreadFully(int fd, char* buf, size_t len, uint64_t offset, const std::string& path);

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_RECORD_SOURCE_H_
