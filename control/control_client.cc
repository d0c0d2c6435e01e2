// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "control/control_protocol.h"

namespace kensa::control {

absl::StatusOr<Response> SendCommand(const std::string& socket_path, std::string_view command_line,
                                     const std::vector<std::string>& body, absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto fail = [&](std::string what) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(err)));
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(absl::StrCat("cannot reach kensad at ", socket_path));
  }
  const std::string request = EncodeFrame(command_line, body);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // kensad may answer (a refusal) and close before it read everything: read the answer.
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  FrameReader reader(kMaxResponseBytes + kMaxLineBytes);
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("reading kensad's answer");
    if (n == 0) {
      close(fd);
      return absl::UnavailableError("kensad closed the connection before a whole answer");
    }
    reader.Append(std::string_view(buf, static_cast<size_t>(n)));
    FrameReader::Result r = reader.Next();
    if (r == FrameReader::Result::kNeedMore) continue;
    close(fd);
    if (r == FrameReader::Result::kError) {
      return absl::UnavailableError(absl::StrCat("bad answer from kensad: ", reader.error()));
    }
    Frame f = reader.TakeFrame();
    ResponseHead head;
    if (!ParseResponseHead(f.head, &head)) {
      return absl::UnavailableError(absl::StrCat("bad status line from kensad: ", f.head));
    }
    Response out;
    out.ok = head.ok;
    out.message = std::move(head.text);
    out.lines = std::move(f.body);
    return out;
  }
}

}  // namespace kensa::control
