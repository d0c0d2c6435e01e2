// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/spill_buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "scan/temp_file.h"

namespace kensa::scan {

struct SpillBuffer::HashState {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  HashState() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~HashState() { EVP_MD_CTX_free(ctx); }
};

SpillBuffer::SpillBuffer(size_t memory_bytes, uint64_t max_bytes, std::string temp_dir)
    : memory_bytes_(memory_bytes),
      max_bytes_(max_bytes),
      temp_dir_(std::move(temp_dir)),
      hash_(new HashState) {}

SpillBuffer::~SpillBuffer() {
  if (fd_ >= 0) close(fd_);
  delete hash_;
}

void SpillBuffer::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  EVP_DigestUpdate(hash_->ctx, bytes.data(), bytes.size());
  const uint64_t room = size_ >= max_bytes_ ? 0 : max_bytes_ - size_;
  size_ += bytes.size();
  if (room == 0) return;
  if (bytes.size() > room) bytes = bytes.substr(0, room);
  if (!error_.ok()) return;
  if (fd_ < 0 && memory_.size() + bytes.size() <= memory_bytes_) {
    memory_.append(bytes);
    return;
  }
  if (fd_ < 0) Spill();
  if (error_.ok()) error_ = WriteAllToTempFile(fd_, bytes, temp_dir_);
}

void SpillBuffer::Spill() {
  absl::StatusOr<int> fd = OpenUnlinkedTempFile(temp_dir_);
  if (!fd.ok()) {
    error_ = fd.status();
    return;
  }
  fd_ = *fd;
  error_ = WriteAllToTempFile(fd_, memory_, temp_dir_);
  if (!error_.ok()) return;
  std::string().swap(memory_);
}

Sha256 SpillBuffer::Digest() {
  if (!digest_) {
    Sha256 d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(hash_->ctx, d.data(), &len);
    digest_ = d;
  }
  return *digest_;
}

ClamEngine::ProbeResult SpillBuffer::ProbeWith(const ClamEngine& probe,
                                               ClamEngine::LayerVisitor* visitor) const {
  if (!error_.ok() || truncated()) return {};
  if (fd_ < 0) return probe.Probe(memory_, -1, visitor);
  return probe.Probe({}, fd_, visitor);
}

absl::Status SpillBuffer::Read(const std::function<void(std::string_view)>& chunk) const {
  if (!error_.ok()) return error_;
  if (fd_ < 0) {
    chunk(memory_);
    return absl::OkStatus();
  }
  std::string block(1 << 16, '\0');
  for (off_t at = 0;;) {
    ssize_t n = pread(fd_, block.data(), block.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("reading back: ", std::strerror(errno)));
    if (n == 0) return absl::OkStatus();
    chunk(std::string_view(block.data(), static_cast<size_t>(n)));
    at += n;
  }
}

ScanResult SpillBuffer::ScanWith(const ClamEngine& engine, std::string_view name) const {
  // The temporary file failed (full, gone, unreadable): the machine's fault, not the part's.
  if (!error_.ok()) return {ScanResult::Kind::kLocalFailure, std::string(error_.message())};
  if (truncated()) {
    return {ScanResult::Kind::kUnscannable, "Kensa.Limits.Exceeded.MaxPartSize"};
  }
  if (fd_ < 0) return engine.ScanBuffer(memory_, name);
  if (lseek(fd_, 0, SEEK_SET) < 0) {
    return {ScanResult::Kind::kLocalFailure,
            absl::StrCat("temporary file in ", temp_dir_, ": ", std::strerror(errno))};
  }
  return engine.ScanFd(fd_, name);
}

}  // namespace kensa::scan
