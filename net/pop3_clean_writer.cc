// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/pop3_clean_writer.h"

#include <algorithm>
#include <utility>

namespace kensa::net {

Pop3CleanWriter::Pop3CleanWriter(std::string headers, std::vector<spool::ContentEdit> edits)
    : headers_(std::move(headers)), edits_(std::move(edits)) {}

absl::Status Pop3CleanWriter::Check(uint64_t size) const {
  return spool::CheckEdits(edits_, size);
}

void Pop3CleanWriter::Start(std::string* out) {
  if (started_) return;
  started_ = true;
  stuffer_.Append(headers_, out);
  std::string().swap(headers_);
}

void Pop3CleanWriter::Settle(std::string* out) {
  while (next_ < edits_.size()) {
    const spool::ContentEdit& e = edits_[next_];
    if (!replaced_) {
      if (e.begin != at_) return;
      stuffer_.Append(e.replacement, out);
      replaced_ = true;
    }
    if (e.end != at_) return;
    ++next_;
    replaced_ = false;
  }
}

void Pop3CleanWriter::Feed(std::string_view original, std::string* out) {
  Start(out);
  for (;;) {
    Settle(out);
    if (original.empty()) return;
    size_t n = original.size();
    if (next_ < edits_.size()) {
      const spool::ContentEdit& e = edits_[next_];
      // Inside an edit its bytes are dropped; before one they go out up to its start.
      n = std::min<uint64_t>(n, replaced_ ? e.end - at_ : e.begin - at_);
      if (!replaced_) stuffer_.Append(original.substr(0, n), out);
    } else {
      stuffer_.Append(original, out);
    }
    original.remove_prefix(n);
    at_ += n;
  }
}

void Pop3CleanWriter::Finish(std::string* out) {
  Start(out);
  Settle(out);
  stuffer_.Finish(out);
}

}  // namespace kensa::net
