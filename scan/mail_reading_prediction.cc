// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mail_reading_prediction.h"

#include <algorithm>
#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/ascii_case.h"

namespace kensa::scan {
namespace {

constexpr size_t kMaxLineBytes = 998;  // RFC 5322; libclamav reads lines into a fixed buffer

// First header fields with which libclamav 1.4 types a message as mail (CL_TYPE_MAIL, or
// CL_TYPE_MHTML for MIME-Version), checked against libclamav by the prediction's test; with
// any other first field it may type the message as text and read it another way.
constexpr std::string_view kMailStarts[] = {
    "Received: ",     "Return-Path: ", "From: ", "Date: ",         "Message-ID: ",
    "MIME-Version: ", "Subject: ",     "To: ",   "Delivered-To: ",
};

// Calls `line` for every CRLF-terminated line of `s` (without the CRLF); the rest after the
// last CRLF is returned.
template <typename F>
std::string_view ForEachLine(std::string_view s, F&& line) {
  size_t at = 0;
  for (;;) {
    const size_t crlf = s.find("\r\n", at);
    if (crlf == std::string_view::npos) return s.substr(at);
    if (!line(s.substr(at, crlf - at))) return {};
    at = crlf + 2;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsWhite(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

bool IsBoundaryChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

constexpr std::array<bool, 256> kBase64Chars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  }
  return t;
}();

bool IsBase64Char(char c) { return kBase64Chars[static_cast<unsigned char>(c)]; }

// Whether every byte of `s` is in the base64 alphabet: sixteen at a time where SSE2 is, the
// rest by the table.
bool AllBase64Chars(std::string_view s) {
  size_t i = 0;
#if defined(__SSE2__)
  // Byte b is in [lo, lo + span] when min(b - lo, span) == b - lo, unsigned.
  auto in_range = [](__m128i v, char lo, char span) {
    const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(span)), t);
  };
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i ok = _mm_or_si128(
        _mm_or_si128(in_range(v, 'A', 25), in_range(v, 'a', 25)),
        _mm_or_si128(in_range(v, '0', 9), _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
                                                       _mm_cmpeq_epi8(v, _mm_set1_epi8('/')))));
    if (_mm_movemask_epi8(ok) != 0xffff) return false;
  }
#endif
  for (; i < s.size(); ++i) {
    if (!IsBase64Char(s[i])) return false;
  }
  return true;
}

// A body line libclamav's MIME parser may act on rather than store: a delimiter-like line, a
// header-like one (a bounce or an embedded message starts so), an mbox "From " line, the start
// of a uuencoded or yEnc file.
bool IsSpecialBodyLine(std::string_view line) {
  // libclamav tries every line starting with '-' or '(' as a delimiter (boundaryStart strips
  // comments and allows extra dashes), and treats lines of blanks and semicolons apart.
  if (line.starts_with("-") || line.starts_with("(") || line.starts_with("From ") ||
      line.starts_with(">From ") || StartsWithNoCase(line, "begin ") ||
      StartsWithNoCase(line, "=ybegin") ||
      (line.find(';') != std::string_view::npos &&
       std::all_of(line.begin(), line.end(),
                   [](char c) { return c == ';' || c == ' ' || c == '\t'; }))) {
    return true;
  }
  size_t i = 0;
  while (i < line.size() && (absl::ascii_isalnum(static_cast<unsigned char>(line[i])) ||
                             line[i] == '-' || line[i] == '_' || line[i] == '.')) {
    ++i;
  }
  return i > 0 && i < line.size() && line[i] == ':' &&
         (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t');
}

bool HasSpecialLine(std::string_view body) {
  bool special = false;
  std::string_view rest = ForEachLine(body, [&](std::string_view line) {
    special = IsSpecialBodyLine(line);
    return !special;
  });
  return special || IsSpecialBodyLine(rest);
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

// Quoted-printable as libclamav's decodeLine reads it like every other decoder: each '='
// followed by two hex digits, or last on its line (a soft break).
bool IsCanonicalQuotedPrintableLine(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '=') continue;
    if (i + 1 == line.size()) return true;
    if (i + 2 >= line.size() || !IsHexDigit(line[i + 1]) || !IsHexDigit(line[i + 2])) return false;
    i += 2;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return (c | 0x20) - 'a' + 10;
}

// Base64 as every decoder reads it alike: whole groups of four on every line, padding only at
// the end of the last one, blank lines only after it.
bool IsCanonicalBase64(std::string_view body) {
  bool ended = false;  // padding seen, or a blank line
  auto check = [&](std::string_view line) {
    if (line.empty()) {
      ended = true;
      return true;
    }
    if (ended || line.size() % 4 != 0) return false;
    size_t data = line.size();
    while (data > 0 && line[data - 1] == '=') --data;
    if (line.size() - data > 2) return false;
    if (!AllBase64Chars(line.substr(0, data))) return false;
    if (data < line.size()) ended = true;
    return true;
  };
  bool ok = true;
  std::string_view rest =
      ForEachLine(body, [&](std::string_view line) { return ok = check(line); });
  return ok && check(rest);
}

const MimeHeader* OnlyHeader(const MimePart& part, std::string_view name, size_t* count) {
  const MimeHeader* found = nullptr;
  *count = 0;
  for (const MimeHeader& h : part.headers) {
    if (EqualsNoCase(h.name, name)) {
      found = &h;
      ++*count;
    }
  }
  return found;
}

size_t CountOf(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The length of the well-formed UTF-8 sequence for a character from U+00A0 up that `s` starts
// with (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) && !(c == 0xc2 && b(1) < 0xa0) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // over U+10FFFF
    return 4;
  }
  return 0;
}

