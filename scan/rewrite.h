// SPDX-License-Identifier: GPL-2.0-or-later
// Rewriting of infected messages, as edits over the original bytes: each infected (or
// unscannable) leaf part is replaced by a text/plain UTF-8 notice in Japanese and English that
// names the file and the virus; every other byte of the message, MIME structure included,
// stays as it was. The queue file keeps the original and these edits; delivery applies them.
//
//   * a multipart child: its Content-Type / Content-Transfer-Encoding / Content-Disposition
//     fields are removed, the notice's own fields are inserted before its blank line, and its
//     body becomes the notice (base64: the body then cannot contain a boundary delimiter,
//     whatever file or virus name it quotes).
//   * a message body (the top-level message or a message/rfc822 one, single part): the same,
//     on that message's header block, so From/To/Subject stay; MIME-Version is added at the
//     top level when it is missing.
//   * preamble or epilogue text: replaced by an empty line.
// Overlapping findings (two readings of one range, a part inside a replaced one) collapse into
// the outermost replacement. Edits use the line ending of the part they replace.
#ifndef KENSA_SCAN_REWRITE_H_
#define KENSA_SCAN_REWRITE_H_

#include <string>
#include <vector>

#include "scan/clam_engine.h"
#include "scan/mime_parser.h"
#include "spool/queue_file.h"

namespace kensa::scan {

struct PartFinding {
  MimePart part;      // the leaf as the parser reported it (offsets final)
  ScanResult result;  // kInfected or kUnscannable
};

struct NoticeContext {
  std::string queue_id;
  std::string hostname;
  std::string signature_version;
};

// The reason shown outside (notice, trace header, SMTP reply) for a finding: its name, except
// that a "scan error" shows only the part (file name, else "part <id>"), never the error's
// detail, which may name local paths. Not yet sanitised.
std::string ShownReason(const PartFinding& finding);

// The notice text (UTF-8, lines joined by `eol`) for the findings of one part.
std::string NoticeText(const PartFinding& finding, const NoticeContext& ctx, std::string_view eol);

// Edits (sorted, non-overlapping, in raw-message offsets) that clean the message.
std::vector<spool::ContentEdit> CleaningEdits(const std::vector<PartFinding>& findings,
                                              const NoticeContext& ctx);

// Trace header lines prepended to a scanned copy (CRLF-terminated):
//   X-Virus-Scanned: kensa <hostname>; signatures <version>
//   X-Virus-Status: Clean | Infected (<names>) | Unscannable (<reasons>); <n> part(s) replaced
// Names are sanitised to printable ASCII and folded to keep every line under 998 octets.
std::string VirusHeaders(const std::vector<PartFinding>& findings, const NoticeContext& ctx);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_REWRITE_H_
