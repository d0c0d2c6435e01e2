// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "control/control_protocol.h"
#include "control/peer_check.h"
#include "core/log.h"

namespace kensa::control {

struct ControlServer::Client {
  int fd = -1;
  PeerIdentity peer;
  FrameReader reader{kMaxRequestBytes};
  std::string out;
  size_t sent = 0;
  bool answering = false;  // the request is read; only the answer is left to send
  absl::Time last_activity;
};

namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A response that would pass kMaxResponseBytes is cut, and its last line says so.
std::string EncodeResponse(const CommandResult& r) {
  std::string head = r.ok ? (r.message.empty() ? "OK" : absl::StrCat("OK ", r.message))
                          : absl::StrCat("ERR ", r.message.empty() ? "failed" : r.message);
  for (char& ch : head) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  size_t total = head.size() + 16;
  std::vector<std::string> lines;
  for (const std::string& line : r.lines) {
    if (total + line.size() + 2 > kMaxResponseBytes - 128 || line.size() > kMaxLineBytes) {
      lines.push_back(absl::StrCat("... cut: the answer is longer than ", kMaxResponseBytes,
                                   " bytes or has a line over ", kMaxLineBytes));
      break;
    }
    total += line.size() + 2;
    lines.push_back(line);
  }
  return EncodeFrame(head, lines);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    const ControlServerOptions& options, ControlBackend* backend) {
  std::unique_ptr<ControlServer> s(new ControlServer(options, backend));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("control.socket: the path must have 1 to ",
                                                   sizeof addr.sun_path - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, options.socket_path.data(), options.socket_path.size());
  // A socket left by a kensad that died; anything else under that name is not ours.
  struct stat st {};
  if (lstat(options.socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("control.socket: ", options.socket_path, " exists and is not a socket"));
    }
    unlink(options.socket_path.c_str());
  }
  s->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd_ < 0) return Errno("control socket");
  if (bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Errno(absl::StrCat("control.socket: bind ", options.socket_path));
  }
  // Mode and group are set before listen(): until then nobody can connect.
  s->admin_gid_ = LookUpGroup(options.admin_group);
  if (s->admin_gid_) {
    if (chown(options.socket_path.c_str(), static_cast<uid_t>(-1), *s->admin_gid_) != 0 ||
        chmod(options.socket_path.c_str(), 0660) != 0) {
      return Errno(absl::StrCat("control.socket: chown/chmod ", options.socket_path));
    }
  } else {
    if (chmod(options.socket_path.c_str(), 0600) != 0) {
      return Errno(absl::StrCat("control.socket: chmod ", options.socket_path));
    }
    KLOG(kWarning, "control_admin_group_missing")
        .Kv("group", options.admin_group)
        .Kv("socket", options.socket_path)
        .Kv("effect", "only root and kensad's own user may use the control socket");
  }
  if (listen(s->listen_fd_, 64) != 0) return Errno("control socket listen");
  s->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->stop_fd_ < 0) return Errno("control eventfd");
  s->thread_ = std::thread([raw = s.get()] { raw->Loop(); });
  KLOG(kInfo, "control_listening")
      .Kv("socket", options.socket_path)
      .Kv("group", s->admin_gid_ ? options.admin_group : std::string("(none)"));
  return s;
}

ControlServer::ControlServer(ControlServerOptions options, ControlBackend* backend)
    : options_(std::move(options)), backend_(backend) {}

ControlServer::~ControlServer() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(options_.socket_path.c_str());
  }
  if (stop_fd_ >= 0) close(stop_fd_);
}

