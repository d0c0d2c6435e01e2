// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer harness for the prefilter's readers of signature database text: hex body patterns,
// logical subsignatures (with offsets and modifiers) and logical expressions, and the file-type
// table's reading of .ftm patterns. Signature files come from the update channel, so a bad line
// must be an error or "no literal", never a crash. The same bytes are also typed as an object
// (scan/plain_typing.h), which reads whatever a message carries.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "scan/file_type_table.h"
#include "scan/plain_typing.h"
#include "sigs/hex_signature.h"
#include "sigs/logical_expression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)kensa::sigs::ExtractRequiredLiterals(in);
  (void)kensa::sigs::ExtractSubsignatureLiterals(in);
  std::vector<bool> zero;
  for (size_t i = 0; i < std::min<size_t>(size, 64); ++i) zero.push_back(data[i] & 1);
  (void)kensa::sigs::ExpressionCanBeTrue(in, zero);
  (void)kensa::scan::HexPatternToRegex(in);
  (void)kensa::scan::PlainTypeOf(in, size);
  (void)kensa::scan::Utf16Folded(in.substr(0, kensa::scan::FileTypeTable::kTypingBytes));
  return 0;
}
