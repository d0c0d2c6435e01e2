// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer harness for the prefilter's readers of signature database text: hex body patterns,
// logical subsignatures (with offsets and modifiers) and logical expressions. Signature files
// come from the update channel, so a bad line must be an error or "no literal", never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "sigs/hex_signature.h"
#include "sigs/logical_expression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)kensa::sigs::ExtractRequiredLiterals(in);
  (void)kensa::sigs::ExtractSubsignatureLiterals(in);
  std::vector<bool> zero;
  for (size_t i = 0; i < std::min<size_t>(size, 64); ++i) zero.push_back(data[i] & 1);
  (void)kensa::sigs::ExpressionCanBeTrue(in, zero);
  return 0;
}
