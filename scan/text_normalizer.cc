// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/text_normalizer.h"

namespace kensa::scan {

std::string_view TextNormalizer::Normalize(std::string_view in, std::string* out) {
  out->resize(in.size());
  char* p = out->data();
  for (unsigned char c : in) {
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
      if (!space_written_) *p++ = ' ';
      space_written_ = true;
    } else if (c > 0x20 && c < 0x80) {
      *p++ = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      space_written_ = false;
    }
    // else: control characters and bytes above 0x7f are skipped, as libclamav skips them
  }
  out->resize(static_cast<size_t>(p - out->data()));
  return *out;
}

}  // namespace kensa::scan
