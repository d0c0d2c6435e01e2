// SPDX-License-Identifier: GPL-2.0-or-later
// The SASL pieces SMTP AUTH (RFC 4954) needs: strict base64 for the client's responses, and
// the PLAIN message (RFC 4616). LOGIN is two base64 lines and needs nothing more.
#ifndef KENSA_NET_SASL_H_
#define KENSA_NET_SASL_H_

#include <optional>
#include <string>
#include <string_view>

namespace kensa::net {

// RFC 4648 base64 as RFC 4954 requires it: a multiple of 4 characters from the alphabet,
// '=' padding only at the end. Anything else (whitespace, a missing pad, a stray '=') is
// nullopt, which the session answers with 501.
std::optional<std::string> DecodeSaslBase64(std::string_view text);
std::string EncodeSaslBase64(std::string_view bytes);

struct SaslPlain {
  std::string authzid;  // usually empty
  std::string user;
  std::string password;
};

// authzid NUL authcid NUL passwd; the user and password must not be empty and no part may
// hold another NUL (RFC 4616 section 2).
std::optional<SaslPlain> ParseSaslPlain(std::string_view message);

}  // namespace kensa::net

#endif  // KENSA_NET_SASL_H_
