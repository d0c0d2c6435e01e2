// SPDX-License-Identifier: GPL-2.0-or-later
// SMTP envelope addresses (RFC 5321 section 4.1.2): parsing the reverse-path / forward-path of
// MAIL and RCPT, and the small helpers every layer needs (the domain of an address).
#ifndef KENSA_NET_SMTP_ADDRESS_H_
#define KENSA_NET_SMTP_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::net {

// The part after the last '@' ("" when there is none). A quoted local part may contain '@'.
std::string_view DomainOf(std::string_view address);

struct SmtpPath {
  std::string address;  // without angle brackets or source route; "" for the null path <>
  std::string params;   // what followed the closing '>' (ESMTP parameters), trimmed
};

// Parses what follows "MAIL FROM:" or "RCPT TO:" (leading spaces allowed): "<a@b> SIZE=1".
// A source route "<@relay1,@relay2:user@domain>" is accepted and dropped (RFC 5321 C);
// quoted local parts are kept quoted; with `utf8` (SMTPUTF8) non-ASCII is allowed.
// InvalidArgument names what is wrong (the session turns it into 501/553).
absl::StatusOr<SmtpPath> ParseSmtpPath(std::string_view arg, bool allow_null, bool utf8);

}  // namespace kensa::net

#endif  // KENSA_NET_SMTP_ADDRESS_H_
