// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/mime_params.h"

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "scan/mime_charset.h"

namespace kensa::scan {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

// Removes (comments) outside quoted strings; they may nest and contain quoted pairs.
std::string WithoutComments(std::string_view v) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (depth == 0 && c == '"') quoted = !quoted;
    if (c == '\\' && i + 1 < v.size() && (quoted || depth > 0)) {
      if (depth == 0) {
        out.push_back(c);
        out.push_back(v[i + 1]);
      }
      ++i;
      continue;
    }
    if (!quoted && c == '(') { ++depth; continue; }
    if (!quoted && c == ')' && depth > 0) { --depth; continue; }
    if (depth == 0) out.push_back(c);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct RawParam {
  std::string name;  // lower case, as written (with any '*' suffixes)
  std::string value;
  bool quoted = false;
};

// Splits "; a=b; c="d;e"" into raw name/value pairs.
std::vector<RawParam> SplitParams(std::string_view v) {
  std::vector<RawParam> out;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (IsWsp(v[i]) || v[i] == ';')) ++i;
    size_t name_begin = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';') ++i;
    std::string_view name = Trim(v.substr(name_begin, i - name_begin));
    if (i >= v.size() || v[i] == ';') continue;  // a bare word: no value
    ++i;                                          // '='
    while (i < v.size() && IsWsp(v[i])) ++i;
    RawParam p{LowerCopy(name), "", false};
    if (i < v.size() && v[i] == '"') {
      p.quoted = true;
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        if (v[i] != '\r' && v[i] != '\n') p.value.push_back(v[i]);
        ++i;
      }
      if (i < v.size()) ++i;  // closing quote (a missing one ends at the end of the value)
      while (i < v.size() && v[i] != ';') ++i;
    } else {
      size_t begin = i;
      while (i < v.size() && v[i] != ';') ++i;
      // A bare value ends at whitespace: "boundary=abc   " is "abc" (transport padding).
      std::string_view bare = Trim(v.substr(begin, i - begin));
      size_t ws = bare.find_first_of(" \t\r\n");
      p.value = std::string(ws == std::string_view::npos ? bare : bare.substr(0, ws));
    }
    if (!p.name.empty()) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::vector<MimeParam> ParseMimeParams(std::string_view value) {
  std::string clean = WithoutComments(value);
  // The parameters start after the leading "type/subtype" token: at its ';', or at the
  // whitespace that some senders put there instead ("multipart/mixed\tboundary=x"), which
  // lenient clients accept.
  size_t i = 0;
  while (i < clean.size() && IsWsp(clean[i])) ++i;
  while (i < clean.size() && !IsWsp(clean[i]) && clean[i] != ';') ++i;
  if (i >= clean.size()) return {};
  std::vector<RawParam> raw = SplitParams(std::string_view(clean).substr(i));

  // RFC 2231: name*=cs'lang'%xx, name*0=..., name*1*=...; sections joined in index order.
  struct Sections {
    size_t order = 0;
    std::map<int, std::pair<std::string, bool>> parts;  // index -> (value, extended)
  };
  std::map<std::string, Sections> continued;
  std::vector<MimeParam> out;
  std::vector<std::string> order;  // output position of each continued name
  for (RawParam& p : raw) {
    size_t star = p.name.find('*');
    if (star == std::string::npos) {
      out.push_back({p.name, std::move(p.value)});
      continue;
    }
    std::string base = p.name.substr(0, star);
    std::string_view rest = std::string_view(p.name).substr(star + 1);
    bool extended = !rest.empty() && rest.back() == '*';
    if (extended) rest.remove_suffix(1);
    int index = 0;
    if (rest.empty()) {
      extended = true;  // "name*=" is a single extended section
    } else {
      if (rest.size() > 4 || !std::all_of(rest.begin(), rest.end(), [](char c) {
            return c >= '0' && c <= '9';
          })) {
        out.push_back({p.name, p.value});
        continue;
      }
      index = std::stoi(std::string(rest));
    }
    auto [it, inserted] = continued.try_emplace(base);
    if (inserted) {
      it->second.order = out.size();
      out.push_back({base, ""});
    }
    it->second.parts.emplace(index, std::make_pair(std::move(p.value), extended));
  }
  for (auto& [base, sections] : continued) {
    std::string charset;
    std::string bytes;
    bool first = true;
    for (auto& [index, section] : sections.parts) {
      std::string_view v = section.first;
      if (section.second) {
        if (first) {
          size_t q1 = v.find('\'');
          size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
          if (q2 != std::string_view::npos) {
            charset = std::string(v.substr(0, q1));
            v.remove_prefix(q2 + 1);
          }
        }
        bytes += PercentDecode(v);
      } else {
        bytes += v;
      }
      first = false;
    }
    // Without a charset the bytes stay as written (a boundary must match byte for byte).
    out[sections.order].value = charset.empty() ? std::move(bytes) : CharsetToUtf8(charset, bytes);
  }
  return out;
}

ContentType ParseContentType(std::string_view value) {
  ContentType ct;
  std::string clean = WithoutComments(value);
  std::string_view v = clean;
  std::string_view type_part = Trim(v.substr(0, v.find(';')));
  size_t slash = type_part.find('/');
  std::string type = LowerCopy(Trim(type_part.substr(0, slash)));
  std::string subtype =
      slash == std::string_view::npos ? "" : LowerCopy(Trim(type_part.substr(slash + 1)));
  if (size_t ws = subtype.find_first_of(" \t"); ws != std::string::npos) subtype.resize(ws);
  if (type.empty() || type.find_first_of(" \t\"=") != std::string::npos) {
    ct.media_type = "text/plain";
  } else if (!subtype.empty()) {
    ct.media_type = type + "/" + subtype;
  } else if (type == "multipart") {
    ct.media_type = "multipart/mixed";
  } else if (type == "text") {
    ct.media_type = "text/plain";
  } else {
    ct.media_type = "application/octet-stream";
  }
  for (MimeParam& p : ParseMimeParams(value)) {
    if (p.name == "charset" && ct.charset.empty()) {
      ct.charset = LowerCopy(Trim(p.value));
    } else if (p.name == "boundary") {
      // RFC 2046 forbids a trailing space in a boundary. mime4j keeps one as written,
      // Python's email strips it: two boundaries, two readings.
      std::string trimmed = p.value;
      while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) {
        trimmed.pop_back();
      }
      for (std::string* b : {&p.value, &trimmed}) {
        if (!b->empty() &&
            std::find(ct.boundaries.begin(), ct.boundaries.end(), *b) == ct.boundaries.end()) {
          ct.boundaries.push_back(*b);
        }
      }
    } else if (p.name == "name" && ct.name.empty()) {
      ct.name = CharsetToUtf8("", DecodeEncodedWords(p.value));
    }
  }
  return ct;
}

std::string DispositionFilename(std::string_view value) {
  for (MimeParam& p : ParseMimeParams(value)) {
    if (p.name == "filename" && !p.value.empty()) {
      return CharsetToUtf8("", DecodeEncodedWords(p.value));
    }
  }
  return "";
}

}  // namespace kensa::scan
