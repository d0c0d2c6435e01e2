// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/shard.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "appliance/connection_wiring.h"
#include "appliance/queue_wiring.h"
#include "core/log.h"
#include "core/socket_stream.h"
#include "queue/delivery_agent.h"
#include "server/pop3_connection.h"
#include "server/smtp_connection.h"

namespace kensa {

constexpr int kListenBacklog = 4096;
// After an accept failed for want of a descriptor (EMFILE, ENFILE) or of kernel memory, the
// listener waits this long before it tries again, unless a connection of this shard ends
// first. A descriptor freed elsewhere (a delivery, a scan's temporary file) is not announced,
// so the delay bounds both the retries (10 a second, instead of a core spinning on failures)
// and how long a client waits in the listen backlog once one is free.
constexpr absl::Duration kAcceptRetryDelay = absl::Milliseconds(100);
// At most one accept_failed line per reactor in this interval; it counts the failures since
// the last one (a flood of identical lines filled disks at hundreds of MB in 10 s).
constexpr absl::Duration kAcceptFailureLogInterval = absl::Seconds(10);

Shard::Shard(Reactor* reactor, Runtime* runtime, spool::SpoolShard spool,
             std::shared_ptr<const LiveSettings> live)
    : reactor_(reactor),
      runtime_(runtime),
      spool_(std::move(spool)),
      syncer_(reactor, spool_.dir_fd()),
      worker_(absl::StrCat("kensa-work-", reactor->index())),
      cache_(runtime->config.verdict_cache_entries > 0
                 ? std::make_unique<scan::VerdictCache>(runtime->config.verdict_cache_entries)
                 : nullptr),
      scan_bytes_in_flight_(reactor),
      scan_worker_(absl::StrCat("kensa-scan-", reactor->index())),
      auth_worker_(absl::StrCat("kensa-auth-", reactor->index())),
      delivery_(std::make_unique<queue::DeliveryAgent>(
          live->delivery, DeliveryEnvironmentFor(*runtime, live, reactor, &worker_, &spool_))),
      pop3_cache_(runtime->config.verdict_cache_entries),
      live_(std::move(live)),
      connection_env_(MakeConnectionEnvironment()) {}

std::shared_ptr<const ConnectionEnvironment> Shard::MakeConnectionEnvironment() {
  auto env = std::make_shared<ConnectionEnvironment>();
  ConnectionEnvironment& e = *env;
  Runtime* runtime = runtime_;
  e.settings_owner = live_;
  e.reactor = reactor_;
  e.spool = &spool_;
  e.syncer = &syncer_;
  e.worker = &worker_;
  e.scan_worker = &scan_worker_;
  e.verdict_cache = cache_.get();
  e.scan_bytes_in_flight = &scan_bytes_in_flight_;
  e.auth_worker = &auth_worker_;
  e.auth = live_->auth.get();
  e.auth_limiter = runtime->auth_limiter.get();
  e.server_tls = live_->server_tls.get();
  e.client_tls = runtime->client_tls.get();
  e.limiter = runtime->limiter.get();
  e.policy = live_->policy.get();
  e.signatures = &runtime->signatures;
  e.scan_settings = &live_->scan;
  e.pop3_cache = &pop3_cache_;
  e.counters = &runtime->counters;
  e.ids = runtime->server_ids;
  e.histograms = &runtime->histograms;
  e.histogram_ids = runtime->server_histogram_ids;
  e.smtp = &live_->smtp;
  e.pop3 = &live_->pop3;
  e.enqueue = [this](const std::string& path, const std::string& queue_id) {
    delivery_->Enqueue(path, queue_id);
  };
  e.connection_finished = [this](uint64_t id) { ConnectionFinished(id); };
  return env;
}

void Shard::ApplyLiveSettings(std::shared_ptr<const LiveSettings> live) {
  live_ = std::move(live);
  connection_env_ = MakeConnectionEnvironment();
  delivery_->Reconfigure(live_->delivery, RoutesFrom(live_));
}

Shard::~Shard() {
  for (Listener& l : listeners_) {
    if (l.fd >= 0) close(l.fd);
  }
  proxy_readers_.clear();
  connections_.clear();
  delivery_.reset();
}

absl::Status Shard::Start() {
  for (const ListenerConfig& lc : config().listeners) {
    absl::StatusOr<SocketAddress> addr = ParseSocketAddress(lc.address);
    if (!addr.ok()) return addr.status();
    std::vector<CidrBlock> trusted;
    for (const std::string& cidr : lc.trusted_proxies) {
      absl::StatusOr<CidrBlock> block = CidrBlock::Parse(cidr);
      if (!block.ok()) return block.status();
      trusted.push_back(*block);
    }
    absl::StatusOr<int> fd = OpenListenSocket(*addr, kListenBacklog);
    if (!fd.ok()) return fd.status();
    listeners_.push_back({lc, *fd, 0, std::move(trusted)});
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
    if (fd != -ECANCELED) OnAcceptFailed(-fd);
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
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (listeners_[listener_index].config.proxy_protocol) {
    ReadProxyHeader(listener_index, fd, *peer);
    return;
  }
  StartConnection(listener_index, SocketStream::Create(reactor_, fd), *peer);
}

void Shard::ReadProxyHeader(size_t listener_index, int fd, const SocketAddress& balancer) {
  const Listener& l = listeners_[listener_index];
  bool trusted = false;
  for (const CidrBlock& b : l.trusted_proxies) trusted = trusted || b.Contains(balancer);
  if (!trusted) {
    // Only a balancer may name another client; anyone else reaching this port is refused
    // before a byte is read (a PROXY header would let it pose as any address).
    close(fd);
    Count(runtime_->ids.connections_refused);
    KLOG(kWarning, "proxy_refused")
        .Kv("peer", balancer.ToString())
        .Kv("listener", l.config.name)
        .Kv("reason", "not in trusted_proxies");
    return;
  }
  const uint64_t reader_id = next_proxy_reader_id_++;
  auto reader = std::make_unique<ProxyHeaderReader>(
      reactor_, SocketStream::Create(reactor_, fd), l.config.proxy_header_timeout,
      l.config.proxy_header_max_bytes,
      [this, reader_id, listener_index, balancer](absl::StatusOr<net::ProxyHeader> header) {
        auto it = proxy_readers_.find(reader_id);
        if (it == proxy_readers_.end()) return;
        std::shared_ptr<SocketStream> stream = it->second->stream();
        // The reader is inside its own callback: destroy it after this batch.
        reactor_->Defer([this, reader_id] {
          proxy_readers_.erase(reader_id);
          CheckDrained();
        });
        if (!header.ok()) {
          stream->Close(/*flush=*/false);
          Count(runtime_->ids.connections_refused);
          KLOG(kWarning, "proxy_header_failed")
              .Kv("peer", balancer.ToString())
              .Kv("listener", listeners_[listener_index].config.name)
              .Kv("reason", header.status().message());
          return;
        }
        if (draining_) {
          stream->Close(/*flush=*/false);
          return;
        }
        if (header->local && failing_health_checks_) {
          // The balancer's check fails, so it sends no new session here; real ones still
          // come in until the listeners close.
          const std::string reply =
              absl::StrCat("421 4.3.2 ", live_->smtp.hostname, " draining\r\n");
          (void)!send(stream->fd(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          stream->Close(/*flush=*/false);
          return;
        }
        // LOCAL (the balancer's health check) and families without a client keep the socket's.
        StartConnection(listener_index, std::move(stream),
                        header->local ? balancer : header->source);
      });
  ProxyHeaderReader* raw = reader.get();
  proxy_readers_[reader_id] = std::move(reader);
  raw->Start();
}

void Shard::StartConnection(size_t listener_index, std::shared_ptr<SocketStream> stream,
                            const SocketAddress& peer) {
  ConnectionLimiter::Admit admit = runtime_->limiter->TryAdmit(peer);
  if (admit != ConnectionLimiter::Admit::kOk) {
    // One short non-blocking write; the client learns why before the close.
    const std::string& host = live_->smtp.hostname;
    std::string reply =
        admit == ConnectionLimiter::Admit::kTotalLimit
            ? absl::StrCat("421 4.7.0 ", host, " Error: too many connections\r\n")
            : absl::StrCat("421 4.7.0 ", host, " Error: too many connections from ",
                           peer.HostString(), "\r\n");
    (void)!send(stream->fd(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    stream->Close(/*flush=*/false);
    Count(runtime_->ids.connections_refused);
    KLOG(kInfo, "connection_refused")
        .Kv("client", peer.HostString())
        .Kv("reason", admit == ConnectionLimiter::Admit::kTotalLimit ? "max_connections"
                                                                     : "max_connections_per_client");
    return;
  }
  Count(runtime_->ids.connections);
  uint64_t id = next_connection_id_++;
  const ListenerConfig& lc = listeners_[listener_index].config;
  std::unique_ptr<ClientConnection> conn;
  if (lc.protocol == ListenerProtocol::kPop3) {
    conn = std::make_unique<Pop3Connection>(connection_env_, id, std::move(stream), peer, lc);
  } else {
    conn = std::make_unique<SmtpConnection>(connection_env_, id, std::move(stream), peer, lc);
  }
  ClientConnection* raw = conn.get();
  connections_[id] = std::move(conn);
  origins_[id] = {peer.ToString(), lc.name, absl::Now()};
  PublishConnections();
  raw->Start();
}

void Shard::OnAcceptFailed(int error) {
  Count(runtime_->ids.accept_failures);
  ++accept_failures_unlogged_;
  const absl::Time now = absl::Now();
  if (now - accept_failure_logged_ >= kAcceptFailureLogInterval) {
    KLOG(kWarning, "accept_failed")
        .Kv("reactor", index())
        .Kv("error", std::strerror(error))
        .Kv("failures", accept_failures_unlogged_)
        .Kv("retry_after", kAcceptRetryDelay)
        .Kv("connections", connections_.size());
    accept_failures_unlogged_ = 0;
    accept_failure_logged_ = now;
  }
  if (draining_ || accept_retry_timer_ != 0) return;
  accept_retry_timer_ = reactor_->RunAfter(kAcceptRetryDelay, [this] {
    accept_retry_timer_ = 0;
    ResumeAccepting();
  });
}

void Shard::ResumeAccepting() {
  if (accept_retry_timer_ != 0) {
    reactor_->CancelTimer(accept_retry_timer_);
    accept_retry_timer_ = 0;
  }
  if (draining_) return;
  // Accepts that are still armed ignore this; a closed listener has none.
  for (Listener& l : listeners_) {
    if (l.fd >= 0) reactor_->ResumeAccept(l.accept_id);
  }
}

size_t Shard::StopListening(absl::Duration grace) {
  failing_health_checks_ = true;
  if (grace > absl::ZeroDuration()) {
    if (stop_listening_timer_ == 0 && listening_) {
      stop_listening_timer_ = reactor_->RunAfter(grace, [this] {
        stop_listening_timer_ = 0;
        StopListening(absl::ZeroDuration());
      });
    }
    return connections_.size() + proxy_readers_.size();
  }
  if (!draining_ && listening_) {
    listening_ = false;
    for (Listener& l : listeners_) {
      if (l.fd < 0) continue;
      reactor_->Cancel(l.accept_id);
      close(l.fd);
      l.fd = -1;
    }
    for (auto& [id, c] : connections_) c->Drain();
  }
  return connections_.size() + proxy_readers_.size();
}

absl::Status Shard::StartListening() {
  if (draining_) return absl::FailedPreconditionError("kensad is stopping");
  failing_health_checks_ = false;
  if (stop_listening_timer_ != 0) {
    reactor_->CancelTimer(stop_listening_timer_);
    stop_listening_timer_ = 0;
  }
  if (listening_) return absl::OkStatus();
  for (size_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = listeners_[i];
    absl::StatusOr<SocketAddress> addr = ParseSocketAddress(l.config.address);
    if (!addr.ok()) return addr.status();
    absl::StatusOr<int> fd = OpenListenSocket(*addr, kListenBacklog);
    if (!fd.ok()) return fd.status();
    l.fd = *fd;
    l.accept_id = reactor_->Accept(l.fd, [this, i](int fd) { OnAccept(i, fd); });
  }
  listening_ = true;
  return absl::OkStatus();
}

void Shard::ConnectionFinished(uint64_t id) {
  reactor_->Defer([this, id] {
    connections_.erase(id);
    origins_.erase(id);
    PublishConnections();
    // Its socket is closed now: a paused listener can take the next client at once.
    if (accept_retry_timer_ != 0) ResumeAccepting();
    CheckDrained();
  });
}

std::vector<Shard::ConnectionView> Shard::DescribeConnections() const {
  std::vector<ConnectionView> out;
  const absl::Time now = absl::Now();
  for (const auto& [id, conn] : connections_) {
    ConnectionView v;
    v.id = id;
    v.state = conn->StateName();
    if (auto o = origins_.find(id); o != origins_.end()) {
      v.peer = o->second.peer;
      v.listener = o->second.listener;
      v.age = now - o->second.started;
    }
    out.push_back(std::move(v));
  }
  return out;
}

void Shard::PublishConnections() {
  runtime_->gauges.Set(index(), runtime_->connections_open_gauge,
                       static_cast<int64_t>(connections_.size()));
}

void Shard::BeginDrain(absl::Time deadline, absl::AnyInvocable<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  if (stop_listening_timer_ != 0) {
    reactor_->CancelTimer(stop_listening_timer_);
    stop_listening_timer_ = 0;
  }
  if (accept_retry_timer_ != 0) {
    reactor_->CancelTimer(accept_retry_timer_);
    accept_retry_timer_ = 0;
  }
  delivery_->Stop();
  for (Listener& l : listeners_) {
    reactor_->Cancel(l.accept_id);
    close(l.fd);
    l.fd = -1;
  }
  for (auto& [id, c] : connections_) c->Drain();
  // Connections still sending their PROXY header have no session to finish.
  for (auto& [id, r] : proxy_readers_) r->stream()->Close(/*flush=*/false);
  proxy_readers_.clear();
  drain_timer_ = reactor_->RunAfter(deadline - absl::Now(), [this] {
    drain_timer_ = 0;
    for (auto& [id, c] : connections_) c->ForceClose();
    // Connections that cannot even flush their 421 are cut when their linger ends.
    reactor_->RunAfter(absl::Seconds(2), [this] {
      connections_.clear();
      origins_.clear();
      PublishConnections();
      CheckDrained();
    });
  });
  reactor_->Defer([this] { CheckDrained(); });
}

void Shard::CheckDrained() {
  if (!draining_ || !connections_.empty() || !proxy_readers_.empty() || !drained_) return;
  if (drain_timer_ != 0) {
    reactor_->CancelTimer(drain_timer_);
    drain_timer_ = 0;
  }
  absl::AnyInvocable<void()> done = std::move(drained_);
  drained_ = nullptr;
  done();
}

}  // namespace kensa
