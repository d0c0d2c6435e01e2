// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/smtp_connection.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "net/smtp_address.h"
#include "server/quarantine.h"
#include "spool/queue_id.h"
#include "subscribers/subscriber_entry.h"

namespace kensa {
namespace {

// Client-chosen text (HELO) goes into a header: keep it to printable ASCII without spaces.
std::string HeaderSafe(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 255)) {
    out += (c > 0x20 && c < 0x7f && c != '(' && c != ')') ? c : '?';
  }
  return out.empty() ? "unknown" : out;
}

// "user%other@local", "other!user@local", "\"user@other\"@local": local parts that a mailbox
// MTA behind kensa may route onwards (percent hack, UUCP bang paths, quoted addresses). For an
// unauthenticated client they are relay attempts, whatever the domain says.
bool HasRoutingLocalPart(std::string_view address) {
  const size_t at = address.rfind('@');
  std::string_view local = address.substr(0, at == std::string_view::npos ? 0 : at);
  return local.find_first_of("%!@") != std::string_view::npos;
}

}  // namespace

SmtpConnection::SmtpConnection(std::shared_ptr<const ConnectionEnvironment> env, uint64_t id,
                               std::shared_ptr<SocketStream> stream, const SocketAddress& peer,
                               const ListenerConfig& listener)
    : env_(std::move(env)),
      id_(id),
      stream_(net::SecureStream::Create(std::move(stream))),
      peer_(peer),
      peer_host_(peer.HostString()),
      listener_(listener) {}

SmtpConnection::~SmtpConnection() {
  if (timer_ != 0) env_->reactor->CancelTimer(timer_);
  if (auth_timer_ != 0) env_->reactor->CancelTimer(auth_timer_);
  stream_->Close(false);
  env_->scan_bytes_in_flight->Forget(id_);
  CancelScan();
  if (spool_ != nullptr) spool_->Abort();
  if (!finished_) env_->limiter->Release(peer_);
}

void SmtpConnection::Start() {
  const SmtpConnectionSettings& c = *env_->smtp;
  net::SmtpServerConfig sc;
  sc.hostname = c.hostname;
  sc.limits = c.limits;
  sc.reject_bare_line_endings = c.reject_bare_line_endings;
  const bool have_tls = env_->server_tls != nullptr;
  sc.starttls_available = have_tls && listener_.tls == ListenerTls::kStartTls;
  sc.implicit_tls = have_tls && listener_.tls == ListenerTls::kImplicit;
  sc.auth_available = env_->auth != nullptr && listener_.auth != ListenerAuth::kOff;
  sc.auth_required = listener_.auth == ListenerAuth::kRequired;
  session_ = std::make_unique<net::SmtpServerSession>(sc, this, peer_host_);
  KLOG(kInfo, "connect")
      .Kv("client", peer_host_)
      .Kv("listener", listener_.name)
      .Kv("reactor", env_->reactor->index());
  if (sc.implicit_tls) {
    // The session knows it starts inside TLS: no handshake news for it.
    absl::Status s = stream_->StartTlsServer(*env_->server_tls);
    if (!s.ok()) {
      FailTls("tls_failed", s);
      return;
    }
  }
  stream_->Start(this);
  TouchDeadline();
  ArmTimer();
  session_->Start();
}

bool SmtpConnection::idle() const {
  return spool_ == nullptr && session_->phase() == net::SmtpServerSession::Phase::kCommand &&
         session_->envelope().recipients.empty();
}

// A drain (SIGTERM, maintenance behind a balancer) closes the listeners first, so the
// balancer's health check fails and new sessions go elsewhere; a session already here ends
// (421) at its first idle moment after a transaction. One that has not had its transaction
// yet keeps going until the drain deadline: its client connected before the listeners
// closed and is about to send its mail, which must not fail because of the drain.
bool SmtpConnection::CanEndForDrain() const { return idle() && messages_ > 0; }

void SmtpConnection::Drain() {
  draining_ = true;
  if (CanEndForDrain()) session_->Shutdown();
}

