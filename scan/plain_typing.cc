// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/plain_typing.h"

#include <algorithm>
#include <array>

#include "scan/file_type_table.h"

namespace kensa::scan {
namespace {

// textdet.c's text_chars: 0 never in text, 1 plain ASCII text, 2 ISO-8859, 3 extended ASCII.
constexpr std::array<uint8_t, 256> kTextChars = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = 1;
  for (int c : {0x07, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1b}) t[c] = 1;
  for (int c = 0x80; c < 0xa0; ++c) t[c] = 3;
  t[0x85] = 1;  // NEL
  for (int c = 0xa0; c < 0x100; ++c) t[c] = 2;
  return t;
}();

bool IsAscii(std::string_view b) {
  return std::none_of(b.begin(), b.end(),
                      [](char c) { return kTextChars[static_cast<uint8_t>(c)] == 0; });
}

// td_isutf8, including its leniencies: five- and six-byte forms, and a sequence cut by the
// end of the head counts.
bool IsUtf8(std::string_view s) {
  const auto* buf = reinterpret_cast<const uint8_t*>(s.data());
  const size_t len = s.size();
  bool gotone = false;
  for (size_t i = 0; i < len; ++i) {
    if ((buf[i] & 0x80) == 0) {
      if (kTextChars[buf[i]] != 1) return false;
    } else if ((buf[i] & 0x40) == 0) {
      return false;
    } else {
      unsigned following;
      if ((buf[i] & 0x20) == 0)
        following = 1;
      else if ((buf[i] & 0x10) == 0)
        following = 2;
      else if ((buf[i] & 0x08) == 0)
        following = 3;
      else if ((buf[i] & 0x04) == 0)
        following = 4;
      else if ((buf[i] & 0x02) == 0)
        following = 5;
      else
        return false;
      for (unsigned j = 0; j < following; ++j) {
        if (++i >= len) return gotone;
        if ((buf[i] & 0x80) == 0 || (buf[i] & 0x40)) return false;
      }
      gotone = true;
    }
  }
  return gotone;
}

// td_isutf16: 0 no, 1 little-endian, 2 big-endian (the guess without a byte-order mark).
int Utf16Kind(std::string_view s) {
  const auto* buf = reinterpret_cast<const uint8_t*>(s.data());
  const size_t len = s.size();
  if (len < 2) return 0;
  bool be = true, nobom = false;
  if (buf[0] == 0xff && buf[1] == 0xfe)
    be = false;
  else if (!(buf[0] == 0xfe && buf[1] == 0xff))
    nobom = true;
  size_t bad = 0;
  for (size_t i = 2; i + 1 < len; i += 2) {
    const unsigned c = be ? buf[i + 1] + 256u * buf[i] : buf[i] + 256u * buf[i + 1];
    if (c == 0xfffe) return 0;
    if (c < 128 && kTextChars[c] != 1) {
      if (nobom) return 0;
      ++bad;
    }
  }
  if (!nobom && bad >= len / 2) return 0;
  return be ? 2 : 1;
}

bool IsSpace(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// is_tar.c's from_oct over the 8-byte checksum field.
int FromOct(const uint8_t* where) {
  int digs = 8;
  while (IsSpace(*where)) {
    ++where;
    if (--digs <= 0) return -1;
  }
  int value = 0;
  while (digs > 0 && *where >= '0' && *where <= '7') {
    value = (value << 3) | (*where++ - '0');
    --digs;
  }
  if (digs > 0 && *where && !IsSpace(*where)) return -1;
  return value;
}

// is_tar: a 512-byte header whose checksum field holds the sum of its bytes.
bool IsTarHeader(std::string_view head) {
  constexpr size_t kRecord = 512, kChecksumAt = 148, kChecksumLen = 8;
  if (head.size() < kRecord) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(head.data());
  const int recorded = FromOct(b + kChecksumAt);
  int sum = 0;
  for (size_t i = 0; i < kRecord; ++i) sum += b[i];
  for (size_t i = 0; i < kChecksumLen; ++i) sum -= b[kChecksumAt + i];
  sum += ' ' * static_cast<int>(kChecksumLen);
  return sum == recorded;
}

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// special.c's cli_check_mydoom_log: whether it would report Heuristics.Worm.Mydoom.M.log.
bool MydoomLog(std::string_view head, uint64_t size) {
  uint64_t blocks = size / 32;
  if (blocks < 2) return false;
  blocks = std::min<uint64_t>(blocks, 5);
  if (head.size() < 32 * blocks) return true;  // cannot tell: let libclamav look
  const auto* b = reinterpret_cast<const uint8_t*>(head.data());
  for (uint64_t w = 0; w < blocks; ++w) {
    if (b[4 * w] == 0xff && b[4 * w + 1] == 0xff && b[4 * w + 2] == 0xff && b[4 * w + 3] == 0xff) {
      return false;
    }
  }
  for (size_t half : {0, 8}) {
    const uint32_t key = ~Be32(b + 4 * half);
    uint32_t check = 0;
    for (size_t w = half + 1; w < half + 8; ++w) check += Be32(b + 4 * w) ^ key;
    if (~check != key) return false;
  }
  return true;
}

// encoding_detect_bom with a width over one: UTF-16 and UCS-4 marks, which send the head to
// a second HTML check after conversion.
bool WideEncodingMark(std::string_view head) {
  if (head.size() < 4) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(head.data());
  switch (b[0]) {
    case 0x00:
      return (b[1] == 0x00 && ((b[2] == 0xfe && b[3] == 0xff) || (b[2] == 0xff && b[3] == 0xfe) ||
                               (b[2] == 0x00 && b[3] == 0x3c) || (b[2] == 0x3c && b[3] == 0x00))) ||
             (b[1] == 0x3c && b[2] == 0x00 && (b[3] == 0x00 || b[3] == 0x3f));
    case 0xff:
      return b[1] == 0xfe;
    case 0xfe:
      return b[1] == 0xff;
    case 0x3c:
      return b[1] == 0x00 && ((b[2] == 0x00 && b[3] == 0x00) || (b[2] == 0x3f && b[3] == 0x00));
    default:
      return false;
  }
}

}  // namespace

std::string_view TextTypeOf(std::string_view head) {
  if (IsAscii(head)) return "CL_TYPE_TEXT_ASCII";
  if (IsUtf8(head)) return "CL_TYPE_TEXT_UTF8";
  switch (Utf16Kind(head)) {
    case 1:
      return "CL_TYPE_TEXT_UTF16LE";
    case 2:
      return "CL_TYPE_TEXT_UTF16BE";
    default:
      return "CL_TYPE_BINARY_DATA";
  }
}

std::optional<std::string_view> PlainTypeOf(std::string_view head, uint64_t size) {
  head = head.substr(0, std::min<uint64_t>(size, FileTypeTable::kTypingBytes));
  if (head.empty() || WideEncodingMark(head)) return std::nullopt;
  const std::string_view type = TextTypeOf(head);
  if (type == "CL_TYPE_BINARY_DATA" && IsTarHeader(head)) return std::nullopt;
  if ((type == "CL_TYPE_BINARY_DATA" || type == "CL_TYPE_TEXT_UTF16BE") && MydoomLog(head, size)) {
    return std::nullopt;
  }
  return type;
}

std::string Utf16Folded(std::string_view head) {
  std::string out;
  if (head.size() < 2) return out;
  const size_t len = head.size() & ~size_t{1};
  out.reserve(len / 2);
  for (size_t i = 0; i < len; i += 2) {
    out.push_back(static_cast<char>((static_cast<uint8_t>(head[i + 1]) << 4) +
                                    static_cast<uint8_t>(head[i])));
  }
  return out;
}

}  // namespace kensa::scan
