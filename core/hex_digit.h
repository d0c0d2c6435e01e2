// SPDX-License-Identifier: GPL-2.0-or-later
// The value of one hexadecimal digit, either case: what quoted-printable, ClamAV's hex
// signatures and libclamav's file-type table all spell bytes with.
#ifndef KENSA_CORE_HEX_DIGIT_H_
#define KENSA_CORE_HEX_DIGIT_H_

namespace kensa {

// 0-15, or -1 when `c` is not a hex digit.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace kensa

#endif  // KENSA_CORE_HEX_DIGIT_H_