void SmtpConnection::ForceClose() { session_->Shutdown(); }

const char* SmtpConnection::StateName() const {
  using Phase = net::SmtpServerSession::Phase;
  switch (session_->phase()) {
    case Phase::kGreeting: return "greeting";
    case Phase::kCommand: return "command";
    case Phase::kData: return "data";
    case Phase::kBdat: return "bdat";
    case Phase::kAwaitingCommit: return "commit";
    case Phase::kAwaitingAuth: return "auth";
    case Phase::kClosed: return "closed";
  }
  return "unknown";
}

// --- input ---------------------------------------------------------------------------------

void SmtpConnection::OnBytesReceived(size_t n) {
  if (closing_) return;
  TouchDeadline();
  env_->Count(env_->ids.bytes_received, n);
}

void SmtpConnection::OnData(std::string_view plaintext) {
  if (closing_) return;
  session_->Feed(plaintext);
  UpdateInputFlow();
}

void SmtpConnection::OnTlsEstablished() {
  if (closing_ || !starttls_pending_) return;
  starttls_pending_ = false;
  KLOG(kInfo, "starttls").Kv("client", peer_host_).Kv("tls", stream_->DescribeTls());
  session_->OnTlsEstablished();
}

void SmtpConnection::OnTlsPeerClosed() {
  if (!closing_) CloseConnection();
}

void SmtpConnection::OnTlsFailed(absl::Status error) { FailTls("tls_failed", error); }

void SmtpConnection::FailTls(const char* event, const absl::Status& error) {
  if (closing_) return;
  KLOG(kInfo, event).Kv("client", peer_host_).Kv("error", error);
  closing_ = true;
  stream_->Close(true);  // the alert, if TLS queued one
  Finish();
}

void SmtpConnection::UpdateInputFlow() {
  if (closing_) return;
  const uint64_t shard_scan_bound = env_->smtp->max_scan_bytes_in_flight;
  const bool spool_full = spool_ != nullptr && spool_->bytes_in_flight() > kMaxSpoolBytesInFlight;
  const bool scan_full = scan_ != nullptr && scan_->bytes_in_flight() > kMaxScanBytesInFlight;
  // The reactor's scan bytes are every session's: this connection may wait on others' work.
  const bool shard_scan_full =
      scan_ != nullptr && env_->scan_bytes_in_flight->value() > shard_scan_bound;
  const bool pause = !session_->WantsMoreInput() ||
                     stream_->queued_bytes() > kMaxUnsentReplyBytes || spool_full || scan_full ||
                     shard_scan_full;
  if (!pause) {
    stream_->ResumeReceive();
    return;
  }
  stream_->PauseReceive();
  // Each stage that is full wakes the connection when it has drained to its bound; the other
  // reasons to pause end with an event of their own (a reply drained, a commit done).
  if (spool_full) spool_->WakeWhenAtMost(kMaxSpoolBytesInFlight, ResumeInputTask());
  if (scan_full) scan_->WakeWhenAtMost(kMaxScanBytesInFlight, ResumeInputTask());
  if (shard_scan_full) {
    env_->scan_bytes_in_flight->WakeWhenAtMost(id_, shard_scan_bound, ResumeInputTask());
  }
}

Task SmtpConnection::ResumeInputTask() {
  return [alive = liveness(), this] {
    if (!alive.expired()) UpdateInputFlow();
  };
}

void SmtpConnection::OnSendDrained() { UpdateInputFlow(); }

void SmtpConnection::OnStreamClosed(int error) {
  // The client went away. An uncommitted message is dropped (it never got its 250), also one
  // still being scanned; a commit already under way completes and is delivered, since the
  // message is then safe on disk.
  if (spool_ != nullptr &&
      (session_->phase() != net::SmtpServerSession::Phase::kAwaitingCommit || scan_ != nullptr)) {
    CancelScan();
    spool_->Abort();
    spool_.reset();
  }
  KLOG(kInfo, "disconnect")
      .Kv("client", peer_host_)
      .Kv("messages", messages_)
      .Kv("error", error == 0 ? std::string("eof") : std::string(strerror(-error)));
  closing_ = true;
  stream_->Close(false);
  Finish();
}

