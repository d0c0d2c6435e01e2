// SPDX-License-Identifier: GPL-2.0-or-later
// ASCII case-insensitive comparison of std::string_view (Debian's Abseil has its own
// string_view type, so absl::EqualsIgnoreCase does not take these).
#ifndef KENSA_CORE_ASCII_CASE_H_
#define KENSA_CORE_ASCII_CASE_H_

#include <string_view>

#include "absl/strings/ascii.h"

namespace kensa {

inline bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace kensa

#endif  // KENSA_CORE_ASCII_CASE_H_
