// SPDX-License-Identifier: GPL-2.0-or-later
// Socket addresses: "127.0.0.1:25", "[::1]:25" parsing, printing, CIDR matching, and the
// listening socket each reactor opens with SO_REUSEPORT on the same address.
#ifndef KENSA_CORE_SOCKET_ADDRESS_H_
#define KENSA_CORE_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::string HostString() const;  // "127.0.0.1", "::1" (no brackets, no port)
  std::string ToString() const;    // "127.0.0.1:25", "[::1]:25"
};

// Numeric host and port only: "127.0.0.1:2525", "[::1]:2525".
absl::StatusOr<SocketAddress> ParseSocketAddress(std::string_view text);
// Resolves a host name or literal (blocking getaddrinfo; call off the reactor or at start).
absl::StatusOr<SocketAddress> ResolveHostPort(const std::string& host, uint16_t port);
absl::StatusOr<SocketAddress> PeerAddress(int fd);

// A CIDR block ("127.0.0.0/8", "::1/128", or a bare address).
class CidrBlock {
 public:
  static absl::StatusOr<CidrBlock> Parse(std::string_view text);
  bool Contains(const SocketAddress& addr) const;

 private:
  int family_ = 0;
  unsigned char bytes_[16] = {};
  int prefix_ = 0;
};

// A non-blocking listening socket with SO_REUSEPORT, so every reactor binds its own.
absl::StatusOr<int> OpenListenSocket(const SocketAddress& addr, int backlog);

}  // namespace kensa

#endif  // KENSA_CORE_SOCKET_ADDRESS_H_