// --- output --------------------------------------------------------------------------------

void SmtpConnection::SendToClient(std::string_view bytes) {
  absl::Status s = stream_->Send(bytes);
  if (!s.ok()) FailTls("tls_write_failed", s);
}

void SmtpConnection::StartTls() {
  // The "220 Ready to start TLS" reply is already queued in plaintext; every byte from now
  // on is TLS. Input that was pipelined behind STARTTLS has been discarded by the session.
  absl::Status s = stream_->StartTlsServer(*env_->server_tls);
  if (!s.ok()) {
    FailTls("tls_failed", s);
    return;
  }
  starttls_pending_ = true;
}

void SmtpConnection::CloseConnection() {
  if (closing_) return;
  closing_ = true;
  KLOG(kInfo, "disconnect").Kv("client", peer_host_).Kv("messages", messages_).Kv("by", "server");
  stream_->Close(true);  // close_notify first when TLS is up
  Finish();
}

void SmtpConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  if (timer_ != 0) {
    env_->reactor->CancelTimer(timer_);
    timer_ = 0;
  }
  if (auth_timer_ != 0) {
    env_->reactor->CancelTimer(auth_timer_);
    auth_timer_ = 0;
  }
  env_->scan_bytes_in_flight->Forget(id_);
  env_->limiter->Release(peer_);
  env_->connection_finished(id_);
}

// --- timers --------------------------------------------------------------------------------

void SmtpConnection::TouchDeadline() {
  using Phase = net::SmtpServerSession::Phase;
  const Phase p = session_ ? session_->phase() : Phase::kCommand;
  const bool in_data = p == Phase::kData || p == Phase::kBdat;
  deadline_ = absl::Now() + (in_data ? env_->smtp->data_timeout : env_->smtp->command_timeout);
}

void SmtpConnection::ArmTimer() {
  // One timer per connection, re-armed lazily: activity only moves deadline_.
  timer_ = env_->reactor->RunAfter(deadline_ - absl::Now(), [alive = liveness(), this] {
    if (alive.expired()) return;
    timer_ = 0;
    OnTimer();
  });
}

void SmtpConnection::OnTimer() {
  if (closing_) return;
  if (absl::Now() < deadline_ ||
      session_->phase() == net::SmtpServerSession::Phase::kAwaitingCommit) {
    if (session_->phase() == net::SmtpServerSession::Phase::kAwaitingCommit) TouchDeadline();
    ArmTimer();
    return;
  }
  KLOG(kInfo, "timeout").Kv("client", peer_host_).Kv("phase", static_cast<int>(session_->phase()));
  session_->OnTimeout();
}

// --- AUTH ----------------------------------------------------------------------------------

