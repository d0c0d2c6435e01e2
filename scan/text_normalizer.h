// SPDX-License-Identifier: GPL-2.0-or-later
// TextNormalizer: libclamav's text normalisation (textnorm.c), which it applies to text objects
// before matching its text signatures: ASCII letters lowercased, every run of whitespace
// (\t \n \v \f \r and space) made one space, control characters and every byte above 0x7f
// dropped. Streaming: a run of whitespace may span chunks.
#ifndef KENSA_SCAN_TEXT_NORMALIZER_H_
#define KENSA_SCAN_TEXT_NORMALIZER_H_

#include <string>
#include <string_view>

namespace kensa::scan {

class TextNormalizer {
 public:
  // Normalises `in` into `*out` (replacing its content); returns *out.
  std::string_view Normalize(std::string_view in, std::string* out);

 private:
  bool space_written_ = false;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_TEXT_NORMALIZER_H_
