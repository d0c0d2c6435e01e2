// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_command.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"

namespace kensa::net {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 3461: the hex digits of xtext are uppercase
}

}  // namespace

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string ToUpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_toupper(static_cast<unsigned char>(c));
  return out;
}

SmtpCommandLine ParseCommandLine(std::string_view line) {
  static constexpr std::array<std::pair<std::string_view, SmtpVerb>, 13> kVerbs = {{
      {"EHLO", SmtpVerb::kEhlo},
      {"HELO", SmtpVerb::kHelo},
      {"MAIL", SmtpVerb::kMail},
      {"RCPT", SmtpVerb::kRcpt},
      {"DATA", SmtpVerb::kData},
      {"BDAT", SmtpVerb::kBdat},
      {"RSET", SmtpVerb::kRset},
      {"NOOP", SmtpVerb::kNoop},
      {"QUIT", SmtpVerb::kQuit},
      {"VRFY", SmtpVerb::kVrfy},
      {"HELP", SmtpVerb::kHelp},
      {"STARTTLS", SmtpVerb::kStartTls},
      {"AUTH", SmtpVerb::kAuth},
  }};
  size_t end = 0;
  while (end < line.size() && !IsSpace(line[end])) ++end;
  std::string_view word = line.substr(0, end);
  SmtpCommandLine cmd;
  for (const auto& [name, verb] : kVerbs) {
    if (EqualsNoCase(word, name)) {
      cmd.verb = verb;
      break;
    }
  }
  cmd.arg = TrimSpaces(line.substr(end));
  return cmd;
}

std::optional<std::string_view> StripKeyword(std::string_view arg, std::string_view keyword) {
  if (!StartsWithNoCase(arg, keyword)) return std::nullopt;
  return arg.substr(keyword.size());
}

std::optional<std::vector<EsmtpParam>> ParseEsmtpParams(std::string_view params) {
  std::vector<EsmtpParam> out;
  params = TrimSpaces(params);
  while (!params.empty()) {
    size_t end = 0;
    while (end < params.size() && !IsSpace(params[end])) ++end;
    std::string_view item = params.substr(0, end);
    params = TrimSpaces(params.substr(end));
    EsmtpParam p;
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    if (key.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(key[0]))) {
      return std::nullopt;
    }
    for (char c : key) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return std::nullopt;
    }
    p.keyword = ToUpperAscii(key);
    if (eq != std::string_view::npos) {
      p.has_value = true;
      p.value = item.substr(eq + 1);
      // esmtp-value = 1*(%d33-60 / %d62-126); UTF-8 is allowed under SMTPUTF8 (RFC 6531).
      if (p.value.empty()) return std::nullopt;
      for (char c : p.value) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 33 || u == '=' || u == 127) return std::nullopt;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<std::string> DecodeXtext(std::string_view xtext) {
  std::string out;
  out.reserve(xtext.size());
  for (size_t i = 0; i < xtext.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(xtext[i]);
    if (c == '+') {
      if (i + 2 >= xtext.size()) return std::nullopt;
      int hi = HexValue(xtext[i + 1]);
      int lo = HexValue(xtext[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<uint64_t> ParseDecimal(std::string_view digits) {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace kensa::net
