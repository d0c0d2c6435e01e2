// SPDX-License-Identifier: GPL-2.0-or-later
// SpillBuffer: the decoded bytes of one object being scanned (a MIME leaf, a uuencoded file),
// kept in memory up to a bound and moved to an unlinked temporary file beyond it, so a
// message's scan costs bounded memory whatever its size. Appends past max_bytes are counted
// but dropped: the object is then "too large" and reported unscannable, never half-scanned.
#ifndef KENSA_SCAN_SPILL_BUFFER_H_
#define KENSA_SCAN_SPILL_BUFFER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "scan/clam_engine.h"
#include "scan/message_spool.h"
#include "scan/verdict_cache.h"

namespace kensa::scan {

class SpillBuffer {
 public:
  // `hash_as_appended`: SHA-256 every byte as it comes (a buffer whose digest is always
  // wanted: the verdict cache's key). Otherwise Digest() reads the kept bytes back if it is
  // ever called, and most buffers never pay for it.
  SpillBuffer(size_t memory_bytes, uint64_t max_bytes, std::string temp_dir,
              bool hash_as_appended = true);
  ~SpillBuffer();
  SpillBuffer(const SpillBuffer&) = delete;
  SpillBuffer& operator=(const SpillBuffer&) = delete;

  void Append(std::string_view bytes);
  uint64_t size() const { return size_; }
  bool truncated() const { return size_ > max_bytes_; }
  // The first write error (temp file full, ...): the object then has no verdict, and
  // ScanWith() says kLocalFailure.
  const absl::Status& error() const { return kept_.error(); }
  // SHA-256 of every byte appended (also of those past max_bytes; without hash_as_appended,
  // of the kept ones). Ends the object: call it after the last Append().
  Sha256 Digest();
  // The kept bytes when they are all in memory (no temporary file, no error).
  std::optional<std::string_view> memory() const;
  ScanResult ScanWith(const ClamEngine& engine, std::string_view name) const;
  ClamEngine::ProbeResult ProbeWith(const ClamEngine& probe,
                                    ClamEngine::LayerVisitor* visitor) const;
  // Hands the kept bytes to `chunk` in order (from memory or the temporary file).
  absl::Status Read(const std::function<void(std::string_view)>& chunk) const;

 private:
  uint64_t max_bytes_;
  MessageSpool kept_;  // the first max_bytes_ bytes
  uint64_t size_ = 0;  // every byte appended, kept or not
  struct HashState;
  HashState* hash_;
  std::optional<Sha256> digest_;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_SPILL_BUFFER_H_
