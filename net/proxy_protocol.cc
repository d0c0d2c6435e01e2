// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kensa::net {
namespace {

using State = ProxyParse::State;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

ProxyParse Error(std::string why) {
  ProxyParse p;
  p.state = State::kError;
  p.error = std::move(why);
  return p;
}

ProxyParse NeedMore() { return ProxyParse{}; }

// A port: decimal, 0-65535, no sign, no leading zero but "0" itself.
bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

bool MakeAddress(int family, std::string_view host, uint16_t port, SocketAddress* out) {
  const std::string h(host);
  *out = SocketAddress{};
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->storage);
    if (inet_pton(AF_INET, h.c_str(), &sin->sin_addr) != 1) return false;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out->length = sizeof(sockaddr_in);
    return true;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET6, h.c_str(), &sin6->sin6_addr) != 1) return false;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  out->length = sizeof(sockaddr_in6);
  return true;
}

// The header is printable US-ASCII up to its CRLF: a bare CR or LF, a NUL or any other
// control byte can never become one (and would cut an address short for inet_pton).
bool PrintableLine(std::string_view line) {
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

ProxyParse ParseV1(std::string_view data, size_t max_bytes) {
  const size_t limit = std::min(max_bytes, kProxyV1MaxBytes);
  const size_t end = data.find("\r\n");
  // What may still be the line: all of it, less a last CR whose LF has not come yet.
  std::string_view line = data.substr(0, end);
  if (end == std::string_view::npos && !line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (!PrintableLine(line)) return Error("PROXY v1: a control byte in the header");
  if (end == std::string_view::npos) {
    if (data.size() >= limit) return Error(absl::StrCat("PROXY v1: no CRLF in ", limit, " bytes"));
    return NeedMore();
  }
  if (end + 2 > limit) return Error(absl::StrCat("PROXY v1: header over ", limit, " bytes"));
  std::vector<std::string_view> f;
  for (size_t start = 0;;) {
    const size_t space = line.find(' ', start);
    f.push_back(line.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  ProxyParse p;
  p.state = State::kDone;
  p.header.version = 1;
  p.header.length = end + 2;
  if (f.size() >= 2 && f[1] == "UNKNOWN") {
    // "PROXY UNKNOWN" and whatever follows: the receiver uses the socket's addresses.
    p.header.local = true;
    return p;
  }
  if (f.size() != 6) return Error("PROXY v1: not 'PROXY TCP4|TCP6 SRC DST SPORT DPORT'");
  int family;
  if (f[1] == "TCP4") {
    family = AF_INET;
  } else if (f[1] == "TCP6") {
    family = AF_INET6;
  } else {
    return Error("PROXY v1: protocol is neither TCP4, TCP6 nor UNKNOWN");
  }
  uint16_t sport = 0, dport = 0;
  if (!ParsePort(f[4], &sport) || !ParsePort(f[5], &dport)) return Error("PROXY v1: bad port");
  if (!MakeAddress(family, f[2], sport, &p.header.source) ||
      !MakeAddress(family, f[3], dport, &p.header.destination)) {
    return Error(absl::StrCat("PROXY v1: bad ", std::string(f[1]), " address"));
  }
  return p;
}

ProxyParse ParseV2(std::string_view data, size_t max_bytes) {
  if (data.size() < kProxyV2FixedBytes) return NeedMore();
  const auto* b = reinterpret_cast<const unsigned char*>(data.data());
  const int version = b[12] >> 4, command = b[12] & 0x0f;
  if (version != 2) return Error("PROXY v2: version is not 2");
  if (command > 1) return Error("PROXY v2: command is neither LOCAL nor PROXY");
  const int family = b[13] >> 4, transport = b[13] & 0x0f;
  const size_t length = (static_cast<size_t>(b[14]) << 8) | b[15];
  const size_t total = kProxyV2FixedBytes + length;
  if (total > max_bytes) {
    return Error(absl::StrCat("PROXY v2: header of ", total, " bytes, over ", max_bytes));
  }
  if (data.size() < total) return NeedMore();
  ProxyParse p;
  p.state = State::kDone;
  p.header.version = 2;
  p.header.length = total;
  if (command == 0) {  // LOCAL: the balancer's own connection (a health check)
    p.header.local = true;
    return p;
  }
  const unsigned char* a = b + kProxyV2FixedBytes;
  // Only TCP over IPv4 or IPv6 names a client kensa can use; UNSPEC and UNIX keep the socket's.
  if (family == 1 || family == 2) {
    if (transport != 1) return Error("PROXY v2: transport is not STREAM");
    const size_t address_bytes = family == 1 ? 12 : 36;
    if (length < address_bytes) return Error("PROXY v2: address block shorter than its family");
    SocketAddress src, dst;
    if (family == 1) {
      auto* s = reinterpret_cast<sockaddr_in*>(&src.storage);
      auto* d = reinterpret_cast<sockaddr_in*>(&dst.storage);
      s->sin_family = d->sin_family = AF_INET;
      std::memcpy(&s->sin_addr, a, 4);
      std::memcpy(&d->sin_addr, a + 4, 4);
      std::memcpy(&s->sin_port, a + 8, 2);
      std::memcpy(&d->sin_port, a + 10, 2);
      src.length = dst.length = sizeof(sockaddr_in);
    } else {
      auto* s = reinterpret_cast<sockaddr_in6*>(&src.storage);
      auto* d = reinterpret_cast<sockaddr_in6*>(&dst.storage);
      s->sin6_family = d->sin6_family = AF_INET6;
      std::memcpy(&s->sin6_addr, a, 16);
      std::memcpy(&d->sin6_addr, a + 16, 16);
      std::memcpy(&s->sin6_port, a + 32, 2);
      std::memcpy(&d->sin6_port, a + 34, 2);
      src.length = dst.length = sizeof(sockaddr_in6);
    }
    p.header.source = src;
    p.header.destination = dst;
    return p;
  }
  if (family > 3) return Error("PROXY v2: unknown address family");
  p.header.local = true;
  return p;
}

}  // namespace

ProxyParse ParseProxyHeader(std::string_view data, size_t max_bytes) {
  if (data.empty()) return NeedMore();
  if (data[0] == 'P') {
    const size_t n = std::min(data.size(), kV1Prefix.size());
    if (data.substr(0, n) != kV1Prefix.substr(0, n)) return Error("not a PROXY protocol header");
    if (data.size() < kV1Prefix.size()) return NeedMore();
    return ParseV1(data, max_bytes);
  }
  if (data[0] == '\r') {
    const size_t n = std::min(data.size(), kV2Signature.size());
    if (data.substr(0, n) != kV2Signature.substr(0, n)) return Error("not a PROXY protocol header");
    return ParseV2(data, max_bytes);
  }
  return Error("not a PROXY protocol header");
}

}  // namespace kensa::net
