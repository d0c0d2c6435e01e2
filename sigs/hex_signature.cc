// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/hex_signature.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/hex_digit.h"
#include "core/text_fields.h"

namespace kensa::sigs {
namespace {

// An all-exact alternative branch ("aabb"); nullopt when it holds any wildcard.
std::optional<std::string> ExactBranch(std::string_view branch) {
  if (branch.empty()) return std::nullopt;
  return HexToBytes(branch);
}

// Prefers the candidate whose shortest member is longest; on a tie, the one with fewer members.
bool Better(const RequiredLiterals& a, const std::optional<RequiredLiterals>& best) {
  if (!best) return true;
  if (a.shortest() != best->shortest()) return a.shortest() > best->shortest();
  return a.any_of.size() < best->any_of.size();
}

std::string Widen(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

}  // namespace

std::optional<std::string> HexToBytes(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigitValue(hex[i]), lo = HexDigitValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

size_t RequiredLiterals::shortest() const {
  size_t n = any_of.empty() ? 0 : any_of.front().bytes.size();
  for (const Literal& l : any_of) n = std::min(n, l.bytes.size());
  return n;
}

absl::StatusOr<std::optional<RequiredLiterals>> ExtractRequiredLiterals(std::string_view hex) {
  // A segment is a stretch of exact bytes and all-exact alternatives with nothing between
  // them: any match holds one of its spellings (the product of the alternatives) contiguously.
  // Past kMaxSpellings spellings the segment is closed and a new one begins: more spellings
  // buy a longer literal at the price of more patterns to compile and hold.
  constexpr size_t kMaxSpellings = 8;
  std::optional<RequiredLiterals> best;
  std::vector<std::string> segment;  // empty: no segment open
  auto close_segment = [&] {
    if (!segment.empty()) {
      RequiredLiterals c;
      for (std::string& s : segment) c.any_of.push_back({std::move(s), false});
      if (Better(c, best)) best = std::move(c);
      segment.clear();
    }
  };
  auto extend = [&](const std::vector<std::string>& choices) {
    if (!segment.empty() && segment.size() * choices.size() > kMaxSpellings) close_segment();
    if (segment.empty()) {
      segment = choices;
      return;
    }
    std::vector<std::string> next;
    next.reserve(segment.size() * choices.size());
    for (const std::string& head : segment) {
      for (const std::string& tail : choices) next.push_back(head + tail);
    }
    segment = std::move(next);
  };
  size_t i = 0;
  while (i < hex.size()) {
    const char c = hex[i];
    if (HexDigitValue(c) >= 0 || c == '?') {
      if (i + 1 >= hex.size()) return absl::InvalidArgumentError("odd number of hex digits");
      int hi = HexDigitValue(c), lo = HexDigitValue(hex[i + 1]);
      if ((hi < 0 && c != '?') || (lo < 0 && hex[i + 1] != '?')) {
        return absl::InvalidArgumentError(absl::StrCat("bad hex byte at ", i));
      }
      if (hi >= 0 && lo >= 0) {
        extend({std::string(1, static_cast<char>(hi << 4 | lo))});
      } else {
        close_segment();  // ?? or a nibble wildcard
      }
      i += 2;
    } else if (c == '*') {
      close_segment();
      ++i;
    } else if (c == '{' || c == '[') {
      close_segment();
      const size_t end = hex.find(c == '{' ? '}' : ']', i);
      if (end == std::string_view::npos) return absl::InvalidArgumentError("unclosed gap");
      i = end + 1;
    } else if (c == '(' || (c == '!' && i + 1 < hex.size() && hex[i + 1] == '(')) {
      const bool negated = c == '!';
      const size_t open = negated ? i + 1 : i;
      const size_t end = hex.find(')', open);
      if (end == std::string_view::npos) return absl::InvalidArgumentError("unclosed alternative");
      std::string_view body = hex.substr(open + 1, end - open - 1);
      std::vector<std::string> choices;
      bool exact = !negated;
      if (exact) {
        for (std::string_view branch : SplitFields(body, '|')) {
          std::optional<std::string> b = ExactBranch(branch);
          if (!b) {
            exact = false;  // a wildcard branch or (B)/(L)/(W): no literal here
            break;
          }
          choices.push_back(*std::move(b));
        }
      }
      if (exact && !choices.empty()) {
        extend(choices);
      } else {
        close_segment();
      }
      i = end + 1;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unexpected '", std::string(1, c), "' at ", i));
    }
  }
  close_segment();
  return best;
}

absl::StatusOr<std::optional<RequiredLiterals>> ExtractSubsignatureLiterals(std::string_view sub) {
  std::string_view modifiers;
  if (size_t m = sub.find("::"); m != std::string_view::npos) {
    modifiers = sub.substr(m + 2);
    sub = sub.substr(0, m);
  }
  // PCRE ("trigger/re/flags"), byte compare ("0(>>5#hb2#=12)"), macro ("${1-2}0$") and fuzzy
  // image hash subsignatures carry no hex pattern of their own.
  if (sub.find_first_of("/#$") != std::string_view::npos) return std::nullopt;
  if (size_t colon = sub.rfind(':'); colon != std::string_view::npos) sub = sub.substr(colon + 1);
  absl::StatusOr<std::optional<RequiredLiterals>> lits = ExtractRequiredLiterals(sub);
  if (!lits.ok() || !lits->has_value()) return lits;
  const bool nocase = modifiers.find('i') != std::string_view::npos;
  const bool wide = modifiers.find('w') != std::string_view::npos;
  const bool ascii = modifiers.find('a') != std::string_view::npos;
  RequiredLiterals out;
  for (const Literal& l : (*lits)->any_of) {
    if (!wide || ascii) out.any_of.push_back({l.bytes, nocase});
    if (wide) out.any_of.push_back({Widen(l.bytes), nocase});
  }
  return std::optional<RequiredLiterals>(std::move(out));
}

}  // namespace kensa::sigs
