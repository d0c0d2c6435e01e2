// SPDX-License-Identifier: GPL-2.0-or-later
// Private to scan/: the quoted-printable stream decoder with its limit as a setting.
#ifndef KENSA_SCAN_QUOTED_PRINTABLE_DECODER_H_
#define KENSA_SCAN_QUOTED_PRINTABLE_DECODER_H_

#include <cstddef>
#include <memory>

#include "scan/transfer_encoding.h"

namespace kensa::scan::quoted_printable {

struct Limits {
  // Spaces and tabs held back because they may be trailing whitespace (removed at a line end)
  // or sit between '=' and a soft line break. A longer run is plain data: it is let through
  // (or, after '=', the '=' is literal). 998 is RFC 5322's longest line.
  size_t max_held_whitespace = 998;
};

std::unique_ptr<StreamDecoder> NewDecoder(const Limits& limits = {});

}  // namespace kensa::scan::quoted_printable

#endif  // KENSA_SCAN_QUOTED_PRINTABLE_DECODER_H_
