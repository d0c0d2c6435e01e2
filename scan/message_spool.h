// SPDX-License-Identifier: GPL-2.0-or-later
// MessageSpool: bytes kept in memory up to a bound and in an unlinked temporary file beyond
// it, so memory does not grow with their size: a whole message while it is scanned (a POP3
// response waiting for its verdict), and under SpillBuffer each object the scanner decodes.
// Written by one thread, read back afterwards in bounded pieces from any thread (pread: no
// shared file offset).
#ifndef KENSA_SCAN_MESSAGE_SPOOL_H_
#define KENSA_SCAN_MESSAGE_SPOOL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace kensa::scan {

class MessageSpool {
 public:
  MessageSpool(size_t memory_bytes, std::string temp_dir);
  ~MessageSpool();
  MessageSpool(const MessageSpool&) = delete;
  MessageSpool& operator=(const MessageSpool&) = delete;

  // After the first error (no temporary file, disk full) bytes are only counted: the message
  // then has no copy to send, and the caller fails the retrieval.
  void Append(std::string_view bytes);
  uint64_t size() const { return size_; }
  const absl::Status& error() const { return error_; }
  bool in_memory() const { return fd_ < 0; }
  // The bytes, while in_memory().
  std::string_view memory() const { return memory_; }
  // The temporary file holding the bytes, once they are not in_memory(); -1 before.
  int fd() const { return fd_; }
  const std::string& temp_dir() const { return temp_dir_; }
  // Replaces *out with up to `max` bytes from `offset` (fewer only at the end).
  absl::Status ReadAt(uint64_t offset, size_t max, std::string* out) const;

 private:
  size_t memory_bytes_;
  std::string temp_dir_;
  std::string memory_;
  int fd_ = -1;
  uint64_t size_ = 0;
  absl::Status error_;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MESSAGE_SPOOL_H_
