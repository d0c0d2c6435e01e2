// SPDX-License-Identifier: GPL-2.0-or-later
// Little-endian integers and length-prefixed strings in a byte string, for the prefilter's
// caches: written by this program, read back by it, every read bounds-checked (a cache file
// that was cut short or overwritten reads as an error, never past its end).
#ifndef KENSA_SCAN_BYTE_RECORD_H_
#define KENSA_SCAN_BYTE_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace kensa::scan {

inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

inline void PutString(std::string* out, std::string_view s) {
  PutU64(out, s.size());
  out->append(s);
}

inline bool GetU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<uint8_t>((*in)[i])} << (8 * i);
  in->remove_prefix(8);
  return true;
}

inline bool GetString(std::string_view* in, std::string* s) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || n > in->size()) return false;
  s->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

}  // namespace kensa::scan

#endif  // KENSA_SCAN_BYTE_RECORD_H_