void SmtpConnection::Authenticate(const net::SmtpAuthRequest& request) {
  std::string user = request.user;
  std::string mechanism = request.mechanism;
  // The check is counted from here, before the backend is asked: parallel sessions see each
  // other's checks in flight and cannot all slip under max_failures.
  auth::AuthFailureLimiter::Attempt attempt = env_->auth_limiter->Begin(peer_host_, user);
  if (!attempt.admitted()) {
    // Too many recent checks from this address, or for this user from this address: the
    // backend is not asked, so guessing gains nothing, and the answer is as slow as a failure.
    auth::AuthOutcome outcome;
    outcome.kind = auth::AuthOutcome::Kind::kTempFail;
    outcome.reason = attempt.refusal() == auth::AuthFailureLimiter::Refusal::kUser
                         ? "too many recent failures for this user from this address"
                         : "too many recent failures from this address";
    OnAuthOutcome(mechanism, user, std::move(outcome));
    return;
  }
  auth::AuthRequest r;
  r.authzid = request.authzid;
  r.user = request.user;
  r.password = request.password;
  r.client_address = peer_host_;
  // The backend wants an IP (Dovecot's lip=); a wildcard listener has none worth sending.
  if (absl::StatusOr<SocketAddress> local = ParseSocketAddress(listener_.address); local.ok()) {
    const std::string host = local->HostString();
    if (host != "0.0.0.0" && host != "::") r.local_address = host;
  }
  r.secured = session_->envelope().tls;
  Liveness alive = liveness();
  Reactor* reactor = env_->reactor;
  // Backends block (crypt hashing, the Dovecot socket): off the reactor.
  // `env` keeps the backend of this session's settings generation alive, even past a reload.
  env_->auth_worker->Submit([reactor, env = env_, r = std::move(r), alive,
                             attempt = std::move(attempt), mechanism, user, this]() mutable {
    auth::AuthOutcome outcome = env->auth->Verify(r);
    // Recorded here, not on the reactor: the check happened even if the client has gone.
    attempt.Finish(outcome.kind);
    reactor->Post([alive, mechanism, user, outcome = std::move(outcome), this]() mutable {
      if (alive.expired()) return;  // the connection is gone
      OnAuthOutcome(mechanism, user, std::move(outcome));
    });
  });
}

void SmtpConnection::OnAuthOutcome(const std::string& mechanism, const std::string& user,
                                   auth::AuthOutcome outcome) {
  if (closing_) return;
  if (outcome.kind == auth::AuthOutcome::Kind::kOk) {
    env_->Count(env_->ids.auth_ok);
    KLOG(kInfo, "auth")
        .Kv("client", peer_host_)
        .Kv("listener", listener_.name)
        .Kv("mechanism", mechanism)
        .Kv("user", outcome.user)
        .Kv("result", "ok");
    auth_addresses_ = std::move(outcome.addresses);
    if (absl::StrContains(outcome.user, "@")) {
      auth_addresses_.push_back(absl::AsciiStrToLower(outcome.user));
    }
    session_->CompleteAuth(net::SmtpAuthResult::kOk, outcome.user);
    UpdateInputFlow();
    return;
  }
  const bool temp = outcome.kind == auth::AuthOutcome::Kind::kTempFail;
  // The delay grows with this address's recent checks (the limiter has counted this one); it
  // is what makes guessing slow, so a temporary failure costs the same. Other addresses'
  // guesses at this user do not slow its owner.
  const absl::Duration delay = env_->auth_limiter->FailureDelay(peer_host_);
  env_->Count(temp ? env_->ids.auth_tempfail : env_->ids.auth_failed);
  KLOG(kWarning, "auth_failed")
      .Kv("client", peer_host_)
      .Kv("listener", listener_.name)
      .Kv("mechanism", mechanism)
      .Kv("user", user)
      .Kv("result", temp ? "tempfail" : "failed")
      .Kv("reason", outcome.reason)
      .Kv("delay", delay);
  const net::SmtpAuthResult result =
      temp ? net::SmtpAuthResult::kTempFail : net::SmtpAuthResult::kFailed;
  auth_timer_ = env_->reactor->RunAfter(delay, [alive = liveness(), result, this] {
    if (alive.expired()) return;
    auth_timer_ = 0;
    if (closing_) return;
    session_->CompleteAuth(result, "");
    UpdateInputFlow();
  });
}

std::optional<net::SmtpReply> SmtpConnection::CheckSender(const net::SmtpEnvelope& env) {
  const SenderRule rule = env_->smtp->sender_rule;
  if (rule == SenderRule::kAny || env.sender.empty()) return std::nullopt;
  const std::string sender = absl::AsciiStrToLower(env.sender);
  // "user+tag@domain" is the user's too (plus addressing reaches the same mailbox).
  std::string base = sender;
  subscribers::StripPlusTag(sender, '+', &base);
  for (const std::string& own : auth_addresses_) {
    if (rule == SenderRule::kOwn && (own == sender || own == base)) return std::nullopt;
    if (rule == SenderRule::kDomain && !net::DomainOf(own).empty() &&
        net::DomainOf(own) == net::DomainOf(sender)) {
      return std::nullopt;
    }
  }
  KLOG(kInfo, "reject")
      .Kv("client", peer_host_)
      .Kv("user", env.auth_user)
      .Kv("from", absl::StrCat("<", env.sender, ">"))
      .Kv("reason", "sender not owned by user");
  return net::SmtpReply{553, "5.7.1",
                        absl::StrCat("<", env.sender, ">: Sender address rejected: not owned by ",
                                     "user ", env.auth_user)};
}

