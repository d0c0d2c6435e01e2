// SPDX-License-Identifier: GPL-2.0-or-later
// Private to scan/: the pieces of uuencode shared by UuencodeExtractor and the x-uuencode
// stream decoder — line splitting, the begin/end lines, and decoding of one encoded line.
#ifndef KENSA_SCAN_UUENCODE_EXTRACTOR_H_
#define KENSA_SCAN_UUENCODE_EXTRACTOR_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "scan/transfer_encoding.h"

namespace kensa::scan::uuencode {

struct Limits {
  // A longer line is not uuencode (a full uuencode line is 62 bytes); it is skipped, not held.
  size_t max_line_bytes = 4096;
};

// The file name of a line "begin <3-4 octal digits> <name>", or nullopt.
std::optional<std::string_view> ParseBeginLine(std::string_view line);
bool IsEndLine(std::string_view line);

// Decodes one encoded line (no line break), appending its bytes to *out; false (and nothing
// appended) when the line cannot be uuencode. '`' and ' ' are both zero; characters past what
// the length character announces are ignored. Unless `complete_only`, a line shorter than its
// length character announces is padded with zeros: transports strip trailing spaces, which
// encode zero bits.
bool DecodeLine(std::string_view line, bool complete_only, std::string* out);

// Cuts a stream into lines (LF or CRLF, the break removed) whatever the Feed() split, holding
// at most max_line_bytes; a longer line is reported once, at its end, as overlong and empty.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  template <typename OnLine>  // void(std::string_view line, bool overlong)
  void Feed(std::string_view in, OnLine&& on_line) {
    while (!in.empty()) {
      const size_t lf = in.find('\n');
      const std::string_view piece = in.substr(0, lf);
      if (!overlong_) {
        if (line_.size() + piece.size() > max_line_bytes_) {
          overlong_ = true;
          line_.clear();
        } else if (lf != std::string_view::npos && line_.empty()) {
          Deliver(piece, on_line);  // The whole line is in this piece: no copy.
          in.remove_prefix(lf + 1);
          continue;
        } else {
          line_.append(piece);
        }
      }
      if (lf == std::string_view::npos) return;
      Deliver(line_, on_line);
      in.remove_prefix(lf + 1);
    }
  }

  template <typename OnLine>
  void Finish(OnLine&& on_line) {
    if (!line_.empty() || overlong_) Deliver(line_, on_line);
  }

 private:
  template <typename OnLine>
  void Deliver(std::string_view line, OnLine& on_line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool overlong = overlong_;
    on_line(overlong ? std::string_view() : line, overlong);
    line_.clear();
    overlong_ = false;
  }

  const size_t max_line_bytes_;
  std::string line_;
  bool overlong_ = false;
};

// The stream decoder of NewStreamDecoder(kUuencode).
std::unique_ptr<StreamDecoder> NewDecoder(const Limits& limits = {});

}  // namespace kensa::scan::uuencode

#endif  // KENSA_SCAN_UUENCODE_EXTRACTOR_H_
