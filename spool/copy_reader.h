// SPDX-License-Identifier: GPL-2.0-or-later
// CopyReader: one copy of a queued message as it leaves kensa, read in bounded pieces: the
// trace header, the copy's own headers, then the content as received with the copy's edits
// (the notices) spliced in. The content is read from the queue file with pread where it lies
// (its CONTENT records' payloads), so memory does not grow with the message. The bytes are
// exactly what ApplyEdits would build. Blocking (file reads): a worker uses it; one thread
// at a time, handed over whole (a reactor may own it between reads).
#ifndef KENSA_SPOOL_COPY_READER_H_
#define KENSA_SPOOL_COPY_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spool/queue_file.h"

namespace kensa::spool {

class CopyReader {
 public:
  // Opens the queue file at `path` described by `info` (ReadQueueFile's answer) for copy
  // `variant` (ignored for an unscanned message: the content as received). NotFound if the
  // file is gone; DataLoss if the variant or its edits do not fit the file.
  static absl::StatusOr<std::unique_ptr<CopyReader>> Open(const std::string& path,
                                                          std::shared_ptr<const QueueFileInfo> info,
                                                          size_t variant);
  ~CopyReader();
  CopyReader(const CopyReader&) = delete;
  CopyReader& operator=(const CopyReader&) = delete;

  // The copy's size in bytes, known without reading (SIZE= goes out before the data).
  static uint64_t CopySize(const QueueFileInfo& info, size_t variant);
  uint64_t size() const { return size_; }
  // Bytes returned so far.
  uint64_t position() const { return produced_; }
  bool done() const { return produced_ == size_; }

  // The next bytes of the copy, at most `max_bytes` (and at least 1 before the end); empty
  // once the copy has been read whole. DataLoss if the file no longer holds what `info` said.
  absl::StatusOr<std::string> Next(size_t max_bytes);
  // Starts again from the first byte (a second Maildir recipient).
  void Rewind();

 private:
  CopyReader(int fd, std::string path, std::shared_ptr<const QueueFileInfo> info,
             const ContentVariant* variant);
  // Appends up to `n` content bytes from content offset `content_pos_` to `out`.
  absl::Status ReadContentBytes(uint64_t n, std::string* out);

  int fd_;
  std::string path_;
  std::shared_ptr<const QueueFileInfo> info_;
  const ContentVariant* variant_;  // null: no edits, no headers of its own
  std::string prefix_;             // trace header + the variant's headers
  uint64_t size_ = 0;
  uint64_t produced_ = 0;
  // Where the next byte comes from.
  size_t prefix_pos_ = 0;
  uint64_t content_pos_ = 0;  // offset in the content as received
  size_t edit_ = 0;           // the next edit not yet fully emitted
  size_t replacement_pos_ = 0;
  size_t chunk_ = 0;          // content_chunks index holding content_pos_
  uint64_t chunk_start_ = 0;  // content offset of chunk_'s first byte
};

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_COPY_READER_H_
