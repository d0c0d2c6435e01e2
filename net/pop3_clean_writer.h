// SPDX-License-Identifier: GPL-2.0-or-later
// Pop3CleanWriter: the scanned copy of a POP3 message as the client receives it after "+OK":
// the scan's header fields, the original with the cleaning edits applied, dot-stuffed, and the
// final "." line. The original is handed over in pieces, in order, cut anywhere (an edit may
// span pieces), so a large message streams out from its spool file in bounded memory. The
// bytes are those of Pop3DotStuff(headers + spool::ApplyEdits(original, edits)).
#ifndef KENSA_NET_POP3_CLEAN_WRITER_H_
#define KENSA_NET_POP3_CLEAN_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "net/pop3_dot_codec.h"
#include "spool/queue_file.h"

namespace kensa::net {

class Pop3CleanWriter {
 public:
  Pop3CleanWriter(std::string headers, std::vector<spool::ContentEdit> edits);

  // Whether the edits fit an original of `size` bytes (spool::CheckEdits): check before the
  // first piece; pieces fed with edits that do not fit are a programming error.
  absl::Status Check(uint64_t size) const;
  // Appends to *out what the next piece of the original becomes.
  void Feed(std::string_view original, std::string* out);
  // After the last piece: edits at the very end, then the end of the response.
  void Finish(std::string* out);
  // Original bytes fed so far.
  uint64_t consumed() const { return at_; }

 private:
  void Start(std::string* out);
  // Emits the replacements of the edits that begin at at_, and leaves those that end there.
  void Settle(std::string* out);

  std::string headers_;
  std::vector<spool::ContentEdit> edits_;
  Pop3DotStuffer stuffer_;
  bool started_ = false;
  size_t next_ = 0;            // the first edit not yet left behind
  bool replaced_ = false;      // edits_[next_]'s replacement is out
  uint64_t at_ = 0;
};

}  // namespace kensa::net

#endif  // KENSA_NET_POP3_CLEAN_WRITER_H_
