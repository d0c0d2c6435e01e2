// SPDX-License-Identifier: GPL-2.0-or-later
// The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy specifies it
// (doc/proxy-protocol.txt): the header an L4 load balancer sends on a new connection before
// the client's first byte, naming the client's address. Sans-I/O: the caller feeds what it
// has read so far and learns whether the header is complete, needs more bytes, or is bad.
#ifndef KENSA_NET_PROXY_PROTOCOL_H_
#define KENSA_NET_PROXY_PROTOCOL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/socket_address.h"

namespace kensa::net {

// A v1 header is at most 107 bytes (the specification's bound, CRLF included).
inline constexpr size_t kProxyV1MaxBytes = 107;
// A v2 header is 16 bytes and a length of at most 65535 more.
inline constexpr size_t kProxyV2FixedBytes = 16;

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // The balancer's own connection (v2 LOCAL, health checks) or a family the header does not
  // describe (v1 UNKNOWN, v2 UNSPEC or UNIX): the socket's own addresses stand.
  bool local = false;
  SocketAddress source;       // the client, when !local
  SocketAddress destination;  // the address the client connected to, when !local
  size_t length = 0;          // bytes of the header; what follows is the client's
};

struct ProxyParse {
  enum class State { kNeedMore, kDone, kError };
  State state = State::kNeedMore;
  ProxyHeader header;  // kDone
  std::string error;   // kError: why, for the log
};

// Parses the header at the start of `data`. kNeedMore while `data` is a proper prefix of a
// header that fits `max_bytes`; kError as soon as it cannot be one (or would exceed
// `max_bytes`).
ProxyParse ParseProxyHeader(std::string_view data, size_t max_bytes);

}  // namespace kensa::net

#endif  // KENSA_NET_PROXY_PROTOCOL_H_
