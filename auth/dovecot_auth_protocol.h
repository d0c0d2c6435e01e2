// SPDX-License-Identifier: GPL-2.0-or-later
// The client side of the Dovecot authentication protocol (auth-client socket, the one Postfix
// uses with smtpd_sasl_type = dovecot) as pure functions: tab-escaping, the handshake, the
// AUTH line and the reply parse. No I/O here, so every rule is unit-tested without a server.
//
// Lines end with LF and fields are separated by TAB; values escape \001 as \001 1, TAB as
// \001 t, CR as \001 r, LF as \001 n and NUL as \001 0 (Dovecot's str_tabescape), so nothing a
// client sends can add a field.
#ifndef KENSA_AUTH_DOVECOT_AUTH_PROTOCOL_H_
#define KENSA_AUTH_DOVECOT_AUTH_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/auth_backend.h"

namespace kensa::auth {

inline constexpr int kDovecotAuthMajor = 1;
inline constexpr int kDovecotAuthMinor = 2;

std::string DovecotTabEscape(std::string_view value);
std::string DovecotTabUnescape(std::string_view value);

// "VERSION\t1\t2\nCPID\t<pid>\n"
std::string DovecotClientHandshake(int64_t pid);

// The server's handshake, fed one line at a time (without the LF) until done.
class DovecotHandshake {
 public:
  // An error for a wrong major version or a malformed line; after DONE, an error when PLAIN
  // is not among the mechanisms.
  absl::Status Consume(std::string_view line);
  bool done() const { return done_; }

 private:
  bool version_seen_ = false;
  bool plain_ = false;
  bool done_ = false;
};

struct DovecotAuthLineOptions {
  // Dovecot's own brute-force delay per client address (auth_penalty). Off by default: kensa's
  // AuthFailureLimiter already delays, and the two stacked outgrow the request timeout.
  bool penalty = false;
};

// AUTH\t<id>\tPLAIN\tservice=smtp\tnologin\t[no-penalty\t][secured\t]rip=..\t[lip=..\t]resp=..
// The line carries the password (base64): the caller wipes it after writing it.
std::string DovecotAuthLine(uint32_t id, const AuthRequest& request,
                            const DovecotAuthLineOptions& options = {});

struct DovecotReply {
  enum class Kind { kOk, kFail, kCont };
  Kind kind = Kind::kFail;
  uint32_t id = 0;
  std::vector<std::pair<std::string, std::string>> params;  // unescaped; booleans have ""
  const std::string* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
};

// OK / FAIL / CONT lines; anything else is an error (the connection is then not trusted).
absl::StatusOr<DovecotReply> ParseDovecotReply(std::string_view line);

// OK -> kOk with the server's canonical user= (the request's user when absent); FAIL ->
// kFailed, or kTempFail when the server marks it temporary ("temp", "code=temp_fail");
// CONT -> kTempFail (PLAIN sends everything at once; a challenge means a confused server).
AuthOutcome DovecotOutcome(const DovecotReply& reply, const AuthRequest& request);

}  // namespace kensa::auth

#endif  // KENSA_AUTH_DOVECOT_AUTH_PROTOCOL_H_
