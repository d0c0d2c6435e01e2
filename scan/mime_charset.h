// SPDX-License-Identifier: GPL-2.0-or-later
// Text in a named charset to UTF-8 (glibc iconv), and RFC 2047 encoded-words
// ("=?charset?B|Q?text?=") to UTF-8. Used for attachment names only, so both are lenient:
// an unknown charset or an invalid byte never fails, it becomes U+FFFD.
#ifndef KENSA_SCAN_MIME_CHARSET_H_
#define KENSA_SCAN_MIME_CHARSET_H_

#include <string>
#include <string_view>

namespace kensa::scan {

// `bytes` in `charset` (any name iconv knows, case-insensitive; empty means US-ASCII/UTF-8)
// as UTF-8. Invalid sequences and an unknown charset give U+FFFD per bad byte.
std::string CharsetToUtf8(std::string_view charset, std::string_view bytes);

// Decodes every RFC 2047 encoded-word in `text`, wherever it stands (clients decode them in
// quoted strings and parameter values too, against the RFC); whitespace between two adjacent
// encoded-words is dropped. Text outside encoded-words is kept as is.
std::string DecodeEncodedWords(std::string_view text);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_CHARSET_H_
