// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mime_charset.h"

#include <iconv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// UTF-8 input is still validated: a name is shown to people and logged.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (ok && n == 2) ok = c >= 0xC2;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string CharsetToUtf8(std::string_view charset, std::string_view bytes) {
  std::string cs = AsciiLower(charset);
  if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii") return ValidUtf8(bytes);
  bool ascii_compatible = cs.find("utf-16") == std::string::npos &&
                          cs.find("utf-32") == std::string::npos &&
                          cs.find("utf-7") == std::string::npos &&
                          cs.find("2022") == std::string::npos;
  if (ascii_compatible && IsAscii(bytes)) return std::string(bytes);
  iconv_t cd = iconv_open("UTF-8", cs.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return ValidUtf8(bytes);
  std::string out;
  std::string in(bytes);
  char* inp = in.data();
  size_t inleft = in.size();
  char buf[1024];
  while (inleft > 0) {
    char* outp = buf;
    size_t outleft = sizeof(buf);
    size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
    out.append(buf, static_cast<size_t>(outp - buf));
    if (r == static_cast<size_t>(-1)) {
      if (errno == E2BIG) continue;
      // EILSEQ or EINVAL (truncated sequence): one replacement per bad byte, go on.
      out.append(kReplacement);
      ++inp;
      --inleft;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* outp = buf;
  size_t outleft = sizeof(buf);
  iconv(cd, nullptr, nullptr, &outp, &outleft);
  out.append(buf, static_cast<size_t>(outp - buf));
  iconv_close(cd);
  return out;
}

namespace {

// One encoded-word at the start of `s`: its decoded UTF-8 and length, or length 0.
size_t ParseEncodedWord(std::string_view s, std::string* utf8) {
  if (s.size() < 8 || s[0] != '=' || s[1] != '?') return 0;
  size_t q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?') return 0;
  char enc = s[q1 + 1];
  size_t end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos) return 0;
  std::string_view charset = s.substr(2, q1 - 2);
  if (size_t star = charset.find('*'); star != std::string_view::npos) {
    charset = charset.substr(0, star);  // RFC 2231 language suffix
  }
  std::string_view text = s.substr(q1 + 3, end - q1 - 3);
  if (text.find_first_of(" \t\r\n") != std::string_view::npos) return 0;
  std::string raw;
  if (enc == 'B' || enc == 'b') {
    raw = DecodeBase64(text);
  } else if (enc == 'Q' || enc == 'q') {
    std::string underscores(text);
    for (char& c : underscores) {
      if (c == '_') c = ' ';
    }
    raw = DecodeQuotedPrintable(underscores);
  } else {
    return 0;
  }
  *utf8 = CharsetToUtf8(charset, raw);
  return end + 2;
}

}  // namespace

std::string DecodeEncodedWords(std::string_view text) {
  std::string out;
  size_t i = 0;
  bool last_was_word = false;
  size_t pending_ws_begin = std::string_view::npos;
  while (i < text.size()) {
    std::string word;
    size_t n = text[i] == '=' ? ParseEncodedWord(text.substr(i), &word) : 0;
    if (n != 0) {
      if (pending_ws_begin != std::string_view::npos && !last_was_word) {
        out.append(text.substr(pending_ws_begin, i - pending_ws_begin));
      }
      pending_ws_begin = std::string_view::npos;
      out.append(word);
      i += n;
      last_was_word = true;
      continue;
    }
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (pending_ws_begin == std::string_view::npos) pending_ws_begin = i;
      ++i;
      continue;
    }
    if (pending_ws_begin != std::string_view::npos) {
      out.append(text.substr(pending_ws_begin, i - pending_ws_begin));
      pending_ws_begin = std::string_view::npos;
    }
    out.push_back(c);
    last_was_word = false;
    ++i;
  }
  if (pending_ws_begin != std::string_view::npos) out.append(text.substr(pending_ws_begin));
  return out;
}

}  // namespace kensa::scan
