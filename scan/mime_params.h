// SPDX-License-Identifier: GPL-2.0-or-later
// Content-Type and Content-Disposition values, read as tolerantly as mail clients read them:
// any case, (comments), quoted or bare or folded values, spaces around '=', a missing
// subtype, RFC 2231 continuations (name*0=, name*1*=) and charsets (name*=utf-8''%E2...),
// RFC 2047 encoded-words inside a filename (not standard, but every client decodes them).
#ifndef KENSA_SCAN_MIME_PARAMS_H_
#define KENSA_SCAN_MIME_PARAMS_H_

#include <string>
#include <string_view>
#include <vector>

namespace kensa::scan {

struct MimeParam {
  std::string name;   // lower case, without the RFC 2231 "*n*" suffixes
  std::string value;  // continuations joined; %-decoded, and converted to UTF-8 when a
                      // charset is given; otherwise the bytes as written
};

// The parameters after the first ';' of a structured header value, in order of appearance.
// A name that appears more than once is listed once per appearance: duplicates are
// ambiguities the caller may have to report.
std::vector<MimeParam> ParseMimeParams(std::string_view value);

struct ContentType {
  std::string media_type;               // lower case "type/subtype"; see ParseContentType
  std::string charset;                  // lower case
  std::vector<std::string> boundaries;  // every distinct boundary value, first one first
  std::string name;                     // "name" parameter, UTF-8
};

// A value without a subtype is read as clients do: "multipart" is multipart/mixed, "text"
// text/plain, anything else application/octet-stream. An empty or unparsable value is
// text/plain (RFC 2045 5.2).
ContentType ParseContentType(std::string_view value);

// The filename parameter of a Content-Disposition value (UTF-8), empty when there is none.
std::string DispositionFilename(std::string_view value);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_PARAMS_H_