// Why the raw bytes are not plain, or "". One pass: this runs on every message.
// The bytes RawWhyNot passes over without a second look: printable ASCII and tab, except 'x'
// (the end of "binhex", checked backwards when it occurs).
constexpr std::array<bool, 256> kOrdinaryRawByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  t['\t'] = true;
  t['x'] = t['X'] = false;
  return t;
}();

// The first byte at or after `i` that is not ordinary (kOrdinaryRawByte), or `n`.
size_t SkipOrdinary(std::string_view raw, size_t i) {
  const size_t n = raw.size();
#if defined(__SSE2__)
  // Sixteen at a time: below 0x20 or from 0x80 (signed, both less than 0x20), DEL, 'x', 'X'.
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
  const __m128i x = _mm_set1_epi8('x'), upper_x = _mm_set1_epi8('X');
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(raw.data() + i));
    const __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, x), _mm_cmpeq_epi8(v, upper_x)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) {
      i += static_cast<size_t>(__builtin_ctz(mask));
      // A tab is ordinary, only not to the comparison above.
      if (raw[i] != '\t') return i;
      ++i;
      continue;
    }
    i += 16;
  }
#endif
  while (i < n && kOrdinaryRawByte[static_cast<unsigned char>(raw[i])]) ++i;
  return i;
}

std::string RawWhyNot(std::string_view raw) {
  if (!raw.ends_with("\r\n")) return "no final line ending";
  if (std::none_of(std::begin(kMailStarts), std::end(kMailStarts),
                   [&](std::string_view s) { return raw.starts_with(s); })) {
    return "first header field";
  }
  static constexpr std::string_view kBinHex = "binhex";
  const size_t n = raw.size();
  // Where "binhex" may start: not before the current line, nor before a UTF-8 sequence.
  size_t line_start = 0, text_start = 0;
  for (size_t i = 0; i < n; ++i) {
    i = SkipOrdinary(raw, i);
    if (i >= n) break;
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '\r') {
      if (i + 1 >= n || raw[i + 1] != '\n') return "bare CR";
      if (i - line_start > kMaxLineBytes) return "long line";
      ++i;
      line_start = text_start = i + 1;
      continue;
    }
    if (c == '\n') return "bare LF";
    if (c >= 0x80) {
      // UTF-8 text (8bit parts, headers): a byte sequence no embedded file type libclamav
      // looks for inside a message can be made of, since those all hold control bytes or
      // invalid UTF-8. C1 controls are refused too.
      const size_t len = Utf8SequenceLength(raw.substr(i));
      if (len == 0) return "not UTF-8 text";
      i += len - 1;
      text_start = i + 1;
      continue;
    }
    if (c == 'x' || c == 'X') {
      const size_t from = i + 1 >= kBinHex.size() ? i + 1 - kBinHex.size() : 0;
      if (from >= text_start && i + 1 - from == kBinHex.size() &&
          EqualsNoCase(raw.substr(from, kBinHex.size()), kBinHex)) {
        return "BinHex";
      }
      continue;
    }
    return "control byte";
  }
  return "";
}

