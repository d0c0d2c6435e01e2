// SPDX-License-Identifier: GPL-2.0-or-later
// Where mail goes next: "smtp://host:port", "lmtp://host:port" (optional "?tls=none|
// opportunistic|required"), or "maildir:/path" (one Maildir per recipient address under path).
#ifndef KENSA_NET_NEXT_HOP_H_
#define KENSA_NET_NEXT_HOP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::net {

enum class TlsPolicy { kNone, kOpportunistic, kRequired };

struct NextHop {
  enum class Kind { kSmtp, kLmtp, kMaildir };
  Kind kind = Kind::kSmtp;
  std::string host;  // name or literal; an IPv6 literal without brackets ("::1")
  uint16_t port = 25;
  std::string path;  // maildir root
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  // "smtp://127.0.0.1:2626", "lmtp://[::1]:24", "maildir:/var/mail" (tls shown when not the
  // default): also the key of a connection pool.
  std::string ToString() const;
};

// InvalidArgument naming the problem for anything else (bad scheme, bad port, no host, empty
// Maildir path). A relative Maildir path is kept as given (the embedded default uses one).
// smtp defaults to port 25 and lmtp to 24 when ":port" is omitted.
absl::StatusOr<NextHop> ParseNextHop(std::string_view uri);

}  // namespace kensa::net

#endif  // KENSA_NET_NEXT_HOP_H_
