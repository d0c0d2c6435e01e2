// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/socket_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kensa {

std::string SocketAddress::HostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    }
  } else {
    return "unknown";
  }
  return buf;
}

std::string SocketAddress::ToString() const {
  uint16_t port = 0;
  if (family() == AF_INET) port = ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return absl::StrCat("[", HostString(), "]:", port);
  }
  return absl::StrCat(HostString(), ":", port);
}

absl::StatusOr<SocketAddress> ParseSocketAddress(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"", std::string(text), "\": want [v6]:port"));
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"", std::string(text), "\": want host:port"));
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(std::string(port_text), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in \"", std::string(text), "\""));
  }
  SocketAddress out;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address \"", std::string(text), "\": host must be a numeric IPv4/IPv6 address"));
  }
  return out;
}

absl::StatusOr<SocketAddress> ResolveHostPort(const std::string& host, uint16_t port) {
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(h.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  SocketAddress out;
  std::memcpy(&out.storage, res->ai_addr, res->ai_addrlen);
  out.length = res->ai_addrlen;
  freeaddrinfo(res);
  return out;
}

absl::StatusOr<SocketAddress> PeerAddress(int fd) {
  SocketAddress out;
  out.length = sizeof(out.storage);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length) != 0) {
    return absl::InternalError(absl::StrCat("getpeername: ", std::strerror(errno)));
  }
  return out;
}

absl::StatusOr<CidrBlock> CidrBlock::Parse(std::string_view text) {
  CidrBlock b;
  std::string addr(text);
  size_t slash = addr.find('/');
  int prefix = -1;
  if (slash != std::string::npos) {
    if (!absl::SimpleAtoi(addr.substr(slash + 1), &prefix)) {
      return absl::InvalidArgumentError(absl::StrCat("bad CIDR prefix in \"", std::string(text), "\""));
    }
    addr.resize(slash);
  }
  if (inet_pton(AF_INET, addr.c_str(), b.bytes_) == 1) {
    b.family_ = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return absl::InvalidArgumentError(absl::StrCat("bad CIDR \"", std::string(text), "\""));
  } else if (inet_pton(AF_INET6, addr.c_str(), b.bytes_) == 1) {
    b.family_ = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return absl::InvalidArgumentError(absl::StrCat("bad CIDR \"", std::string(text), "\""));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("bad CIDR \"", std::string(text), "\""));
  }
  b.prefix_ = prefix;
  return b;
}

bool CidrBlock::Contains(const SocketAddress& addr) const {
  const unsigned char* bytes = nullptr;
  int family = addr.family();
  if (family == AF_INET) {
    bytes = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr);
  } else if (family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    bytes = a6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      family = AF_INET;
      bytes += 12;
    }
  }
  if (bytes == nullptr || family != family_) return false;
  int full = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(bytes, bytes_, full) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (bytes[full] & mask) == (bytes_[full] & mask);
}

absl::StatusOr<int> OpenListenSocket(const SocketAddress& addr, int backlog) {
  int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, addr.get(), addr.length) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", addr.ToString(), ": ", std::strerror(err)));
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("listen ", addr.ToString(), ": ", std::strerror(err)));
  }
  return fd;
}

}  // namespace kensa