// Whether a part's header block is one libclamav reads as kensa does: field lines ("Name:"
// with a printable name) and their continuations only, and an empty line right after it. A
// line of white space, or of anything else, may be read as the end of the block by one and as
// a header by the other (libclamav stays in the headers until an empty line).
bool HeaderBlockIsPlain(std::string_view raw, const MimePart& part) {
  if (part.header_begin > part.header_end || part.header_end > raw.size() ||
      part.body_begin != part.header_end + 2 || raw.substr(part.header_end, 2) != "\r\n") {
    return false;
  }
  bool plain = true, first = true;
  ForEachLine(raw.substr(part.header_begin, part.header_end - part.header_begin),
              [&](std::string_view line) {
                if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
                  plain = !first && !IsWhite(line);  // a continuation with something in it
                } else {
                  const size_t colon = line.find(':');
                  plain = colon != std::string_view::npos && colon > 0 &&
                          std::all_of(line.begin(), line.begin() + colon,
                                      [](char c) { return c > ' ' && c < 0x7f; });
                }
                first = false;
                return plain;
              });
  return plain;
}

std::string ContainerWhyNot(std::string_view raw, const MimePart& c) {
  if (!c.media_type.starts_with("multipart/")) return absl::StrCat("container ", c.media_type);
  // libclamav reads the parts of these after the whole multipart, each its own way (the HTML
  // part of a related one as a message of its own); the others part by part.
  for (std::string_view deferred : {"multipart/related", "multipart/encrypted", "multipart/signed",
                                    "multipart/parallel", "multipart/x-bfile"}) {
    if (c.media_type == deferred) return absl::StrCat("container ", c.media_type);
  }
  if (!HeaderBlockIsPlain(raw, c)) return "header block";
  const std::string& b = c.boundary;
  if (b.empty() || b.size() > 70 || b.back() == ' ' ||
      !std::all_of(b.begin(), b.end(), IsBoundaryChar)) {
    return "boundary";
  }
  size_t count = 0;
  const MimeHeader* ct = OnlyHeader(c, "content-type", &count);
  if (ct == nullptr || count != 1) return "container Content-Type";
  const std::string value = Lower(ct->value);
  if (CountOf(value, "boundary") != 1 || value.find("boundary*") != std::string::npos) {
    return "boundary parameter";
  }
  if (raw.find(absl::StrCat("\r\n--", b, "--\r\n")) == std::string_view::npos) {
    return "no close delimiter";
  }
  return "";
}

// The first line of a part's body that is not empty (libclamav skips the empty ones).
std::string_view FirstBodyLine(std::string_view body) {
  std::string_view first;
  std::string_view rest = ForEachLine(body, [&](std::string_view line) {
    first = line;
    return line.empty();
  });
  return first.empty() ? rest : first;
}

