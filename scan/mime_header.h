// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 5322 header blocks as clients read them: which line still belongs to the header block,
// and the block's fields unfolded (CRLF or LF line endings, folded lines, obsolete
// "name WSP :" syntax, a leading mbox "From " line).
#ifndef KENSA_SCAN_MIME_HEADER_H_
#define KENSA_SCAN_MIME_HEADER_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "scan/mime_parser.h"

namespace kensa::scan {

// True when `line` (without its line ending) continues a header block: a field
// ("name" *WSP ":" ..., where name is printable ASCII without ':'), or a folded line
// (starts with SP or HT). Anything else, including an empty line, ends the block; clients
// (Python's email, Thunderbird) read such a line as the first line of the body.
bool IsHeaderLine(std::string_view line);

// True for the mbox separator "From " that may open a stored message; it belongs to the
// header block although it is not a field.
bool IsMboxFromLine(std::string_view line);

// Calls `field` for each field of `block` (header lines with their line endings), in order.
// `base` is the raw offset of block[0]. Lines that are not fields and precede the first field
// (a leading folded line, an mbox "From " line) are skipped.
void ForEachHeaderField(std::string_view block, uint64_t base,
                        const std::function<void(MimeHeader&&)>& field);

bool HeaderNameIs(std::string_view name, std::string_view lower_case_name);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_HEADER_H_
