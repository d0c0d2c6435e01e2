// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/copy_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spool/record_source.h"

namespace kensa::spool {

absl::StatusOr<std::unique_ptr<CopyReader>> CopyReader::Open(
    const std::string& path, std::shared_ptr<const QueueFileInfo> info, size_t variant) {
  const ContentVariant* v = nullptr;
  if (!info->scan.variants.empty()) {
    if (variant >= info->scan.variants.size()) {
      return absl::DataLossError(absl::StrCat(path, ": no copy ", variant, " (",
                                              info->scan.variants.size(), " variants)"));
    }
    v = &info->scan.variants[variant];
    if (absl::Status s = CheckEdits(v->edits, info->content_bytes); !s.ok()) {
      return absl::DataLossError(absl::StrCat(path, ": copy ", variant, ": ", s.message()));
    }
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = absl::StrCat("open ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  return std::unique_ptr<CopyReader>(new CopyReader(fd, path, std::move(info), v));
}

CopyReader::CopyReader(int fd, std::string path, std::shared_ptr<const QueueFileInfo> info,
                       const ContentVariant* variant)
    : fd_(fd), path_(std::move(path)), info_(std::move(info)), variant_(variant) {
  prefix_ = info_->envelope.trace_header;
  if (variant_ != nullptr) prefix_ += variant_->headers;
  size_ = prefix_.size() + info_->content_bytes;
  if (variant_ != nullptr) {
    for (const ContentEdit& e : variant_->edits) size_ += e.replacement.size() - (e.end - e.begin);
  }
}

CopyReader::~CopyReader() { close(fd_); }

uint64_t CopyReader::CopySize(const QueueFileInfo& info, size_t variant) {
  uint64_t size = info.envelope.trace_header.size() + info.content_bytes;
  if (info.scan.variants.empty() || variant >= info.scan.variants.size()) return size;
  const ContentVariant& v = info.scan.variants[variant];
  size += v.headers.size();
  // Modular arithmetic: a shrinking edit wraps, and the sum comes out right.
  for (const ContentEdit& e : v.edits) size += e.replacement.size() - (e.end - e.begin);
  return size;
}

void CopyReader::Rewind() {
  produced_ = 0;
  prefix_pos_ = 0;
  content_pos_ = 0;
  edit_ = 0;
  replacement_pos_ = 0;
  chunk_ = 0;
  chunk_start_ = 0;
}

absl::Status CopyReader::ReadContentBytes(uint64_t n, std::string* out) {
  const auto& chunks = info_->content_chunks;
  while (n > 0) {
    // Edits skip content, so the position may have moved past several records.
    while (chunk_ < chunks.size() && chunk_start_ + chunks[chunk_].second <= content_pos_) {
      chunk_start_ += chunks[chunk_].second;
      ++chunk_;
    }
    if (chunk_ >= chunks.size()) {
      return absl::DataLossError(absl::StrCat(path_, ": content records short of the content"));
    }
    const auto& [file_offset, len] = chunks[chunk_];
    const uint64_t in_chunk = content_pos_ - chunk_start_;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, len - in_chunk));
    const size_t at = out->size();
    out->resize(at + take);
    if (absl::Status s = PreadFully(fd_, out->data() + at, take, file_offset + in_chunk, path_);
        !s.ok()) {
      return s;
    }
    content_pos_ += take;
    n -= take;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CopyReader::Next(size_t max_bytes) {
  if (max_bytes == 0) return absl::InvalidArgumentError("CopyReader::Next of 0 bytes");
  std::string out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(max_bytes, size_ - produced_)));
  static const std::vector<ContentEdit> kNoEdits;
  const std::vector<ContentEdit>& edits = variant_ != nullptr ? variant_->edits : kNoEdits;
  const uint64_t content_bytes = info_->content_bytes;
  while (out.size() < max_bytes) {
    const size_t room = max_bytes - out.size();
    if (prefix_pos_ < prefix_.size()) {
      const size_t n = std::min(room, prefix_.size() - prefix_pos_);
      out.append(prefix_, prefix_pos_, n);
      prefix_pos_ += n;
      continue;
    }
    if (edit_ < edits.size() && content_pos_ == edits[edit_].begin) {
      const ContentEdit& e = edits[edit_];
      const size_t n = std::min(room, e.replacement.size() - replacement_pos_);
      out.append(e.replacement, replacement_pos_, n);
      replacement_pos_ += n;
      if (replacement_pos_ == e.replacement.size()) {
        content_pos_ = e.end;
        ++edit_;
        replacement_pos_ = 0;
      }
      continue;
    }
    if (content_pos_ < content_bytes) {
      const uint64_t stop = edit_ < edits.size() ? edits[edit_].begin : content_bytes;
      if (absl::Status s = ReadContentBytes(std::min<uint64_t>(room, stop - content_pos_), &out);
          !s.ok()) {
        return s;
      }
      continue;
    }
    break;
  }
  produced_ += out.size();
  return out;
}

}  // namespace kensa::spool
