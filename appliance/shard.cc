// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/shard.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "appliance/delivery_agent.h"
#include "appliance/pop3_connection.h"
#include "appliance/smtp_connection.h"
#include "core/log.h"
#include "core/socket_stream.h"

namespace kensa {

constexpr int kListenBacklog = 4096;

Shard::Shard(Reactor* reactor, Runtime* runtime, spool::SpoolShard spool)
    : reactor_(reactor),
      runtime_(runtime),
      spool_(std::move(spool)),
      syncer_(reactor, spool_.dir_fd()),
      worker_(absl::StrCat("kensa-work-", reactor->index())),
      cache_(runtime->config.verdict_cache_entries > 0
                 ? std::make_unique<scan::VerdictCache>(runtime->config.verdict_cache_entries)
                 : nullptr),
      scan_worker_(absl::StrCat("kensa-scan-", reactor->index())),
      auth_worker_(absl::StrCat("kensa-auth-", reactor->index())),
      delivery_(std::make_unique<DeliveryAgent>(this)),
      pop3_cache_(runtime->config.verdict_cache_entries) {}

Shard::~Shard() {
  for (Listener& l : listeners_) {
    if (l.fd >= 0) close(l.fd);
  }
  connections_.clear();
  delivery_.reset();
}

absl::Status Shard::Start() {
  for (const ListenerConfig& lc : config().listeners) {
    absl::StatusOr<SocketAddress> addr = ParseSocketAddress(lc.address);
    if (!addr.ok()) return addr.status();
    absl::StatusOr<int> fd = OpenListenSocket(*addr, kListenBacklog);
    if (!fd.ok()) return fd.status();
    listeners_.push_back({lc, *fd, 0});
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    listeners_[i].accept_id = reactor_->Accept(listeners_[i].fd, [this, i](int fd) {
      OnAccept(i, fd);
    });
  }
  // Recover every shard directory that maps to this reactor (a restart with fewer reactors
  // still delivers what the others left).
  absl::StatusOr<std::vector<int>> shards = spool::ListShards(config().spool_dir);
  if (!shards.ok()) return shards.status();
  size_t recovered = 0;
  for (int s : *shards) {
    if (s % runtime_->reactors != index()) continue;
    absl::StatusOr<spool::SpoolShard> shard = spool::SpoolShard::Open(config().spool_dir, s);
    if (!shard.ok()) return shard.status();
    std::vector<std::string> discarded;
    auto found = shard->Recover(&discarded);
    if (!found.ok()) return found.status();
    for (const std::string& d : discarded) {
      KLOG(kWarning, "recovery_discarded").Kv("path", d).Kv("reason", "incomplete queue file");
    }
    for (spool::SpoolShard::Recovered& r : *found) {
      delivery_->EnqueueRecovered(r.path, r.info);
      ++recovered;
    }
  }
  if (recovered > 0) {
    KLOG(kInfo, "recovered").Kv("reactor", index()).Kv("messages", recovered);
  }
  return absl::OkStatus();
}

void Shard::OnAccept(size_t listener_index, int fd) {
  if (fd < 0) {
    if (fd != -ECANCELED) {
      KLOG(kWarning, "accept_failed").Kv("reactor", index()).Kv("error", std::strerror(-fd));
    }
    return;
  }
  if (draining_) {
    close(fd);
    return;
  }
  absl::StatusOr<SocketAddress> peer = PeerAddress(fd);
  if (!peer.ok()) {
    close(fd);
    return;
  }
  ConnectionLimiter::Admit admit = runtime_->limiter->TryAdmit(*peer);
  if (admit != ConnectionLimiter::Admit::kOk) {
    // One short non-blocking write; the client learns why before the close.
    std::string reply =
        admit == ConnectionLimiter::Admit::kTotalLimit
            ? absl::StrCat("421 4.7.0 ", config().hostname, " Error: too many connections\r\n")
            : absl::StrCat("421 4.7.0 ", config().hostname, " Error: too many connections from ",
                           peer->HostString(), "\r\n");
    (void)!send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    Count(runtime_->ids.connections_refused);
    KLOG(kInfo, "connection_refused")
        .Kv("client", peer->HostString())
        .Kv("reason", admit == ConnectionLimiter::Admit::kTotalLimit ? "max_connections"
                                                                     : "max_connections_per_client");
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Count(runtime_->ids.connections);
  uint64_t id = next_connection_id_++;
  const ListenerConfig& lc = listeners_[listener_index].config;
  std::unique_ptr<ClientConnection> conn;
  if (lc.protocol == ListenerProtocol::kPop3) {
    conn = std::make_unique<Pop3Connection>(this, id, SocketStream::Create(reactor_, fd), *peer, lc);
  } else {
    conn = std::make_unique<SmtpConnection>(this, id, SocketStream::Create(reactor_, fd), *peer, lc);
  }
  ClientConnection* raw = conn.get();
  connections_[id] = std::move(conn);
  raw->Start();
}

void Shard::ConnectionFinished(uint64_t id) {
  reactor_->Defer([this, id] {
    connections_.erase(id);
    CheckDrained();
  });
}

void Shard::BeginDrain(absl::Time deadline, absl::AnyInvocable<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  delivery_->Stop();
  for (Listener& l : listeners_) {
    reactor_->Cancel(l.accept_id);
    close(l.fd);
    l.fd = -1;
  }
  for (auto& [id, c] : connections_) c->Drain();
  drain_timer_ = reactor_->RunAfter(deadline - absl::Now(), [this] {
    drain_timer_ = 0;
    for (auto& [id, c] : connections_) c->ForceClose();
    // Connections that cannot even flush their 421 are cut when their linger ends.
    reactor_->RunAfter(absl::Seconds(2), [this] {
      connections_.clear();
      CheckDrained();
    });
  });
  reactor_->Defer([this] { CheckDrained(); });
}

void Shard::CheckDrained() {
  if (!draining_ || !connections_.empty() || !drained_) return;
  if (drain_timer_ != 0) {
    reactor_->CancelTimer(drain_timer_);
    drain_timer_ = 0;
  }
  absl::AnyInvocable<void()> done = std::move(drained_);
  drained_ = nullptr;
  done();
}

}  // namespace kensa
