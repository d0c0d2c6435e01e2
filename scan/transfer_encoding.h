// SPDX-License-Identifier: GPL-2.0-or-later
// Content-Transfer-Encoding decoders, streaming: Feed() takes any split of the encoded bytes and
// appends what it can decode so far; Finish() flushes a partial quantum or line. They are as
// tolerant as mail clients are (whitespace, junk characters, missing padding, soft line breaks
// at the very end), because a virus hides in whatever a client would still decode.
#ifndef KENSA_SCAN_TRANSFER_ENCODING_H_
#define KENSA_SCAN_TRANSFER_ENCODING_H_

#include <memory>
#include <string>
#include <string_view>

namespace kensa::scan {

enum class TransferEncoding { kIdentity, kBase64, kQuotedPrintable, kUuencode };

// A Content-Transfer-Encoding header value to an encoding. Case, surrounding whitespace and
// (comments) are ignored; "x-uuencode", "x-uue", "uuencode", "uue" are uuencode; 7bit, 8bit,
// binary and anything unknown are identity (RFC 2045 6.4: treat unknown as opaque data, which
// libclamav still sees byte for byte).
TransferEncoding ParseTransferEncoding(std::string_view header_value);
std::string_view TransferEncodingName(TransferEncoding e);

class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Decodes `in`, appending the decoded bytes to *out.
  virtual void Feed(std::string_view in, std::string* out) = 0;
  // End of the encoded stream: appends whatever a partial quantum or line still yields.
  virtual void Finish(std::string* out) = 0;
};

std::unique_ptr<StreamDecoder> NewStreamDecoder(TransferEncoding e);

// One-shot helpers (tests, small inputs).
std::string DecodeBase64(std::string_view in);
std::string DecodeQuotedPrintable(std::string_view in);
std::string EncodeBase64(std::string_view in, size_t line_length = 76, std::string_view eol = "\r\n");

// Finds uuencoded files inside a text stream, the way mail clients do: a line
// "begin <octal mode> <name>" opens a file, encoded lines follow, "end" (or the end of the
// stream, or a line that cannot be uuencode) closes it. Lines may end in CRLF or LF.
// Memory is bounded: a line longer than max_line_bytes is not uuencode and is skipped.
class UuencodeExtractor {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void OnFileBegin(std::string_view name) = 0;
    virtual void OnFileData(std::string_view decoded) = 0;
    virtual void OnFileEnd() = 0;
  };
  explicit UuencodeExtractor(Sink* sink, size_t max_line_bytes = 4096);
  ~UuencodeExtractor();
  void Feed(std::string_view text);
  void Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_TRANSFER_ENCODING_H_
