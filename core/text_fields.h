// SPDX-License-Identifier: GPL-2.0-or-later
// Field splitting and number parsing for signature database lines (the prefilter's derivation,
// libclamav's file-type table), on std::string_view (Debian's Abseil build has its own
// string_view type, which these lines never need).
#ifndef KENSA_CORE_TEXT_FIELDS_H_
#define KENSA_CORE_TEXT_FIELDS_H_

#include <charconv>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kensa {

inline std::vector<std::string_view> SplitFields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

template <typename Int>
bool ParseNumber(std::string_view s, Int* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

inline std::string_view StripWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace kensa

#endif  // KENSA_CORE_TEXT_FIELDS_H_