std::string LeafWhyNot(std::string_view raw, const MimePart& leaf) {
  if (leaf.alternate_view) return "two readings";
  if (leaf.body_begin > leaf.body_end || leaf.body_end > raw.size()) return "offsets";
  if (leaf.role != PartRole::kPreamble && leaf.role != PartRole::kEpilogue &&
      !HeaderBlockIsPlain(raw, leaf)) {
    return "header block";
  }
  if (leaf.role == PartRole::kMultipartChild) {
    // libclamav reads a part's first line as a header even when it is not one, and takes a
    // blank line before a Content... or filename= line, or before a base64 line of an
    // application part, for a broken header block.
    if (leaf.header_begin == leaf.header_end) return "part without headers";
    if (raw[leaf.header_begin] == ' ' || raw[leaf.header_begin] == '\t')
      return "folded first header";
    const std::string_view first =
        FirstBodyLine(raw.substr(leaf.body_begin, leaf.body_end - leaf.body_begin));
    if (first.starts_with("Content") || first.starts_with("filename=") ||
        first.find("base64") != std::string_view::npos) {
      return "header-like first body line";
    }
  }
  if (leaf.media_type.starts_with("message/") ||
      leaf.media_type.find("tnef") != std::string::npos) {
    return absl::StrCat("part ", leaf.media_type);
  }
  const std::string_view body = raw.substr(leaf.body_begin, leaf.body_end - leaf.body_begin);
  switch (leaf.encoding) {
    case TransferEncoding::kBase64:
      return IsCanonicalBase64(body) ? "" : "base64 not canonical";
    case TransferEncoding::kIdentity: {
      // libclamav also decodes a part as base64 when its encoding is one it does not know, an
      // HTML part or a single-part message when it says 7bit, and a named part unless it says
      // 8bit or binary (an unencoded attachment may be a virus that did not say how it was
      // encoded).
      size_t count = 0;
      std::string value;
      if (const MimeHeader* cte = OnlyHeader(leaf, "content-transfer-encoding", &count)) {
        value = Lower(Trim(cte->value));
        if (count != 1 || !(value == "7bit" || value == "8bit" || value == "binary")) {
          return "transfer encoding";
        }
        if (value == "7bit" && leaf.media_type.find("html") != std::string::npos) {
          return "7bit HTML";
        }
        if (value == "7bit" && leaf.parent < 0) return "7bit message";
      }
      if (!leaf.filename.empty() && value != "8bit" && value != "binary") {
        return "unencoded attachment";
      }
      return HasSpecialLine(body) ? "special body line" : "";
    }
    case TransferEncoding::kQuotedPrintable: {
      size_t count = 0;
      const MimeHeader* cte = OnlyHeader(leaf, "content-transfer-encoding", &count);
      if (cte == nullptr || count != 1 || Lower(Trim(cte->value)) != "quoted-printable") {
        return "transfer encoding";
      }
      bool canonical = true;
      std::string_view rest = ForEachLine(body, [&](std::string_view line) {
        return canonical = IsCanonicalQuotedPrintableLine(line);
      });
      if (!canonical || !IsCanonicalQuotedPrintableLine(rest)) {
        return "quoted-printable not canonical";
      }
      return HasSpecialLine(body) ? "special body line" : "";
    }
    default:
      return "transfer encoding";
  }
}

}  // namespace

std::string LineFormOf(std::string_view raw, uint64_t begin, uint64_t end, LineStore store) {
  const std::string_view body = raw.substr(begin, end - begin);
  std::string out;
  out.reserve(body.size() + 1);
  // As libclamav's parseEmailFile and messageAddStr store a message's lines: a line of white
  // space after another one (empty lines between them do not count) is dropped, else stored as
  // one space; an empty line after a stored empty line is dropped unless the message is text.
  bool last_was_white = false;
  bool last_stored_empty = store.after_empty_line;
  auto add = [&](std::string_view line) {
    if (!line.empty() && IsWhite(line)) {
      if (last_was_white) return true;
      last_was_white = true;
      line = " ";
    } else if (!line.empty()) {
      last_was_white = false;
    } else if (store.collapse_empty_lines && last_stored_empty) {
      return true;
    }
    last_stored_empty = line.empty();
    if (!store.quoted_printable) {
      out.append(line);
      out.push_back('\n');
      return true;
    }
    // libclamav's decodeLine: "=XY" is a byte, a final '=' joins the next line.
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '=') {
        out.push_back(line[i]);
      } else if (i + 1 == line.size()) {
        return true;  // soft line break: no line end
      } else if (i + 2 < line.size()) {
        out.push_back(static_cast<char>(HexValue(line[i + 1]) << 4 | HexValue(line[i + 2])));
        i += 2;
      }
    }
    out.push_back('\n');
    return true;
  };
  std::string_view rest = ForEachLine(body, add);
  if (!rest.empty() || end < raw.size()) add(rest);
  return out;
}

