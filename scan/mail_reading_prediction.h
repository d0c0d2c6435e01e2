// SPDX-License-Identifier: GPL-2.0-or-later
// libclamav's own reading of a message (its MIME parser, the whole-message second reading),
// predicted from kensa's reading for messages plain enough that the two cannot differ in
// structure. For such a message every object libclamav's reading would scan is either a part
// kensa already scanned (a base64 part decodes to the same bytes) or the line form of an
// identity-encoded part: libclamav stores a part's lines and writes each back with a bare LF
// (so "a\r\nb" becomes "a\nb\n"). Scanning those line forms, and clearing the raw message's own
// bytes by the prefilter's literals and hashes, then stands for the whole libclamav pass.
//
// "Plain" is narrow on purpose; anything else gets libclamav's real reading:
//   - the raw message is text (printable ASCII, tab, well-formed UTF-8 without C1 controls)
//     in CRLF lines of at most 998 bytes, ending in CRLF, and starts with a header field
//     libclamav types as mail;
//   - kensa's parser saw one reading (no alternate views, no limit hit);
//   - every container is multipart/* with one plain boundary parameter and its close delimiter;
//   - every leaf is identity, canonical base64 (whole 4-character groups, padding only at the
//     end) or canonical quoted-printable ('=' only before two hex digits or at a line's end),
//     not message/* or TNEF;
//   - no body line that libclamav's parser treats specially: a delimiter-like "--" line, a
//     header-like "Name:" or "From " line (bounces, embedded messages), uuencode's "begin ",
//     yEnc's "=ybegin", and no "BinHex" anywhere.
// tests/... and scan/mail_reading_prediction_test.cc compare the prediction with libclamav's
// actual reading over real corpora.
#ifndef KENSA_SCAN_MAIL_READING_PREDICTION_H_
#define KENSA_SCAN_MAIL_READING_PREDICTION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "scan/mime_parser.h"

namespace kensa::scan {

struct MailReadingPrediction {
  bool plain = false;
  std::string why_not;  // when not plain: the first reason found
  // The line form of each identity or quoted-printable leaf libclamav reads (preambles it does
  // not), by index into the leaves given. Base64 leaves need none: libclamav decodes them to
  // the bytes kensa's decoder gave.
  struct LineForm {
    size_t leaf = 0;
    std::string bytes;
  };
  std::vector<LineForm> line_forms;
};

// `raw` is the whole message; `leaves` and `containers` are every part kensa's parser
// reported (leaves with their final offsets).
MailReadingPrediction PredictMailReading(std::string_view raw, const std::vector<MimePart>& leaves,
                                         const std::vector<MimePart>& containers);

// How libclamav stores the lines of a body (mbox.c parseEmailFile, message.c messageAddStr).
struct LineStore {
  bool collapse_empty_lines = false;  // an empty line after a stored empty line is dropped
  bool after_empty_line = false;      // the line stored before the body was empty
  // Each stored line is quoted-printable (canonical), decoded as libclamav decodes it.
  bool quoted_printable = false;
};

// libclamav's line form of the body [begin, end) of `raw`: every line, CRLF-terminated or the
// unterminated rest, written back with LF. A body followed by a delimiter ends with the empty
// line whose CRLF belongs to the delimiter, as libclamav reads it. A line of white space is
// one space (dropped after another one), and empty lines are stored as `store` says.
std::string LineFormOf(std::string_view raw, uint64_t begin, uint64_t end, LineStore store = {});

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MAIL_READING_PREDICTION_H_