// --- the transaction -----------------------------------------------------------------------

std::optional<net::SmtpReply> SmtpConnection::CheckRecipient(const net::SmtpEnvelope& env,
                                                             const net::SmtpRecipient& rcpt) {
  // An authenticated subscriber may relay anywhere; everyone else only reaches local domains.
  if (!env.auth_user.empty()) return std::nullopt;
  std::string_view domain = net::DomainOf(rcpt.address);
  if (domain.empty() && absl::AsciiStrToLower(rcpt.address) == "postmaster") return std::nullopt;
  if (IsLocalDomain(env_->smtp->local_domains, domain) && !HasRoutingLocalPart(rcpt.address)) {
    return std::nullopt;
  }
  KLOG(kInfo, "reject")
      .Kv("client", peer_host_)
      .Kv("from", absl::StrCat("<", env.sender, ">"))
      .Kv("to", absl::StrCat("<", rcpt.address, ">"))
      .Kv("reason", "relay denied");
  return net::SmtpReply{550, "5.7.1", absl::StrCat("<", rcpt.address, ">: Relay access denied")};
}

std::string SmtpConnection::TraceHeader(const std::string& queue_id,
                                        const net::SmtpEnvelope& env) const {
  std::string proto = env.esmtp ? "ESMTP" : "SMTP";
  if (env.tls) proto += "S";
  if (!env.auth_user.empty()) proto += "A";  // RFC 3848
  std::string tls_note;
  if (env.tls && stream_->tls()) {
    tls_note = absl::StrCat("\r\n\t(using ", stream_->DescribeTls(), ")");
  }
  std::string for_clause;
  if (env.recipients.size() == 1) {
    for_clause = absl::StrCat("\r\n\tfor <", env.recipients[0].address, ">");
  }
  return absl::StrCat(
      "Received: from ", HeaderSafe(env.helo), " (", peer_host_, " [", peer_host_, "])", tls_note,
      "\r\n\tby ", env_->smtp->hostname, " (kensa) with ", proto, " id ", queue_id, for_clause,
      "; ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::Now(), absl::UTCTimeZone()),
      "\r\n");
}

absl::Status SmtpConnection::BeginMessage(const net::SmtpEnvelope& env) {
  absl::StatusOr<uint64_t> free_bytes = spool::FreeBytes(env_->spool->dir());
  if (free_bytes.ok() && *free_bytes < env_->smtp->spool_min_free_bytes) {
    KLOG(kWarning, "spool_full")
        .Kv("client", peer_host_)
        .Kv("free_bytes", *free_bytes)
        .Kv("min_free_bytes", env_->smtp->spool_min_free_bytes);
    return absl::ResourceExhaustedError("Insufficient system storage");
  }
  spool::QueueEnvelope q;
  q.queue_id = spool::NewQueueId(env_->reactor->index());
  q.arrival_unix_micros = absl::ToUnixMicros(absl::Now());
  q.sender = env.sender;
  q.ret = env.ret;
  q.envid = env.envid;
  q.body = env.body;
  q.smtputf8 = env.smtputf8;
  for (const net::SmtpRecipient& r : env.recipients) {
    q.recipients.push_back({r.address, r.notify, r.orcpt});
  }
  q.client_address = peer_host_;
  q.helo = env.helo;
  q.protocol = env.esmtp ? (env.tls ? "ESMTPS" : "ESMTP") : "SMTP";
  if (!env.auth_user.empty()) q.protocol += "A";
  q.auth_user = env.auth_user;
  q.trace_header = TraceHeader(q.queue_id, env);
  absl::StatusOr<std::shared_ptr<spool::SpoolWriter>> w =
      spool::SpoolWriter::Create(env_->reactor, env_->syncer, *env_->spool, q);
  if (!w.ok()) {
    KLOG(kError, "spool_create_failed").Kv("client", peer_host_).Kv("error", w.status());
    return w.status();
  }
  spool_ = std::move(*w);
  queue_id_ = q.queue_id;
  StartScan(env);
  return absl::OkStatus();
}

