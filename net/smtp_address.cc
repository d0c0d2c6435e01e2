// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 5321 section 4.1.2 path grammar, parsed by hand: the grammar is small, and a hand
// parser gives precise errors and no backtracking on hostile input (linear in the input).
#include "net/smtp_address.h"

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "net/smtp_command.h"

namespace kensa::net {
namespace {

constexpr size_t kMaxDomainBytes = 255;  // RFC 5321 4.5.3.1.2

bool IsAtext(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Length of the well-formed UTF-8 sequence starting at s[i] (a byte >= 0x80), 0 if invalid.
// Overlongs, surrogates and code points above U+10FFFF are refused (RFC 3629).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

// A cursor over the argument; every Parse* function advances it past what it accepted.
class PathParser {
 public:
  PathParser(std::string_view s, bool utf8) : s_(s), utf8_(utf8) {}

  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  size_t pos() const { return i_; }
  bool Eat(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++i_;
    return true;
  }

  // Consumes one non-ASCII UTF-8 character if allowed; false (nothing consumed) otherwise.
  bool EatUtf8() {
    if (!utf8_ || AtEnd() || static_cast<unsigned char>(s_[i_]) < 0x80) return false;
    size_t n = Utf8SequenceLength(s_, i_);
    if (n == 0) return false;
    i_ += n;
    return true;
  }

  // Dot-string = Atom *("." Atom)
  bool ParseDotString() {
    if (!ParseAtom()) return false;
    while (Peek() == '.') {
      ++i_;
      if (!ParseAtom()) return false;
    }
    return true;
  }

  // Quoted-string = DQUOTE *QcontentSMTP DQUOTE
  bool ParseQuotedString() {
    if (!Eat('"')) return false;
    while (!AtEnd()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == '\\') {  // quoted-pairSMTP: %d92 %d32-126
        if (i_ + 1 >= s_.size()) return false;
        unsigned char q = static_cast<unsigned char>(s_[i_ + 1]);
        if (q < 32 || q > 126) return false;
        i_ += 2;
        continue;
      }
      if (c >= 32 && c <= 126) {  // qtextSMTP: %d32-33 / %d35-91 / %d93-126
        ++i_;
        continue;
      }
      if (!EatUtf8()) return false;
    }
    return false;
  }

  // Domain = sub-domain *("." sub-domain) / address-literal
  bool ParseDomain() {
    const size_t start = i_;
    if (Peek() == '[') return ParseAddressLiteral();
    if (!ParseSubDomain()) return false;
    while (Peek() == '.') {
      ++i_;
      if (!ParseSubDomain()) return false;
    }
    return i_ - start <= kMaxDomainBytes;
  }

  // Source route "@a,@b:" (RFC 5321 appendix C): accepted, then dropped by the caller.
  bool ParseSourceRoute() {
    do {
      if (!Eat('@') || !ParseDomain()) return false;
    } while (Eat(','));
    return Eat(':');
  }

  std::string_view Slice(size_t from) const { return s_.substr(from, i_ - from); }

 private:
  bool ParseAtom() {
    const size_t start = i_;
    while (!AtEnd()) {
      if (IsAtext(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (!EatUtf8()) {
        break;
      }
    }
    return i_ > start;
  }

  // sub-domain = Let-dig [Ldh-str]; '_' is tolerated because real hostnames carry it, and
  // U-labels with SMTPUTF8 (RFC 6531 3.3).
  bool ParseSubDomain() {
    const size_t start = i_;
    char last = '\0';
    while (!AtEnd()) {
      char c = s_[i_];
      if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
          (c == '-' && i_ > start)) {
        ++i_;
        last = c;
      } else if (EatUtf8()) {
        last = 'x';
      } else {
        break;
      }
    }
    return i_ > start && last != '-';
  }

  // address-literal = "[" ( IPv4 / IPv6 / General ) "]"; the content is checked for dcontent
  // only: the address itself never gets routed to (we only accept mail for our own domains).
  bool ParseAddressLiteral() {
    if (!Eat('[')) return false;
    const size_t start = i_;
    while (!AtEnd()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == ']') {
        if (i_ == start) return false;
        ++i_;
        return true;
      }
      if (c < 33 || c > 126 || c == '[' || c == '\\') return false;
      ++i_;
    }
    return false;
  }

  std::string_view s_;
  bool utf8_;
  size_t i_ = 0;
};

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

}  // namespace

std::string_view DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view domain = address.substr(at + 1);
  // `"user@host"` has no domain: the '@' is inside the quoted local part.
  if (domain.find('"') != std::string_view::npos) return {};
  return domain;
}

absl::StatusOr<SmtpPath> ParseSmtpPath(std::string_view arg, bool allow_null, bool utf8) {
  while (!arg.empty() && (arg.front() == ' ' || arg.front() == '\t')) arg.remove_prefix(1);
  PathParser p(arg, utf8);
  if (!p.Eat('<')) return Invalid("path must be enclosed in <>");
  SmtpPath path;
  if (p.Eat('>')) {
    if (!allow_null) return Invalid("null path not allowed here");
  } else {
    if (p.Peek() == '@' && !p.ParseSourceRoute()) return Invalid("malformed source route");
    const size_t start = p.pos();
    const bool local_ok = p.Peek() == '"' ? p.ParseQuotedString() : p.ParseDotString();
    if (!local_ok) return Invalid("malformed local part");
    if (p.Eat('@')) {
      if (!p.ParseDomain()) return Invalid("malformed domain");
    } else if (!EqualsNoCase(p.Slice(start), "postmaster")) {
      // RFC 5321 4.5.1: only "<Postmaster>" may lack a domain.
      return Invalid("address lacks a domain");
    }
    path.address = std::string(p.Slice(start));
    if (!p.Eat('>')) return Invalid("unexpected character in address");
  }
  std::string_view rest = arg.substr(p.pos());
  if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') {
    return Invalid("garbage after the path");
  }
  path.params = std::string(TrimSpaces(rest));
  return path;
}

}  // namespace kensa::net