void ControlServer::Loop() {
  std::list<Client> clients;
  std::vector<pollfd> fds;
  std::vector<Client*> order;
  for (;;) {
    fds.clear();
    order.clear();
    fds.push_back({stop_fd_, POLLIN, 0});
    fds.push_back(
        {listen_fd_, static_cast<short>(clients.size() < options_.max_clients ? POLLIN : 0), 0});
    for (Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.answering ? POLLOUT : POLLIN), 0});
      order.push_back(&c);
    }
    const int n = poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      KLOG(kError, "control_poll_failed").Kv("error", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;
    if ((fds[1].revents & POLLIN) != 0) Accept();
    const absl::Time now = absl::Now();
    std::vector<Client*> finished;
    for (size_t i = 0; i < order.size(); ++i) {
      Client& c = *order[i];
      const short ev = fds[i + 2].revents;
      bool keep = true;
      if ((ev & (POLLERR | POLLNVAL)) != 0) {
        keep = false;
      } else if (c.answering && (ev & (POLLOUT | POLLHUP)) != 0) {
        keep = OnWritable(c);
      } else if (!c.answering && (ev & (POLLIN | POLLHUP)) != 0) {
        keep = OnReadable(c);
      } else if (now - c.last_activity > options_.idle_timeout) {
        keep = false;
      }
      if (!keep) finished.push_back(&c);
    }
    for (Client* c : finished) {
      close(c->fd);
      clients.remove_if([c](const Client& x) { return &x == c; });
    }
    // Accept() parks new clients here (declared in Loop so the list owns them).
    for (Client& c : pending_) clients.push_back(std::move(c));
    pending_.clear();
  }
  for (Client& c : clients) close(c.fd);
  for (Client& c : pending_) close(c.fd);
  pending_.clear();
}

void ControlServer::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    absl::StatusOr<PeerIdentity> peer = PeerOf(fd);
    if (!peer.ok() || !IsAdmin(*peer, admin_gid_, geteuid())) {
      const std::string who = peer.ok() ? absl::StrCat("uid ", peer->uid, " (", peer->user, ")")
                                        : std::string("an unknown peer");
      const std::string reply = EncodeResponse(CommandResult::Error(absl::StrCat(
          "permission denied: ", who, " is not root or a member of group ", options_.admin_group)));
      (void)!send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      auto line = KLOG(kWarning, "control_refused");
      if (peer.ok()) {
        line.Kv("uid", static_cast<uint64_t>(peer->uid))
            .Kv("user", peer->user)
            .Kv("pid", static_cast<int64_t>(peer->pid));
      } else {
        line.Kv("error", peer.status());
      }
      line.Kv("group", options_.admin_group);
      continue;
    }
    Client c;
    c.fd = fd;
    c.peer = *peer;
    c.last_activity = absl::Now();
    pending_.push_back(std::move(c));
  }
}

bool ControlServer::OnReadable(Client& c) {
  char buf[16384];
  for (;;) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;  // closed before a whole request
    c.last_activity = absl::Now();
    c.reader.Append(std::string_view(buf, static_cast<size_t>(n)));
    FrameReader::Result r = c.reader.Next();
    if (r == FrameReader::Result::kNeedMore) continue;
    if (r == FrameReader::Result::kError) {
      c.out = EncodeResponse(CommandResult::Error(absl::StrCat("bad request: ", c.reader.error())));
    } else {
      Frame f = c.reader.TakeFrame();
      Answer(c, f.head, f.body);
    }
    c.answering = true;
    return OnWritable(c);
  }
}

bool ControlServer::OnWritable(Client& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    c.sent += static_cast<size_t>(n);
    c.last_activity = absl::Now();
  }
  return false;  // answered: one request per connection
}

void ControlServer::Answer(Client& c, const std::string& request_head,
                           const std::vector<std::string>& body) {
  absl::StatusOr<ParsedCommand> cmd = ParseCommand(request_head);
  if (!cmd.ok()) {
    c.out = EncodeResponse(CommandResult::Error(std::string(cmd.status().message())));
    return;
  }
  if (!cmd->spec->takes_body && !body.empty()) {
    c.out = EncodeResponse(
        CommandResult::Error(absl::StrCat(CommandName(*cmd->spec), " takes no input lines")));
    return;
  }
  CommandResult result = backend_->Run(*cmd, body, c.peer);
  if (cmd->spec->changes) {
    KLOG(kInfo, "control_audit")
        .Kv("uid", static_cast<uint64_t>(c.peer.uid))
        .Kv("user", c.peer.user)
        .Kv("pid", static_cast<int64_t>(c.peer.pid))
        .Kv("command", request_head)
        .Kv("input_lines", static_cast<uint64_t>(body.size()))
        .Kv("result", result.ok ? "ok" : "error")
        .Kv("message", result.message);
  }
  c.out = EncodeResponse(result);
}

}  // namespace kensa::control
