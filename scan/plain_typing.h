// SPDX-License-Identifier: GPL-2.0-or-later
// What libclamav 1.4 makes of an object that none of its file-type entries types
// (FileTypeTable: no magic at its offset, no pattern anywhere in it or in the bytes
// cli_determine_fmap_type reads again as UTF-16): cli_texttype over its first 1024 bytes gives
// CL_TYPE_TEXT_ASCII, CL_TYPE_TEXT_UTF8, CL_TYPE_TEXT_UTF16LE/BE or CL_TYPE_BINARY_DATA, and
// libclamav then matches the object's bytes (and, for text, its normalised text) and unpacks
// nothing. Ported from libclamav's textdet.c, is_tar.c, special.c and filetypes.c; where
// libclamav would look further (a byte-order mark, a tar header, the Mydoom log heuristic)
// there is no plain type and the object goes to libclamav.
#ifndef KENSA_SCAN_PLAIN_TYPING_H_
#define KENSA_SCAN_PLAIN_TYPING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kensa::scan {

// `head`: the object's first min(size, FileTypeTable::kTypingBytes) bytes; `size`: all of it.
// The libclamav type name, or nullopt.
std::optional<std::string_view> PlainTypeOf(std::string_view head, uint64_t size);

// cli_texttype alone.
std::string_view TextTypeOf(std::string_view head);

// The bytes cli_determine_fmap_type matches file-type patterns against a second time, reading
// the head as UTF-16 (cli_utf16toascii: each pair of bytes folded into one).
std::string Utf16Folded(std::string_view head);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_PLAIN_TYPING_H_