void SmtpConnection::StartScan(const net::SmtpEnvelope& env) {
  scan_.reset();
  rcpt_scans_.clear();
  if (!env_->smtp->scan_enabled) return;
  // Outbound: the sender subscribed, so every copy it sends is scanned. Inbound: each
  // recipient's own subscription, nobody else's (a family member is not covered).
  // Submission: the sender rule made the envelope sender the user's own, so its outbound
  // subscription is the user's (<> falls back to the login name).
  const std::string& from = env.sender.empty() ? env.auth_user : env.sender;
  const Subscription sender = from.empty() ? Subscription{} : env_->policy->Lookup(from);
  bool any = false;
  for (const net::SmtpRecipient& r : env.recipients) {
    RecipientScan rs;
    const Subscription own = env_->policy->Lookup(r.address);
    rs.scanned = own.inbound || sender.outbound;
    rs.subscription = own.inbound ? own : sender;
    any |= rs.scanned;
    rcpt_scans_.push_back(rs);
  }
  if (!any) return;
  std::shared_ptr<const sigs::SignatureSet> set = env_->signatures->Current();
  if (set == nullptr) return;
  scan_ = ScanSession::Start(env_->reactor, env_->scan_worker, std::move(set), env_->verdict_cache,
                             *env_->scan_settings, env_->scan_bytes_in_flight);
}

void SmtpConnection::CancelScan() {
  if (scan_ == nullptr) return;
  scan_->Cancel();
  scan_.reset();
}

void SmtpConnection::MessageData(std::string_view bytes) {
  if (spool_ == nullptr) return;
  spool_->Append(bytes);
  if (scan_ != nullptr) scan_->Feed(bytes);
}

void SmtpConnection::AbortMessage() {
  CancelScan();
  if (spool_ != nullptr) {
    KLOG(kInfo, "message_aborted").Kv("id", queue_id_).Kv("client", peer_host_);
    spool_->Abort();
    spool_.reset();
  }
  queue_id_.clear();
}

void SmtpConnection::EndMessage() {
  if (spool_ == nullptr) {
    session_->CompleteMessage(absl::InternalError("no message open"));
    return;
  }
  data_end_ = absl::Now();
  if (scan_ == nullptr) {
    CommitMessage(ScanReport{});
    return;
  }
  // The reply waits for the verdict; most of the scan ran while the data arrived.
  scan_->Finish([alive = liveness(), this](scan::MessageVerdict v) {
    if (!alive.expired()) OnVerdict(std::move(v));
  });
}

