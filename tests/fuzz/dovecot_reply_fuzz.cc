// SPDX-License-Identifier: GPL-2.0-or-later
// Lines from a Dovecot auth server decide who is logged in: whatever a broken or hostile
// server sends, the handshake and reply parsers answer with a status or an outcome, never a
// crash; an outcome is kOk only for an "OK" line, and tab escaping round-trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/dovecot_auth_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  kensa::auth::DovecotHandshake handshake;
  std::string_view rest = in;
  while (!rest.empty() && !handshake.done()) {
    size_t lf = rest.find('\n');
    if (!handshake.Consume(rest.substr(0, lf)).ok()) break;
    if (lf == std::string_view::npos) break;
    rest.remove_prefix(lf + 1);
  }
  kensa::auth::AuthRequest request;
  request.user = "user@example.test";
  // A reply is one line, so a password holding LF can only reach `reason` if we copy it.
  request.password = "se\ncret";
  request.client_address = "192.0.2.1";
  for (std::string_view lines = in; !lines.empty();) {
    size_t lf = lines.find('\n');
    std::string_view line = lines.substr(0, lf);
    absl::StatusOr<kensa::auth::DovecotReply> reply = kensa::auth::ParseDovecotReply(line);
    if (reply.ok()) {
      kensa::auth::AuthOutcome o = kensa::auth::DovecotOutcome(*reply, request);
      if (o.kind == kensa::auth::AuthOutcome::Kind::kOk && line.substr(0, 3) != "OK\t") {
        __builtin_trap();
      }
      if (o.reason.find(request.password) != std::string::npos) __builtin_trap();
    }
    if (lf == std::string_view::npos) break;
    lines.remove_prefix(lf + 1);
  }
  std::string escaped = kensa::auth::DovecotTabEscape(in);
  if (escaped.find_first_of("\t\n") != std::string::npos) __builtin_trap();
  if (kensa::auth::DovecotTabUnescape(escaped) != in) __builtin_trap();
  return 0;
}
