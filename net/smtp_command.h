// SPDX-License-Identifier: GPL-2.0-or-later
// The pieces of an SMTP command line the server session needs, kept apart from the state
// machine so each can be tested (and fuzzed) on its own: the verb, ESMTP parameters
// (RFC 5321 4.1.2 esmtp-param), xtext (RFC 3461 4) and decimal numbers.
#ifndef KENSA_NET_SMTP_COMMAND_H_
#define KENSA_NET_SMTP_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii_case.h"

namespace kensa::net {

enum class SmtpVerb {
  kUnknown,
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kStartTls,
  kAuth,
};

struct SmtpCommandLine {
  SmtpVerb verb = SmtpVerb::kUnknown;
  std::string_view arg;  // after the verb and its separating spaces, trailing spaces trimmed
};

// `line` is one command line without its CRLF. Verbs are case-insensitive; a verb must be
// followed by a space or the end of the line ("NOOPX" is unknown).
SmtpCommandLine ParseCommandLine(std::string_view line);

// For "MAIL FROM:" / "RCPT TO:": the text after the case-insensitive `keyword` (which
// includes its colon), or nullopt when the argument does not start with it.
std::optional<std::string_view> StripKeyword(std::string_view arg, std::string_view keyword);

struct EsmtpParam {
  std::string keyword;  // uppercased
  std::string_view value;
  bool has_value = false;
};

// "SIZE=100 BODY=8BITMIME SMTPUTF8" -> parameters; nullopt on a syntax error (empty
// keyword, a keyword with characters outside esmtp-keyword, a value with controls or '=').
std::optional<std::vector<EsmtpParam>> ParseEsmtpParams(std::string_view params);

// xtext: "+" followed by two uppercase hex digits encodes one octet; otherwise printable
// ASCII except '+' and '='. nullopt when malformed.
std::optional<std::string> DecodeXtext(std::string_view xtext);

// Plain decimal digits, no sign, no overflow; nullopt otherwise.
std::optional<uint64_t> ParseDecimal(std::string_view digits);

// ASCII helpers on std::string_view (Debian's Abseil has its own string_view type, so its
// string functions do not take std::string_view); the comparisons are core/ascii_case.h's.
using kensa::EqualsNoCase;
using kensa::StartsWithNoCase;
std::string ToUpperAscii(std::string_view s);
std::string_view TrimSpaces(std::string_view s);  // spaces and tabs, both ends

}  // namespace kensa::net

#endif  // KENSA_NET_SMTP_COMMAND_H_