void SmtpConnection::OnVerdict(scan::MessageVerdict verdict) {
  std::shared_ptr<ScanSession> scan = std::move(scan_);
  if (spool_ == nullptr || closing_) return;
  if (verdict.kind == scan::MessageVerdict::Kind::kLocalFailure) {
    // The scan could not finish here (temporary space full or gone, memory): a temporary
    // failure of ours, not the message's. No 250 was given and nothing is queued, so the
    // sender keeps the message and tries again; passing or cleaning it would lose content.
    KLOG(kError, "scan_failed")
        .Kv("id", queue_id_)
        .Kv("client", peer_host_)
        .Kv("size", spool_->content_bytes())
        .Kv("error", verdict.local_failure)
        .Kv("result", "deferred");
    env_->Count(env_->ids.messages_rejected);
    spool_->Abort();
    spool_.reset();
    queue_id_.clear();
    ++messages_;
    ObserveFinalReply();
    session_->CompleteMessage(absl::UnavailableError("scan failed locally"));
    if (draining_ && CanEndForDrain()) session_->Shutdown();
    UpdateInputFlow();
    return;
  }
  scan::NoticeContext ctx;
  ctx.queue_id = queue_id_;
  ctx.hostname = env_->smtp->hostname;
  ctx.signature_version = scan->signature_version();
  ScanDecision d = DecideScan(verdict, rcpt_scans_, ctx);
  ScanReport report;
  report.scanned = true;
  report.result = d.result;
  report.names = VirusNames(verdict);
  report.wait = absl::Now() - data_end_;
  report.quarantine = d.quarantine;
  report.verdict = std::move(verdict);
  if (d.refuse) {
    const spool::QueueEnvelope& env = spool_->envelope();
    KLOG(kInfo, "message")
        .Kv("id", env.queue_id)
        .Kv("client", peer_host_)
        .Kv("from", absl::StrCat("<", env.sender, ">"))
        .Kv("nrcpt", env.recipients.size())
        .Kv("size", spool_->content_bytes())
        .Kv("verdict", report.result)
        .Kv("viruses", absl::StrJoin(report.names, ","))
        .Kv("signatures", ctx.signature_version)
        .Kv("action", "reject")
        .Kv("result", "refused")
        .Kv("reply", absl::StrCat(d.reply.code, " ", d.reply.enhanced, " ", d.reply.text));
    CountScan(*env_, report);
    env_->Count(env_->ids.messages_virus_rejected);
    spool_->Abort();
    spool_.reset();
    queue_id_.clear();
    ++messages_;
    ObserveFinalReply();
    session_->RefuseMessage(d.reply);
    if (draining_ && CanEndForDrain()) session_->Shutdown();
    UpdateInputFlow();
    return;
  }
  // A queue file whose edits the parser would refuse could never be delivered: check before
  // the 250. A copy that fails gets the whole body replaced instead (always a valid edit).
  for (spool::ContentVariant& v : d.outcome.variants) {
    absl::Status s = spool::CheckEdits(v.edits, spool_->content_bytes());
    if (s.ok()) continue;
    KLOG(kError, "scan_edits_invalid").Kv("id", queue_id_).Kv("error", s);
    scan::ScanResult whole{scan::ScanResult::Kind::kInfected, absl::StrJoin(report.names, ", ")};
    v.edits = scan::CleaningEdits({scan::PartFinding{report.verdict.root, whole}}, ctx);
    if (!spool::CheckEdits(v.edits, spool_->content_bytes()).ok()) {
      // No 250 was given: the client keeps the message and tries again.
      spool_->Abort();
      spool_.reset();
      queue_id_.clear();
      ObserveFinalReply();
      session_->CompleteMessage(absl::InternalError("scan edits"));
      UpdateInputFlow();
      return;
    }
  }
  spool_->SetScanOutcome(d.outcome);
  CommitMessage(std::move(report));
}

void SmtpConnection::CountScan(const ConnectionEnvironment& env, const ScanReport& report) {
  const ServerCounters& ids = env.ids;
  if (!report.scanned) {
    env.Count(ids.messages_unscanned);
    return;
  }
  env.Count(report.result == "clean"      ? ids.messages_clean
            : report.result == "infected" ? ids.messages_infected
                                          : ids.messages_unscannable);
  env.Count(ids.parts_scanned, report.verdict.parts);
  env.Count(ids.engine_scans, report.verdict.engine_scans);
  env.Count(ids.fast_path, report.verdict.fast_path);
  env.Count(ids.verdict_cache_hits, report.verdict.cache_hits);
  if (report.verdict.second_opinion_only) env.Count(ids.second_opinion_only);
  if (report.verdict.second_reading == scan::MessageVerdict::SecondReading::kPredicted) {
    env.Count(ids.second_reading_predicted);
  }
  if (report.verdict.on_reactor) env.Count(ids.scanned_on_reactor);
  for (absl::Duration d : report.verdict.part_scan_times) {
    env.Observe(env.histogram_ids.part_scan, d);
  }
}

