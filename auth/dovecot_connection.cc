// SPDX-License-Identifier: GPL-2.0-or-later
// DovecotConnection: a non-blocking socket driven with poll(2) against absolute deadlines.
#include "auth/dovecot_connection.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "auth/dovecot_auth_protocol.h"
#include "core/socket_address.h"

namespace kensa::auth {
namespace {

// Waits for `events` on fd until deadline: OK, DeadlineExceeded or Unavailable.
absl::Status WaitFor(int fd, short events, absl::Time deadline, const std::string& what) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("dovecot auth: timeout ", what));
    }
    pollfd p{fd, events, 0};
    int64_t ms = absl::ToInt64Milliseconds(left) + 1;
    int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 60000)));
    if (rc > 0) return absl::OkStatus();  // errors and hangups surface in the next call
    if (rc < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("dovecot auth: poll: ", std::strerror(errno)));
    }
  }
}

absl::StatusOr<SocketAddress> EndpointAddress(const DovecotEndpoint& e) {
  SocketAddress addr;
  if (e.kind == DovecotEndpoint::Kind::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr.storage);
    if (e.path.size() >= sizeof un->sun_path) {
      return absl::InvalidArgumentError(absl::StrCat("dovecot socket path too long: ", e.path));
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, e.path.c_str(), e.path.size() + 1);
    addr.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + e.path.size() + 1);
    return addr;
  }
  // A literal needs no resolver; a name is looked up per connect (rare: connections persist).
  return ResolveHostPort(e.host, e.port);
}

}  // namespace

std::string DovecotEndpoint::ToString() const {
  if (kind == Kind::kUnix) return absl::StrCat("unix:", path);
  if (host.find(':') != std::string::npos) return absl::StrCat("inet:[", host, "]:", port);
  return absl::StrCat("inet:", host, ":", port);
}

absl::StatusOr<DovecotEndpoint> ParseDovecotEndpoint(std::string_view text) {
  DovecotEndpoint e;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad dovecot endpoint \"", absl::string_view(text.data(), text.size()), "\": ",
        absl::string_view(why.data(), why.size())));
  };
  if (text.starts_with("unix:")) {
    e.kind = DovecotEndpoint::Kind::kUnix;
    e.path = std::string(text.substr(5));
    if (e.path.empty() || e.path.front() != '/') return bad("want unix:/absolute/path");
    if (e.path.size() >= sizeof(sockaddr_un::sun_path)) return bad("socket path too long");
    return e;
  }
  if (!text.starts_with("inet:")) return bad("want unix:/path or inet:host:port");
  e.kind = DovecotEndpoint::Kind::kInet;
  std::string_view rest = text.substr(5);
  std::string_view port_text;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("want inet:[v6-address]:port");
    }
    e.host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("want inet:host:port");
    e.host = std::string(rest.substr(0, colon));
    if (e.host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
    port_text = rest.substr(colon + 1);
  }
  uint32_t port = 0;
  if (e.host.empty()) return bad("empty host");
  if (!absl::SimpleAtoi(absl::string_view(port_text.data(), port_text.size()), &port) ||
      port == 0 || port > 65535) {
    return bad("port must be 1..65535");
  }
  e.port = static_cast<uint16_t>(port);
  return e;
}

absl::StatusOr<std::unique_ptr<DovecotConnection>> DovecotConnection::Open(
    const DovecotEndpoint& endpoint, absl::Time deadline, size_t max_line_bytes) {
  absl::StatusOr<SocketAddress> addr = EndpointAddress(endpoint);
  if (!addr.ok()) return addr.status();
  int fd = socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  std::unique_ptr<DovecotConnection> conn(new DovecotConnection(fd, max_line_bytes));
  std::string where = endpoint.ToString();
  if (connect(fd, addr->get(), addr->length) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return absl::UnavailableError(
          absl::StrCat("dovecot auth: connect ", where, ": ", std::strerror(errno)));
    }
    absl::Status waited = WaitFor(fd, POLLOUT, deadline, absl::StrCat("connecting to ", where));
    if (!waited.ok()) return waited;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::UnavailableError(
          absl::StrCat("dovecot auth: connect ", where, ": ", std::strerror(err)));
    }
  }
  absl::Status sent = conn->WriteAll(DovecotClientHandshake(getpid()), deadline);
  if (!sent.ok()) return sent;
  DovecotHandshake handshake;
  while (!handshake.done()) {
    absl::StatusOr<std::string> line = conn->ReadLine(deadline);
    if (!line.ok()) return line.status();
    absl::Status st = handshake.Consume(*line);
    if (!st.ok()) return st;
  }
  return conn;
}

DovecotConnection::~DovecotConnection() {
  if (fd_ >= 0) close(fd_);
}

absl::Status DovecotConnection::WriteAll(std::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      absl::Status st = WaitFor(fd_, POLLOUT, deadline, "writing");
      if (!st.ok()) return st;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("dovecot auth: send: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DovecotConnection::ReadLine(absl::Time deadline) {
  for (;;) {
    size_t lf = in_.find('\n');
    if (lf != std::string::npos) {
      std::string line = in_.substr(0, lf);
      in_.erase(0, lf + 1);
      return line;
    }
    if (in_.size() > max_line_bytes_) {
      return absl::UnavailableError(
          absl::StrCat("dovecot auth: line longer than ", max_line_bytes_, " bytes"));
    }
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return absl::UnavailableError("dovecot auth: server closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      absl::Status st = WaitFor(fd_, POLLIN, deadline, "waiting for the server");
      if (!st.ok()) return st;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("dovecot auth: recv: ", std::strerror(errno)));
  }
}

bool DovecotConnection::Stale() const {
  if (!in_.empty()) return true;
  pollfd p{fd_, POLLIN, 0};
  // Readable while idle means EOF, an error, or bytes nobody asked for: none is usable.
  return poll(&p, 1, 0) != 0;
}

}  // namespace kensa::auth
