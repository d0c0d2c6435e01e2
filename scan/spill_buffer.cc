// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/spill_buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kensa::scan {

struct SpillBuffer::HashState {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  HashState() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~HashState() { EVP_MD_CTX_free(ctx); }
};

SpillBuffer::SpillBuffer(size_t memory_bytes, uint64_t max_bytes, std::string temp_dir,
                         bool hash_as_appended)
    : max_bytes_(max_bytes),
      kept_(memory_bytes, std::move(temp_dir)),
      hash_(hash_as_appended ? new HashState : nullptr) {}

SpillBuffer::~SpillBuffer() { delete hash_; }

void SpillBuffer::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (hash_ != nullptr) EVP_DigestUpdate(hash_->ctx, bytes.data(), bytes.size());
  const uint64_t room = size_ >= max_bytes_ ? 0 : max_bytes_ - size_;
  size_ += bytes.size();
  if (room == 0) return;
  if (bytes.size() > room) bytes = bytes.substr(0, room);
  kept_.Append(bytes);
}

Sha256 SpillBuffer::Digest() {
  if (!digest_) {
    Sha256 d{};
    unsigned int len = 0;
    if (hash_ != nullptr) {
      EVP_DigestFinal_ex(hash_->ctx, d.data(), &len);
    } else {
      HashState late;
      // A read error leaves the digest of what was read: such a buffer has no verdict anyway
      // (error() is set), and nothing caches or reuses it.
      (void)Read([&](std::string_view chunk) {
        EVP_DigestUpdate(late.ctx, chunk.data(), chunk.size());
      });
      EVP_DigestFinal_ex(late.ctx, d.data(), &len);
    }
    digest_ = d;
  }
  return *digest_;
}

std::optional<std::string_view> SpillBuffer::memory() const {
  if (!kept_.error().ok() || !kept_.in_memory()) return std::nullopt;
  return kept_.memory();
}

ClamEngine::ProbeResult SpillBuffer::ProbeWith(const ClamEngine& probe,
                                               ClamEngine::LayerVisitor* visitor) const {
  if (!kept_.error().ok() || truncated()) return {};
  if (kept_.in_memory()) return probe.Probe(kept_.memory(), -1, visitor);
  return probe.Probe({}, kept_.fd(), visitor);
}

absl::Status SpillBuffer::Read(const std::function<void(std::string_view)>& chunk) const {
  if (!kept_.error().ok()) return kept_.error();
  if (kept_.in_memory()) {
    chunk(kept_.memory());
    return absl::OkStatus();
  }
  std::string block;
  for (uint64_t at = 0;; at += block.size()) {
    if (absl::Status s = kept_.ReadAt(at, 1 << 16, &block); !s.ok()) return s;
    if (block.empty()) return absl::OkStatus();
    chunk(block);
  }
}

ScanResult SpillBuffer::ScanWith(const ClamEngine& engine, std::string_view name) const {
  // The temporary file failed (full, gone, unreadable): the machine's fault, not the part's.
  if (!kept_.error().ok()) {
    return {ScanResult::Kind::kLocalFailure, std::string(kept_.error().message())};
  }
  if (truncated()) {
    return {ScanResult::Kind::kUnscannable, "Kensa.Limits.Exceeded.MaxPartSize"};
  }
  if (kept_.in_memory()) return engine.ScanBuffer(kept_.memory(), name);
  if (lseek(kept_.fd(), 0, SEEK_SET) < 0) {
    return {ScanResult::Kind::kLocalFailure,
            absl::StrCat("temporary file in ", kept_.temp_dir(), ": ", std::strerror(errno))};
  }
  return engine.ScanFd(kept_.fd(), name);
}

}  // namespace kensa::scan