void SmtpConnection::CommitMessage(ScanReport report) {
  std::shared_ptr<spool::SpoolWriter> writer = std::move(spool_);
  std::shared_ptr<const ConnectionEnvironment> environment = env_;
  std::string client = peer_host_;
  // The 250 waits for this callback; see SpoolWriter::Commit for what is on disk by then.
  // The client may be gone by then (the shard destroys the connection while the commit is
  // on disk): everything up to the reply uses only what the callback holds.
  writer->Commit([environment, writer, alive = liveness(), client, this,
                  report = std::move(report)](absl::Status s) mutable {
    const spool::QueueEnvelope& env = writer->envelope();
    auto line = KLOG(kInfo, "message");
    line.Kv("id", env.queue_id)
        .Kv("client", client)
        .Kv("helo", env.helo)
        .Kv("from", absl::StrCat("<", env.sender, ">"))
        .Kv("nrcpt", env.recipients.size())
        .Kv("size", writer->content_bytes())
        .Kv("proto", env.protocol)
        .Kv("verdict", report.result);
    if (report.scanned) {
      line.Kv("viruses", absl::StrJoin(report.names, ","))
          .Kv("parts", report.verdict.parts)
          .Kv("scans", report.verdict.engine_scans)
          .Kv("cache_hits", report.verdict.cache_hits)
          .Kv("fast_path", report.verdict.fast_path)
          .Kv("second_opinion_only", report.verdict.second_opinion_only ? 1 : 0)
          .Kv("second_reading", scan::SecondReadingName(report.verdict.second_reading))
          .Kv("scanned_on", report.verdict.on_reactor ? "reactor" : "worker")
          .Kv("scan_wait", absl::Trunc(report.wait, absl::Microseconds(100)));
      if (report.result != "clean") {
        line.Kv("action", report.quarantine ? "quarantine" : "remove");
      }
    }
    if (s.ok()) {
      line.Kv("result", "queued");
      environment->Count(environment->ids.messages_queued);
      CountScan(*environment, report);
    } else {
      line.Kv("result", "failed").Kv("error", s);
      environment->Count(environment->ids.messages_rejected);
    }
    if (s.ok() && report.quarantine) {
      // The original is copied to the quarantine before delivery may remove the queue file,
      // and before the client hears 250.
      Reactor* reactor = environment->reactor;
      std::string id = env.queue_id;
      environment->worker->Submit([reactor, environment, path = writer->path(), id, alive, this] {
        absl::Status q = QuarantineOriginal(environment->smtp->quarantine_dir, path, id);
        reactor->Post([alive, environment, path, id, q, this] {
          if (!q.ok()) KLOG(kError, "quarantine_failed").Kv("id", id).Kv("error", q);
          environment->enqueue(path, id);
          if (alive.expired() || closing_) return;  // the connection is gone
          Reply(id, absl::OkStatus());
        });
      });
      return;
    }
    if (s.ok()) environment->enqueue(writer->path(), env.queue_id);
    if (alive.expired() || closing_) return;  // the connection is gone
    Reply(env.queue_id, s);
  });
}

void SmtpConnection::ObserveFinalReply() {
  env_->Observe(env_->histogram_ids.end_of_data_reply, absl::Now() - data_end_);
}

void SmtpConnection::Reply(const std::string& queue_id, absl::Status s) {
  ++messages_;
  queue_id_.clear();
  ObserveFinalReply();
  if (s.ok()) {
    session_->CompleteMessage(queue_id);
  } else {
    session_->CompleteMessage(s.code() == absl::StatusCode::kResourceExhausted
                                  ? absl::ResourceExhaustedError("Insufficient system storage")
                                  : absl::UnavailableError("Local error in processing"));
  }
  if (draining_ && CanEndForDrain()) session_->Shutdown();
  UpdateInputFlow();
}

}  // namespace kensa