namespace {

// Well inside the counts at which libclamav's mail parser reports
// Heuristics.Limits.Exceeded.Email* (1024 parts, 1024 headers, 256 parameters in a header,
// 256 KiB of headers) or its engine's recursion limit.
constexpr size_t kMaxParts = 500, kMaxHeaders = 500, kMaxParameters = 100, kMaxDepth = 8;
constexpr uint64_t kMaxHeaderBytes = 64 << 10;

std::string CountsWhyNot(const std::vector<MimePart>& leaves,
                         const std::vector<MimePart>& containers) {
  if (leaves.size() + containers.size() > kMaxParts) return "parts";
  size_t headers = 0;
  uint64_t header_bytes = 0;
  for (const std::vector<MimePart>* parts : {&leaves, &containers}) {
    for (const MimePart& part : *parts) {
      if (part.depth > kMaxDepth) return "depth";
      headers += part.headers.size();
      header_bytes += part.header_end - part.header_begin;
      for (const MimeHeader& h : part.headers) {
        if (static_cast<size_t>(std::count(h.value.begin(), h.value.end(), ';')) > kMaxParameters) {
          return "parameters";
        }
      }
    }
  }
  if (headers > kMaxHeaders || header_bytes > kMaxHeaderBytes) return "headers";
  return "";
}

}  // namespace

MailReadingPrediction PredictMailReading(std::string_view raw, const std::vector<MimePart>& leaves,
                                         const std::vector<MimePart>& containers) {
  MailReadingPrediction p;
  p.why_not = RawWhyNot(raw);
  if (p.why_not.empty()) p.why_not = CountsWhyNot(leaves, containers);
  for (size_t i = 0; p.why_not.empty() && i < containers.size(); ++i) {
    p.why_not = ContainerWhyNot(raw, containers[i]);
    // A multipart without parts is read by libclamav as text, preamble and all.
    const auto is_child = [&](const MimePart& m) {
      return m.parent == static_cast<int32_t>(containers[i].id) &&
             m.role == PartRole::kMultipartChild;
    };
    if (p.why_not.empty() && std::none_of(leaves.begin(), leaves.end(), is_child) &&
        std::none_of(containers.begin(), containers.end(), is_child)) {
      p.why_not = "multipart without parts";
    }
    for (size_t j = 0; p.why_not.empty() && j < i; ++j) {
      const std::string &a = containers[i].boundary, &b = containers[j].boundary;
      if (a.starts_with(b) || b.starts_with(a)) p.why_not = "nested boundaries";
    }
  }
  for (size_t i = 0; p.why_not.empty() && i < leaves.size(); ++i) {
    p.why_not = LeafWhyNot(raw, leaves[i]);
  }
  if (!p.why_not.empty()) return p;
  p.plain = true;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const MimePart& leaf = leaves[i];
    // libclamav skips a multipart's preamble; its epilogue it reads like a part.
    if (leaf.encoding == TransferEncoding::kBase64 || leaf.role == PartRole::kPreamble) continue;
    LineStore store;
    store.quoted_printable = leaf.encoding == TransferEncoding::kQuotedPrintable;
    if (leaf.parent < 0) {
      // The message's own body: libclamav keeps runs of empty lines only in a text message.
      size_t count = 0;
      store.collapse_empty_lines = !(OnlyHeader(leaf, "content-type", &count) != nullptr &&
                                     leaf.media_type.starts_with("text/"));
    } else {
      // A multipart's part or epilogue: the multipart's lines, runs of empty lines dropped, and
      // the empty lines it starts with (libclamav skips them before a part's headers).
      store.collapse_empty_lines = true;
      store.after_empty_line = true;
    }
    std::string form = LineFormOf(raw, leaf.body_begin, leaf.body_end, store);
    if (!form.empty()) p.line_forms.push_back({i, std::move(form)});
  }
  return p;
}

}  // namespace kensa::scan
