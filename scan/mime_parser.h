// SPDX-License-Identifier: GPL-2.0-or-later
// MimeParser: a streaming RFC 5322 / RFC 2045-2046 parser fed the raw message as it arrives
// (no second pass, bounded memory). It tells its sink, per leaf part, where the part lies in
// the raw message and its headers, then the part's decoded content in pieces, then its end.
//
// Lenient the way mail clients are: folded and duplicate headers, unquoted or folded
// boundaries, text before the first boundary, a missing final boundary, LF or CRLF line
// endings, bodies without a blank line. Where clients could read the bytes in two ways (two
// Content-Type or Content-Transfer-Encoding headers, a boundary that is also a prefix of
// another, ...), the parser reports every reading: the same byte range then appears as more
// than one leaf, the extra ones with alternate_view set. The scanner scans them all.
//
// message/rfc822 (and message/global) bodies are parsed recursively as messages; multipart/*
// bodies are split at their boundaries; every other part is a leaf. Preamble and epilogue
// text of a multipart is reported as a leaf too (role kPreamble/kEpilogue): some clients show
// it, and uuencoded files hide there.
#ifndef KENSA_SCAN_MIME_PARSER_H_
#define KENSA_SCAN_MIME_PARSER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scan/transfer_encoding.h"

namespace kensa::scan {

struct MimeLimits {
  size_t max_depth = 32;                 // nested multipart + message/rfc822 levels
  size_t max_parts = 2000;               // parts of any kind in one message
  size_t max_header_bytes = 1 << 20;     // one header block (folded lines included)
  size_t max_headers_kept = 256;         // header fields remembered per part (rest counted)
  // Added with the implementation (bounds that the readings and line handling need):
  size_t max_readings = 8;               // leaves for one part whose headers disagree
  size_t max_alternate_parsers = 8;      // second structural readings parsed at one time
  size_t max_delimiter_padding = 1024;   // padding after a boundary kept to decide a line
  size_t max_held_whitespace = 4096;     // blank preamble/epilogue held before it counts
};

struct MimeHeader {
  std::string name;    // as written (compare case-insensitively)
  std::string value;   // unfolded (CR LF removed, continuation kept), not RFC 2047 decoded
  uint64_t begin = 0;  // raw offset of the field's first byte
  uint64_t end = 0;    // one past its last line ending
};

enum class PartRole {
  kMessageBody,     // the body of the top-level message or of a message/rfc822 part; its
                    // headers are that message's headers
  kMultipartChild,  // a body part between two boundary delimiters
  kPreamble,        // text before a multipart's first delimiter (no headers)
  kEpilogue,        // text after its close delimiter (no headers)
};

struct MimePart {
  uint32_t id = 0;         // unique within the message, in order of appearance
  int32_t parent = -1;     // id of the enclosing multipart or message part, -1 for the root
  uint32_t depth = 0;
  PartRole role = PartRole::kMessageBody;
  bool alternate_view = false;  // a second reading of bytes already reported as a leaf
  // Raw offsets in the message as fed:
  //   [header_begin, header_end)  the header fields
  //   [header_end, body_begin)    the blank line (empty when the part has none)
  //   [body_begin, body_end)      the body, without the line ending that belongs to the
  //                               next boundary delimiter
  uint64_t header_begin = 0, header_end = 0, body_begin = 0, body_end = 0;
  std::vector<MimeHeader> headers;
  std::string media_type = "text/plain";  // lower case "type/subtype" (RFC 2045 default)
  std::string charset;
  std::string boundary;                   // for multipart/*
  std::string filename;                   // UTF-8, RFC 2231/2047 decoded, from
                                          // Content-Disposition filename or Content-Type name
  TransferEncoding encoding = TransferEncoding::kIdentity;
  bool crlf = true;                       // the part's lines end in CRLF (else LF)
};

class MimeSink {
 public:
  virtual ~MimeSink() = default;
  // A multipart or message/rfc822 part whose body will be split further: offsets up to
  // body_begin are final. Reported before any of its children.
  virtual void OnContainerBegin(const MimePart& part) {}
  // Offsets up to body_begin are final; body_end is not known yet.
  virtual void OnLeafBegin(const MimePart& part) = 0;
  virtual void OnLeafData(uint32_t part_id, std::string_view decoded) = 0;
  // Every offset is final.
  virtual void OnLeafEnd(const MimePart& part) = 0;
  // A limit was hit (depth, part count, header size): what is beyond it is still reported,
  // as leaf content, but the message can no longer be read the way a client would.
  virtual void OnLimitExceeded(std::string_view what) = 0;
};

class MimeParser {
 public:
  MimeParser(const MimeLimits& limits, MimeSink* sink);
  ~MimeParser();
  void Feed(std::string_view raw);
  // End of the message: closes every open part (a missing close delimiter is normal).
  void Finish();
  uint64_t bytes_fed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_PARSER_H_
