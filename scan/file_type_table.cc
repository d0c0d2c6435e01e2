// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/file_type_table.h"

#include <hs/hs.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/hex_digit.h"
#include "core/text_fields.h"

namespace kensa::scan {
namespace {

std::string ByteEscape(int v) { return absl::StrFormat("\\x%02x", v); }

// "{n}", "{n-m}", "{-n}", "{n-}" (and "[n-m]") as a Hyperscan repeat of any byte. Only a short
// fixed gap is kept as it is: long and ranged repeats cost Hyperscan seconds to compile, and
// any number of bytes (".*") finds every match they would.
std::optional<std::string> GapToRegex(std::string_view inside) {
  constexpr uint64_t kLongestExactGap = 32;
  const size_t dash = inside.find('-');
  uint64_t lo = 0, hi = 0;
  if (dash == std::string_view::npos) {
    if (!ParseNumber(inside, &lo)) return std::nullopt;
    return lo <= kLongestExactGap ? absl::StrCat(".{", lo, "}") : std::string(".*");
  }
  const std::string_view a = inside.substr(0, dash), b = inside.substr(dash + 1);
  if (!a.empty() && !ParseNumber(a, &lo)) return std::nullopt;
  if (a.empty() && b.empty()) return std::nullopt;
  if (!b.empty() && (!ParseNumber(b, &hi) || hi < lo)) return std::nullopt;
  return std::string(".*");
}

std::optional<std::string> PlainHexBytes(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigitValue(hex[i]), lo = HexDigitValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

std::optional<std::string> HexPatternToRegex(std::string_view hex) {
  std::string out;
  bool in_group = false;
  size_t i = 0;
  while (i < hex.size()) {
    const char c = hex[i];
    if (c == '*') {
      out += ".*";
      ++i;
      continue;
    }
    if (c == '{' || c == '[') {
      const size_t end = hex.find(c == '{' ? '}' : ']', i);
      if (end == std::string_view::npos || in_group) return std::nullopt;
      std::optional<std::string> gap = GapToRegex(hex.substr(i + 1, end - i - 1));
      if (!gap) return std::nullopt;
      out += *gap;
      i = end + 1;
      continue;
    }
    if (c == '(') {
      // "(B)" and "(L)" are word and line boundaries, not alternatives.
      if (in_group || (i + 1 < hex.size() && (hex[i + 1] == 'B' || hex[i + 1] == 'L'))) {
        return std::nullopt;
      }
      in_group = true;
      out += "(?:";
      ++i;
      continue;
    }
    if (c == '|' || c == ')') {
      if (!in_group) return std::nullopt;
      if (c == ')') in_group = false;
      out += c;
      ++i;
      continue;
    }
    if (i + 1 >= hex.size()) return std::nullopt;
    const char a = hex[i], b = hex[i + 1];
    const int ha = HexDigitValue(a), hb = HexDigitValue(b);
    if (a == '?' && b == '?') {
      out += '.';
    } else if (a == '?' && hb >= 0) {
      out += '[';
      for (int high = 0; high < 16; ++high) out += ByteEscape(high * 16 + hb);
      out += ']';
    } else if (ha >= 0 && b == '?') {
      out += absl::StrCat("[", ByteEscape(ha * 16), "-", ByteEscape(ha * 16 + 15), "]");
    } else if (ha >= 0 && hb >= 0) {
      out += ByteEscape(ha * 16 + hb);
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  if (in_group || out.empty()) return std::nullopt;
  return out;
}

absl::StatusOr<std::unique_ptr<const FileTypeTable>> FileTypeTable::Build(
    const std::vector<std::string>& entries) {
  std::unique_ptr<FileTypeTable> table(new FileTypeTable());
  struct Pattern {
    std::string anchored, anywhere;  // anchored empty: looked for anywhere
  };
  std::vector<Pattern> patterns;
  for (const std::string& raw : entries) {
    const std::string_view line = StripWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string_view> f = SplitFields(line, ':');
    if (f.size() < 6) return absl::InvalidArgumentError("file type entry: " + std::string(line));
    if (f[0] == "4") continue;
    if (f[0] == "0") {
      uint64_t offset = 0;
      std::optional<std::string> magic = PlainHexBytes(f[2]);
      if (!ParseNumber(f[1], &offset) || !magic) {
        return absl::InvalidArgumentError("file type magic: " + std::string(line));
      }
      table->magics_.push_back({offset, *std::move(magic)});
      continue;
    }
    if (f[0] != "1") return absl::InvalidArgumentError("file type kind: " + std::string(line));
    uint64_t at = 0;
    const bool fixed_offset = ParseNumber(f[1], &at);
    // A plain pattern at a fixed offset within the typed bytes is a magic of its own.
    if (std::optional<std::string> plain = PlainHexBytes(f[2]);
        plain && fixed_offset && at + plain->size() <= kTypingBytes) {
      table->magics_.push_back({at, *std::move(plain)});
      continue;
    }
    std::optional<std::string> regex = HexPatternToRegex(f[2]);
    if (!regex) return absl::InvalidArgumentError("file type pattern: " + std::string(line));
    // At the start, anchored; at any other offset or range of offsets, anywhere.
    Pattern p{fixed_offset && at == 0 ? "^" + *regex : "", *regex};
    patterns.push_back(std::move(p));
  }
  table->pattern_count_ = patterns.size();
  if (patterns.empty()) return std::unique_ptr<const FileTypeTable>(std::move(table));
  // A pattern Hyperscan cannot compile anchored (a very long bounded repeat) is looked for
  // anywhere instead: more matches, never fewer.
  for (size_t attempt = 0; attempt <= patterns.size(); ++attempt) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < patterns.size(); ++i) {
      const std::string& e =
          patterns[i].anchored.empty() ? patterns[i].anywhere : patterns[i].anchored;
      exprs.push_back(e.c_str());
      flags.push_back(HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH);
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_STREAM, nullptr,
                         &table->patterns_, &err) == HS_SUCCESS) {
      return std::unique_ptr<const FileTypeTable>(std::move(table));
    }
    const int bad = err->expression;
    std::string message = err->message;
    hs_free_compile_error(err);
    if (bad < 0 || patterns[bad].anchored.empty()) {
      return absl::InternalError(absl::StrCat("file types: ", message));
    }
    patterns[bad].anchored.clear();
  }
  return absl::InternalError("file types: no database");
}

FileTypeTable::~FileTypeTable() {
  if (patterns_ != nullptr) hs_free_database(patterns_);
}

bool FileTypeTable::MagicMatches(std::string_view head) const {
  for (const Magic& m : magics_) {
    if (m.offset + m.bytes.size() <= head.size() &&
        std::memcmp(head.data() + m.offset, m.bytes.data(), m.bytes.size()) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace kensa::scan
