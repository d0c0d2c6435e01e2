// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/pop3_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "scan/rewrite.h"
#include "server/scan_decision.h"
#include "spool/queue_file.h"

namespace kensa {

Pop3Connection::Pop3Connection(std::shared_ptr<const ConnectionEnvironment> env, uint64_t id,
                               std::shared_ptr<SocketStream> client, const SocketAddress& peer,
                               const ListenerConfig& listener)
    : env_(std::move(env)),
      id_(id),
      client_(net::SecureStream::Create(std::move(client))),
      peer_(peer),
      peer_host_(peer.HostString()),
      listener_(listener) {}

Pop3Connection::~Pop3Connection() {
  if (timer_ != 0) env_->reactor->CancelTimer(timer_);
  if (scan_ != nullptr) scan_->Cancel();
  client_->Close(false);
  if (backend_ != nullptr) backend_->Close(false);
  env_->scan_bytes_in_flight->Forget(id_);
  if (!finished_) env_->limiter->Release(peer_);
}

void Pop3Connection::Start() {
  const Pop3ConnectionSettings& c = *env_->pop3;
  net::Pop3ProxyConfig pc;
  pc.hostname = c.hostname;
  pc.max_line_bytes = c.max_line_bytes;
  pc.max_message_bytes = c.max_message_bytes;
  pc.keep_message = false;  // the response is spooled by ScanData()
  pc.read_ahead_messages = c.scan_enabled ? c.read_ahead_messages : 0;
  pc.read_ahead_max_bytes = c.read_ahead_max_bytes;
  const bool have_tls = env_->server_tls != nullptr;
  pc.stls_available = have_tls && listener_.tls == ListenerTls::kStartTls;
  pc.implicit_tls = have_tls && listener_.tls == ListenerTls::kImplicit;
  pc.plaintext_auth = c.plaintext_auth;
  pc.backend_stls = c.backend_tls == "starttls";
  session_ = std::make_unique<net::Pop3ProxySession>(pc, this);
  KLOG(kInfo, "connect")
      .Kv("client", peer_host_)
      .Kv("listener", listener_.name)
      .Kv("reactor", env_->reactor->index());
  if (pc.implicit_tls) {
    absl::Status s = client_->StartTlsServer(*env_->server_tls);
    if (!s.ok()) {
      OnClientTlsFailed("tls_failed", s);
      return;
    }
  }
  client_->Start(&client_side_);
  Touch();
  ArmTimer();
  session_->Start();
}

void Pop3Connection::Drain() {
  draining_ = true;
  using Phase = net::Pop3ProxySession::Phase;
  const Phase p = session_->phase();
  // A session that only reads ahead is idle to its client (WantsClientInput).
  if (p == Phase::kAuthorization || (p == Phase::kTransaction && session_->WantsClientInput())) {
    session_->Shutdown();
  }
}

const char* Pop3Connection::StateName() const {
  using Phase = net::Pop3ProxySession::Phase;
  switch (session_->phase()) {
    case Phase::kAuthorization: return "authorization";
    case Phase::kLoggingIn: return "login";
    case Phase::kTransaction: return "transaction";
    case Phase::kRelay: return "relay";
    case Phase::kClosed: return "closed";
  }
  return "unknown";
}

void Pop3Connection::ForceClose() {
  if (session_->phase() == net::Pop3ProxySession::Phase::kRelay) {
    CloseConnection();  // a reply now could land inside a relayed message
  } else {
    session_->Shutdown();
  }
}

// --- the two sides -------------------------------------------------------------------------

void Pop3Connection::Side::OnBytesReceived(size_t) {
  if (!c_->closing_) c_->Touch();
}

void Pop3Connection::Side::OnData(std::string_view plaintext) {
  if (backend_) {
    c_->OnBackendBytes(plaintext);
  } else {
    c_->OnClientBytes(plaintext);
  }
}

void Pop3Connection::Side::OnTlsEstablished() {
  if (backend_) {
    c_->OnBackendTls();
  } else {
    c_->OnClientTls();
  }
}

void Pop3Connection::Side::OnTlsPeerClosed() {
  // The client's close_notify ends the session. The backend's is followed by its TCP close,
  // which OnBackendClosed handles (a backend may say it after the +OK to QUIT).
  if (!backend_ && !c_->closing_) c_->CloseConnection();
}

void Pop3Connection::Side::OnTlsFailed(absl::Status error) {
  if (backend_) {
    c_->OnBackendTlsFailed(error);
  } else {
    c_->OnClientTlsFailed("tls_failed", error);
  }
}

void Pop3Connection::Side::OnStreamClosed(int error) {
  if (backend_) {
    c_->OnBackendClosed(error);
  } else {
    c_->OnClientClosed(error);
  }
}

void Pop3Connection::Side::OnSendDrained() {
  if (!backend_) c_->ReadCleaned();
  c_->UpdateFlow();
}

void Pop3Connection::OnClientBytes(std::string_view bytes) {
  if (closing_) return;
  session_->FeedClient(bytes);
  UpdateFlow();
}

void Pop3Connection::OnBackendBytes(std::string_view bytes) {
  if (closing_) return;
  session_->FeedBackend(bytes);
  UpdateFlow();
}

void Pop3Connection::OnClientTls() {
  if (closing_ || !client_stls_pending_) return;
  client_stls_pending_ = false;
  KLOG(kInfo, "stls").Kv("client", peer_host_).Kv("tls", client_->DescribeTls());
  session_->OnClientTlsEstablished();
  UpdateFlow();
}

void Pop3Connection::OnBackendTls() {
  if (closing_) return;
  if (backend_implicit_tls_) {
    session_->OnBackendConnected();
  } else {
    session_->OnBackendTlsEstablished();
  }
  UpdateFlow();
}

void Pop3Connection::OnClientTlsFailed(const char* event, const absl::Status& error) {
  if (closing_) return;
  KLOG(kInfo, event).Kv("client", peer_host_).Kv("error", error);
  CloseConnection();
}

void Pop3Connection::OnBackendTlsFailed(const absl::Status& error) {
  if (closing_) return;
  KLOG(kWarning, "pop3_backend_tls_failed").Kv("client", peer_host_).Kv("error", error);
  CloseBackend();
  session_->OnBackendClosed();
}

void Pop3Connection::OnClientClosed(int error) {
  if (closing_) return;
  // A client gone without QUIT: the backend connection is closed without QUIT too, so the
  // backend deletes nothing (RFC 1939 section 6).
  KLOG(kInfo, "disconnect")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("messages", messages_)
      .Kv("error", error == 0 ? std::string("eof") : std::string(strerror(-error)));
  closing_ = true;
  if (scan_ != nullptr) {
    scan_->Cancel();
    scan_.reset();
  }
  cleaned_.reset();
  spool_.reset();
  client_->Close(false);
  CloseBackend();
  Finish();
}

void Pop3Connection::OnBackendClosed(int error) {
  if (closing_) return;
  KLOG(kInfo, "pop3_backend_closed")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("error", error == 0 ? std::string("eof") : std::string(strerror(-error)));
  CloseBackend();
  session_->OnBackendClosed();
  UpdateFlow();
}

// --- output --------------------------------------------------------------------------------

void Pop3Connection::SendToClient(std::string_view bytes) {
  absl::Status s = client_->Send(bytes);
  if (!s.ok()) OnClientTlsFailed("tls_write_failed", s);
}

void Pop3Connection::SendToBackend(std::string_view bytes) {
  if (backend_ == nullptr) return;
  absl::Status s = backend_->Send(bytes);
  if (s.ok()) return;
  // The session is in the middle of a call here: it hears of the lost backend from the loop.
  KLOG(kWarning, "pop3_backend_tls_failed").Kv("client", peer_host_).Kv("error", s);
  CloseBackend();
  env_->reactor->Defer([alive = liveness(), this] {
    if (alive.expired() || closing_) return;
    session_->OnBackendClosed();
    UpdateFlow();
  });
}

void Pop3Connection::StartClientTls() {
  // "+OK Begin TLS negotiation" is queued in plaintext; every byte from now on is TLS.
  absl::Status s = client_->StartTlsServer(*env_->server_tls);
  if (!s.ok()) {
    OnClientTlsFailed("tls_failed", s);
    return;
  }
  client_stls_pending_ = true;
}

// --- the backend connection ----------------------------------------------------------------

void Pop3Connection::ConnectBackend() {
  const Pop3ConnectionSettings& c = *env_->pop3;
  absl::StatusOr<SocketAddress> addr = ParseSocketAddress(c.backend);
  if (!addr.ok()) {
    session_->OnBackendFailed("bad backend address");
    return;
  }
  int fd = socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    session_->OnBackendFailed("socket");
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto target = std::make_shared<SocketAddress>(*addr);
  backend_host_ = addr->HostString();  // the TLS name, implicit or after STLS
  Liveness alive = liveness();
  Touch();
  env_->reactor->Connect(
      fd, target->get(), target->length, c.backend_timeout, [this, fd, alive, target](int res) {
        if (alive.expired() || closing_) {
          close(fd);
          return;
        }
        if (res < 0) {
          close(fd);
          const std::string why =
              res == -ECANCELED ? "connect timeout" : absl::StrCat("connect: ", strerror(-res));
          KLOG(kWarning, "pop3_backend_failed")
              .Kv("client", peer_host_)
              .Kv("backend", target->ToString())
              .Kv("error", why);
          session_->OnBackendFailed(why);
          UpdateFlow();
          return;
        }
        backend_ = net::SecureStream::Create(SocketStream::Create(env_->reactor, fd));
        backend_->Start(&backend_side_);
        if (env_->pop3->backend_tls == "implicit" && env_->client_tls != nullptr) {
          backend_implicit_tls_ = true;
          absl::Status s = backend_->StartTlsClient(*env_->client_tls, backend_host_);
          if (!s.ok()) {
            CloseBackend();
            session_->OnBackendFailed(std::string(s.message()));
            UpdateFlow();
          }
          return;
        }
        session_->OnBackendConnected();
        UpdateFlow();
      });
}

void Pop3Connection::StartBackendTls() {
  if (backend_ == nullptr || env_->client_tls == nullptr) {
    session_->OnBackendFailed("no TLS");
    return;
  }
  backend_implicit_tls_ = false;
  absl::Status s = backend_->StartTlsClient(*env_->client_tls, backend_host_);
  if (!s.ok()) session_->OnBackendFailed(std::string(s.message()));
}

void Pop3Connection::CloseBackend() {
  if (backend_ == nullptr) return;
  backend_->Close(false);
  backend_.reset();
}

// --- scanning ------------------------------------------------------------------------------

bool Pop3Connection::MailboxScanned(const std::string& user) {
  subscription_ = env_->policy->Lookup(user);
  const bool scanned = subscription_.inbound && env_->pop3->scan_enabled;
  env_->Count(env_->ids.pop3_logins);
  KLOG(kInfo, "pop3_login")
      .Kv("client", peer_host_)
      .Kv("listener", listener_.name)
      .Kv("user", user)
      .Kv("scanned", scanned ? "yes" : "no");
  return scanned;
}

void Pop3Connection::BeginScan(std::string_view command, std::string_view uid) {
  const scan::ScanSettings& settings = *env_->scan_settings;
  scan_command_ = std::string(command);
  scan_start_ = absl::Now();
  scan_.reset();
  cached_.reset();
  cache_key_.clear();
  oversized_ = false;
  spool_ = std::make_shared<scan::MessageSpool>(settings.part_memory_bytes, settings.temp_dir);
  scan_set_ = env_->signatures->Current();
  if (scan_set_ == nullptr) return;  // no signatures loaded (yet): EndScan passes it on
  if (!uid.empty()) {
    cache_key_ = Pop3VerdictCache::Key(session_->user(), uid, scan_set_->version(), command);
    if (const CachedRetrieval* hit = env_->pop3_cache->Find(cache_key_)) {
      cached_ = *hit;  // no scan: the copy is rebuilt from the bytes and the cached edits
      return;
    }
  }
  StartScan(scan_set_);
}

void Pop3Connection::StartScan(std::shared_ptr<const sigs::SignatureSet> set) {
  scan_ = ScanSession::Start(env_->reactor, env_->scan_worker, std::move(set), env_->verdict_cache,
                             *env_->scan_settings, env_->scan_bytes_in_flight);
}

void Pop3Connection::ScanData(std::string_view bytes) {
  if (spool_ != nullptr) spool_->Append(bytes);
  if (scan_ != nullptr) scan_->Feed(bytes);
}

bool Pop3Connection::PassOversized() {
  if (scan_ != nullptr) {
    scan_->Cancel();
    scan_.reset();
  }
  cached_.reset();
  cache_key_.clear();
  oversized_ = true;
  std::shared_ptr<scan::MessageSpool> spool = std::move(spool_);
  if (subscription_.unscannable != UnscannableAction::kPass) return false;
  // The bytes so far go out as they came; the session sends the rest. Read here on the
  // reactor: a configured pass of an oversized message is rare, and it was all in memory before.
  net::Pop3DotStuffer stuffer;
  std::string piece;
  for (uint64_t at = 0; spool != nullptr && at < spool->size(); at += piece.size()) {
    absl::Status s = spool->ReadAt(at, kCleanedChunkBytes, &piece);
    if (!s.ok()) {
      FailLocally(std::string(s.message()));
      return false;
    }
    std::string out;
    stuffer.Append(piece, &out);
    SendToClient(out);
  }
  ++messages_;
  KLOG(kInfo, "pop3_message")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("command", scan_command_)
      .Kv("verdict", "unscannable")
      .Kv("reason", "larger than pop3.max_message_bytes")
      .Kv("result", "passed");
  return true;
}

void Pop3Connection::EndScan() {
  if (closing_) return;
  if (oversized_) {
    // Unscannable, treated as infected: the notice, on the message's own header block, is
    // what the client gets (DESIGN section 3: if nothing safe is left, the notice is the
    // message).
    if (scan_set_ == nullptr) {
      CloseConnection();
      return;
    }
    const scan::ScanSettings& settings = *env_->scan_settings;
    spool_ = std::make_shared<scan::MessageSpool>(settings.part_memory_bytes, settings.temp_dir);
    spool_->Append(session_->message());
    StartScan(scan_set_);
    scan_->Feed(session_->message());
  } else if (!spool_->error().ok()) {
    // No copy to send (no temporary file, disk full): a local failure, as the scanner's own.
    if (scan_ != nullptr) {
      scan_->Cancel();
      scan_.reset();
    }
    FailLocally(std::string(spool_->error().message()));
    return;
  } else if (cached_ && cached_->size == spool_->size()) {
    CachedRetrieval c = std::move(*cached_);
    cached_.reset();
    Deliver(c.headers, c.edits, c.result, c.viruses, /*from_cache=*/true);
    return;
  } else if (cached_) {
    // Same UIDL, other bytes (a backend that reuses UIDLs): scanned after all.
    cached_.reset();
    cache_key_.clear();
    StartScan(scan_set_);
    scan_->FeedSpool(spool_);
  }
  if (scan_ == nullptr && session_->reading_ahead_unasked()) {
    ForgetReadAhead("no signatures loaded");  // the client's own RETR passes it on
    return;
  }
  if (scan_ == nullptr) {
    KLOG(kWarning, "pop3_message")
        .Kv("user", session_->user())
        .Kv("verdict", "unscanned")
        .Kv("reason", "no signatures loaded");
    StreamOut(
        std::make_unique<net::Pop3CleanWriter>(std::string(), std::vector<spool::ContentEdit>()),
        std::move(spool_));
    return;
  }
  Liveness alive = liveness();
  scan_->Finish([this, alive](scan::MessageVerdict v) {
    if (alive.expired() || closing_) return;
    OnVerdict(std::move(v));
  });
}

void Pop3Connection::OnVerdict(scan::MessageVerdict verdict) {
  std::shared_ptr<ScanSession> scan = std::move(scan_);
  if (verdict.kind == scan::MessageVerdict::Kind::kLocalFailure) {
    FailLocally(verdict.local_failure);
    return;
  }
  for (absl::Duration t : verdict.part_scan_times) env_->Observe(env_->histogram_ids.part_scan, t);
  if (verdict.on_reactor) env_->Count(env_->ids.scanned_on_reactor);
  scanned_on_ = verdict.on_reactor ? "reactor" : "worker";
  if (oversized_) {
    verdict.findings = {scan::PartFinding{
        verdict.root,
        scan::ScanResult{scan::ScanResult::Kind::kUnscannable, "Kensa.Limits.MessageSize"}}};
  }
  scan::NoticeContext ctx;
  ctx.queue_id = absl::StrCat("pop3-", env_->reactor->index(), "-", id_, "-", messages_ + 1);
  ctx.hostname = env_->pop3->hostname;
  ctx.signature_version = scan->signature_version();
  // Nothing can be refused or held back at retrieval: reject and quarantine clean the copy.
  RecipientScan rs;
  rs.scanned = true;
  rs.subscription = subscription_;
  rs.subscription.action = ScanAction::kRemove;
  ScanDecision d = DecideScan(verdict, {rs}, ctx);
  const spool::ContentVariant& v = d.outcome.variants[d.outcome.recipient_variant[0]];
  const std::string viruses = absl::StrJoin(VirusNames(verdict), ",");
  if (!cache_key_.empty() && !oversized_) {
    env_->pop3_cache->Put(cache_key_,
                          CachedRetrieval{spool_->size(), d.result, viruses, v.headers, v.edits});
  }
  Deliver(v.headers, v.edits, d.result, viruses, /*from_cache=*/false);
}

void Pop3Connection::Deliver(const std::string& headers,
                             const std::vector<spool::ContentEdit>& edits,
                             const std::string& result, const std::string& viruses,
                             bool from_cache) {
  auto writer = std::make_unique<net::Pop3CleanWriter>(headers, edits);
  absl::Status fits = writer->Check(spool_->size());
  Retrieval r{std::move(spool_),
              std::move(writer),
              std::move(fits),
              scan_command_,
              result,
              viruses,
              scan_set_ != nullptr ? scan_set_->version() : std::string(),
              from_cache ? "none" : scanned_on_,
              from_cache,
              absl::Now() - scan_start_};
  if (!session_->reading_ahead_unasked()) {
    Send(std::move(r), /*read_ahead=*/false);
    return;
  }
  if (!r.fits.ok()) {
    ForgetReadAhead(std::string(r.fits.message()));
    UpdateFlow();
    return;
  }
  // Kept for the client's RETR. The session may take it at once (the RETR waits for it):
  // it is in kept_ before the session hears.
  kept_.push_back(std::move(r));
  session_->OnReadAheadReady();
  UpdateFlow();
}

void Pop3Connection::Send(Retrieval r, bool read_ahead, std::string_view prefix) {
  ++messages_;
  auto line = KLOG(kInfo, "pop3_message");
  line.Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("command", r.command)
      .Kv("size", r.spool->size())
      .Kv("verdict", r.result)
      .Kv("viruses", r.viruses)
      .Kv("signatures", r.signatures)
      .Kv("cache", r.from_cache ? "hit" : "miss")
      .Kv("scanned_on", r.scanned_on)
      .Kv("scan_wait", absl::Trunc(r.scan_wait, absl::Microseconds(100)))
      .Kv("read_ahead", read_ahead ? "yes" : "no");
  if (!r.fits.ok()) {
    // Never send a message that could not be cleaned as decided: the client gets none.
    line.Kv("result", "failed").Kv("error", r.fits);
    CloseConnection();
    return;
  }
  line.Kv("result", "sent");
  env_->Count(env_->ids.pop3_scanned);
  StreamOut(std::move(r.writer), std::move(r.spool), prefix);
}

void Pop3Connection::SendReadAhead(std::string_view status) {
  if (kept_.empty()) {
    CloseConnection();  // the session's promise without a copy: never a message without its end
    return;
  }
  Retrieval r = std::move(kept_.front());
  kept_.pop_front();
  env_->Count(env_->ids.pop3_read_ahead);
  Send(std::move(r), /*read_ahead=*/true, status);
}

void Pop3Connection::DropReadAhead() { ForgetReadAhead("not asked for"); }

void Pop3Connection::ForgetReadAhead(std::string_view why) {
  size_t dropped = kept_.size();
  kept_.clear();
  if (session_->reading_ahead_unasked()) {
    // The read-ahead being fetched or scanned.
    ++dropped;
    if (scan_ != nullptr) {
      scan_->Cancel();
      scan_.reset();
    }
    spool_.reset();
    cached_.reset();
    cache_key_.clear();
  }
  env_->Count(env_->ids.pop3_read_ahead_dropped, dropped);
  KLOG(kInfo, "pop3_read_ahead_dropped")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("messages", dropped)
      .Kv("reason", why);
  session_->OnReadAheadDropped();  // a no-op unless its scan was the session's
}

void Pop3Connection::FailLocally(std::string_view error) {
  if (session_->reading_ahead_unasked()) {
    // The client asked for nothing yet: its own RETR tries again.
    ForgetReadAhead(error);
    UpdateFlow();
    return;
  }
  // No verdict or no copy (temporary space, memory): as for a backend failure mid-message,
  // the connection closes without the final "." and without QUIT, so the client has no
  // message to take for whole, nothing is deleted at the backend, and the next retrieval
  // retries.
  ++messages_;
  KLOG(kError, "pop3_message")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("command", scan_command_)
      .Kv("size", spool_ != nullptr ? spool_->size() : 0)
      .Kv("verdict", "local_failure")
      .Kv("error", error)
      .Kv("result", "failed");
  CloseConnection();
}

// --- the cleaned copy, streamed --------------------------------------------------------------

struct Pop3Connection::CleanedOutput {
  std::shared_ptr<const scan::MessageSpool> spool;
  std::unique_ptr<net::Pop3CleanWriter> writer;  // used by one thread at a time: the reader
  bool reading = false;                          // a piece is being read on the worker
};

void Pop3Connection::StreamOut(std::unique_ptr<net::Pop3CleanWriter> writer,
                               std::shared_ptr<scan::MessageSpool> spool,
                               std::string_view prefix) {
  if (spool->in_memory()) {
    // Small (under [scan] part_memory_bytes): one piece, at once.
    std::string out(prefix);
    writer->Feed(spool->memory(), &out);
    writer->Finish(&out);
    SendToClient(out);
    session_->OnMessageStreamed();
    UpdateFlow();
    return;
  }
  if (!prefix.empty()) SendToClient(prefix);
  cleaned_ = std::make_shared<CleanedOutput>();
  cleaned_->spool = std::move(spool);
  cleaned_->writer = std::move(writer);
  ReadCleaned();
}

void Pop3Connection::ReadCleaned() {
  if (closing_ || cleaned_ == nullptr || cleaned_->reading) return;
  cleaned_->reading = true;
  Liveness alive = liveness();
  Reactor* reactor = env_->reactor;
  // The read (the page may be on disk) and the stuffing run on the worker; the reactor only
  // queues the result. `this` is touched only back on the reactor, after `alive`.
  env_->worker->Submit([this, alive, reactor, out = cleaned_] {
    std::string piece;
    std::string bytes;
    const uint64_t at = out->writer->consumed();
    absl::Status s = out->spool->ReadAt(at, kCleanedChunkBytes, &piece);
    bool last = false;
    if (s.ok()) {
      out->writer->Feed(piece, &bytes);
      last = out->writer->consumed() >= out->spool->size();
      if (last) out->writer->Finish(&bytes);
    }
    reactor->Post([this, alive, out = std::move(out), s = std::move(s), bytes = std::move(bytes),
                   last]() mutable {
      if (alive.expired() || closing_ || cleaned_ != out) return;
      OnCleanedPiece(out, s, std::move(bytes), last);
    });
  });
}

void Pop3Connection::OnCleanedPiece(const std::shared_ptr<CleanedOutput>& out,
                                    const absl::Status& status, std::string bytes, bool last) {
  out->reading = false;
  if (!status.ok()) {
    // Part of the copy is out: the client must not take it for whole (no final ".").
    KLOG(kError, "pop3_send_failed")
        .Kv("client", peer_host_)
        .Kv("user", session_->user())
        .Kv("command", scan_command_)
        .Kv("error", status);
    CloseConnection();
    return;
  }
  SendToClient(bytes);
  Touch();
  if (last) {
    cleaned_.reset();
    session_->OnMessageStreamed();
    UpdateFlow();
    return;
  }
  // Otherwise the client's socket drains first (Side::OnSendDrained reads on).
  if (client_->queued_bytes() < kCleanedChunkBytes) ReadCleaned();
}

// --- flow, timers, the end -----------------------------------------------------------------

void Pop3Connection::UpdateFlow() {
  if (closing_) return;
  Touch();  // called after every event: the deadline follows what the session waits for
  const bool client_full = client_->queued_bytes() > kMaxQueuedBytes;
  const uint64_t shard_scan_bound = env_->pop3->max_scan_bytes_in_flight;
  const bool scan_full = scan_ != nullptr && scan_->bytes_in_flight() > kMaxQueuedBytes * 4;
  // The reactor's scan bytes are every session's: this one may wait on others' work.
  const bool shard_scan_full =
      scan_ != nullptr && env_->scan_bytes_in_flight->value() > shard_scan_bound;
  if (backend_ != nullptr) {
    if (client_full || scan_full || shard_scan_full) {
      backend_->PauseReceive();
      // The scanner wakes the connection when it has drained (no polling).
      if (scan_full) scan_->WakeWhenAtMost(kMaxQueuedBytes * 4, ResumeFlowTask());
      if (shard_scan_full) {
        env_->scan_bytes_in_flight->WakeWhenAtMost(id_, shard_scan_bound, ResumeFlowTask());
      }
    } else {
      backend_->ResumeReceive();
    }
  }
  const bool backend_full = backend_ != nullptr && backend_->queued_bytes() > kMaxQueuedBytes;
  if (!session_->WantsClientInput() || backend_full || client_full) {
    client_->PauseReceive();
  } else {
    client_->ResumeReceive();
  }
}

Task Pop3Connection::ResumeFlowTask() {
  return [alive = liveness(), this] {
    if (!alive.expired()) UpdateFlow();
  };
}

bool Pop3Connection::WaitingOnBackend() const {
  using Phase = net::Pop3ProxySession::Phase;
  const Phase p = session_->phase();
  return p == Phase::kLoggingIn || (p == Phase::kTransaction && !session_->WantsClientInput() &&
                                    scan_ == nullptr && cleaned_ == nullptr);
}

void Pop3Connection::Touch() {
  deadline_ = absl::Now() +
              (WaitingOnBackend() ? env_->pop3->backend_timeout : env_->pop3->command_timeout);
  // The timer is re-armed lazily when the deadline moves later; a deadline that moved
  // earlier (a command now waits on the backend) needs it now.
  if (timer_ != 0 && deadline_ < timer_at_) {
    env_->reactor->CancelTimer(timer_);
    ArmTimer();
  }
}

void Pop3Connection::ArmTimer() {
  timer_at_ = deadline_;
  timer_ = env_->reactor->RunAfter(deadline_ - absl::Now(), [this] {
    timer_ = 0;
    OnTimer();
  });
}

void Pop3Connection::OnTimer() {
  if (closing_) return;
  if (cleaned_ != nullptr && absl::Now() >= deadline_) {
    // A client that stopped reading its message: closed without the final ".".
    KLOG(kInfo, "timeout")
        .Kv("client", peer_host_)
        .Kv("user", session_->user())
        .Kv("waiting_on", "client");
    CloseConnection();
    return;
  }
  if (absl::Now() < deadline_ || scan_ != nullptr) {
    if (scan_ != nullptr) Touch();  // libclamav's own time limit bounds a scan
    ArmTimer();
    return;
  }
  KLOG(kInfo, "timeout")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("waiting_on", WaitingOnBackend() ? "backend" : "client");
  if (WaitingOnBackend()) {
    session_->OnBackendTimeout();
  } else {
    session_->OnClientTimeout();
  }
  if (!closing_) {
    Touch();
    ArmTimer();
  }
}

void Pop3Connection::CloseConnection() {
  if (closing_) return;
  closing_ = true;
  KLOG(kInfo, "disconnect")
      .Kv("client", peer_host_)
      .Kv("user", session_->user())
      .Kv("messages", messages_)
      .Kv("by", "server");
  if (scan_ != nullptr) {
    scan_->Cancel();
    scan_.reset();
  }
  cleaned_.reset();
  spool_.reset();
  kept_.clear();
  client_->Close(true);  // close_notify first when TLS is up
  CloseBackend();
  Finish();
}

void Pop3Connection::Finish() {
  if (finished_) return;
  finished_ = true;
  if (timer_ != 0) {
    env_->reactor->CancelTimer(timer_);
    timer_ = 0;
  }
  env_->scan_bytes_in_flight->Forget(id_);
  env_->limiter->Release(peer_);
  env_->connection_finished(id_);
}

}  // namespace kensa
