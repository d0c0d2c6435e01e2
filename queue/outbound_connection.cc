// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/outbound_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace kensa::queue {
namespace {

// How long a connection with nothing to do stays open for the next message.
constexpr absl::Duration kIdleReuse = absl::Seconds(10);

net::RecipientResult TempResult(std::string text) {
  net::RecipientResult r;
  r.outcome = net::RecipientResult::Outcome::kTempFail;
  r.code = 0;
  r.enhanced = "4.4.1";
  r.text = std::move(text);
  return r;
}

}  // namespace

OutboundConnection::OutboundConnection(const DeliverySettings* settings,
                                       const DeliveryEnvironment* env, SmtpHopPool* pool,
                                       const net::NextHop& hop)
    : settings_(settings), env_(env), pool_(pool), hop_(hop) {}

OutboundConnection::~OutboundConnection() {
  if (timer_ != 0) env_->reactor->CancelTimer(timer_);
  if (stream_ != nullptr) stream_->Close(false);
}

void OutboundConnection::Start(DeliveryJob first) {
  job_ = std::move(first);
  deadline_ = absl::Now() + settings_->connect_timeout + settings_->reply_timeout;
  ArmTimer();
  absl::StatusOr<SocketAddress> literal =
      ParseSocketAddress(absl::StrCat(hop_.host.front() == '[' || hop_.host.find(':') == std::string::npos
                                          ? hop_.host
                                          : absl::StrCat("[", hop_.host, "]"),
                                      ":", hop_.port));
  if (literal.ok()) {
    Connect(*literal);
    return;
  }
  // A host name: getaddrinfo blocks, so it runs on the worker.
  Reactor* reactor = env_->reactor;
  Lifetime::Handle alive = lifetime_.handle();
  env_->worker->Submit([reactor, alive, this, host = hop_.host, port = hop_.port] {
    absl::StatusOr<SocketAddress> addr = ResolveHostPort(host, port);
    reactor->Post([alive, this, addr = std::move(addr)] {
      if (alive.expired()) return;
      if (!addr.ok()) {
        OnSessionFailed(addr.status(), TempResult(std::string(addr.status().message())));
        return;
      }
      Connect(*addr);
    });
  });
}

void OutboundConnection::Connect(const SocketAddress& addr) {
  int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    OnSessionFailed(absl::InternalError("socket"), TempResult("cannot create socket"));
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto addr_copy = std::make_shared<SocketAddress>(addr);
  Lifetime::Handle alive = lifetime_.handle();
  env_->reactor->Connect(
      fd, addr_copy->get(), addr_copy->length, settings_->connect_timeout,
      [this, fd, alive, addr_copy](int res) {
        if (alive.expired()) {
          close(fd);
          return;
        }
        if (res < 0) {
          close(fd);
          std::string why = res == -ECANCELED ? "connect timeout"
                                              : absl::StrCat("connect: ", std::strerror(-res));
          OnSessionFailed(absl::UnavailableError(why),
                          TempResult(absl::StrCat("connect to ", addr_copy->ToString(), ": ",
                                                  res == -ECANCELED ? "timeout"
                                                                    : std::strerror(-res))));
          return;
        }
        stream_ = net::SecureStream::Create(SocketStream::Create(env_->reactor, fd));
        net::SmtpClientConfig cc;
        cc.helo_name = settings_->hostname;
        cc.lmtp = hop_.kind == net::NextHop::Kind::kLmtp;
        cc.tls = hop_.tls;
        cc.tls_available = env_->client_tls != nullptr;
        session_ = std::make_unique<net::SmtpClientSession>(cc, this);
        Touch();
        stream_->Start(this);
      });
}

void OutboundConnection::Deliver(DeliveryJob job) {
  job_ = std::move(job);
  ready_ = false;
  Touch();
  session_->Send(job_->message);
}

void OutboundConnection::Quit() {
  quitting_ = true;
  if (session_ != nullptr && !closed_) {
    session_->Quit();
  } else {
    Close();
  }
}

void OutboundConnection::SendToServer(std::string_view bytes) {
  if (closed_ || stream_ == nullptr) return;
  absl::Status s = stream_->Send(bytes);
  if (!s.ok()) FailTlsLater(std::move(s));
}

void OutboundConnection::StartTls() {
  absl::Status s = stream_->StartTlsClient(*env_->client_tls, hop_.host);
  if (!s.ok()) FailTlsLater(std::move(s));
}

void OutboundConnection::FailTlsLater(absl::Status error) {
  env_->reactor->Defer([alive = lifetime_.handle(), this, error = std::move(error)] {
    if (alive.expired() || closed_) return;
    OnTlsFailed(error);
  });
}

void OutboundConnection::OnBytesReceived(size_t) {
  if (!closed_) Touch();
}

void OutboundConnection::OnData(std::string_view plaintext) {
  if (!closed_) session_->Feed(plaintext);
}

void OutboundConnection::OnTlsEstablished() {
  if (!closed_) session_->OnTlsEstablished();
}

void OutboundConnection::OnTlsPeerClosed() {
  // A close_notify from the next hop ends the connection as an EOF would.
  if (!closed_) OnStreamClosed(0);
}

void OutboundConnection::OnTlsFailed(absl::Status error) {
  if (closed_) return;
  OnSessionFailed(error, TempResult(absl::StrCat("TLS failure: ", error.message())));
}

void OutboundConnection::OnReady() {
  ready_ = true;
  if (job_.has_value()) {
    // Connected with a job waiting (the first one, or the session just finished EHLO).
    Touch();
    session_->Send(job_->message);
    ready_ = false;
    return;
  }
  deadline_ = absl::Now() + kIdleReuse;
  pool_->OnIdle(this);
}

void OutboundConnection::WantContent() {
  StopContent();
  sending_content_ = true;
  ReadContent();
}

void OutboundConnection::ReadContent() {
  reading_ = true;
  Reactor* reactor = env_->reactor;
  Lifetime::Handle alive = lifetime_.handle();
  // The copy travels with the read and comes back with the piece: one thread at a time.
  decltype(job_->open_copy) open;
  if (copy_ == nullptr) open = job_->open_copy;
  env_->worker->Submit([reactor, alive, transfer = transfer_, open = std::move(open),
                        copy = std::move(copy_), this]() mutable {
    absl::StatusOr<std::string> piece;
    if (copy == nullptr) {
      absl::StatusOr<std::unique_ptr<spool::CopyReader>> opened =
          absl::InternalError("the delivery job has no copy to send");
      if (open) opened = open();
      if (opened.ok()) {
        copy = std::move(*opened);
      } else {
        piece = opened.status();
      }
    }
    if (copy != nullptr) piece = copy->Next(kContentChunk);
    reactor->Post([alive, transfer, copy = std::move(copy), piece = std::move(piece),
                   this]() mutable {
      if (alive.expired()) return;
      OnContentRead(transfer, std::move(copy), std::move(piece));
    });
  });
}

void OutboundConnection::OnContentRead(uint64_t transfer, std::unique_ptr<spool::CopyReader> copy,
                                       absl::StatusOr<std::string> piece) {
  if (transfer != transfer_) return;  // its transfer ended; the copy closes here
  reading_ = false;
  if (closed_ || !job_.has_value() || !sending_content_) return;
  if (!piece.ok()) {
    // The next hop has part of the data or none, and no final dot: ending the connection
    // abandons the transaction there; the recipients are retried.
    KLOG(kError, "queue_file_unreadable").Kv("relay", hop_.ToString()).Kv("error", piece.status());
    FailJob(TempResult(absl::StrCat("local error reading the queued message: ",
                                    piece.status().message())));
    Close();
    return;
  }
  Touch();
  copy_ = std::move(copy);
  copy_ended_ = copy_->done();
  next_piece_ = std::move(*piece);
  PumpContent();
}

void OutboundConnection::PumpContent() {
  if (!sending_content_ || !job_.has_value() || closed_) return;
  if (!next_piece_.empty() && stream_->queued_bytes() < kMaxQueuedBytes) {
    std::string piece = std::move(next_piece_);
    next_piece_.clear();
    session_->SendContent(piece);
    Touch();
    if (!sending_content_ || closed_) return;
  }
  if (!next_piece_.empty() || reading_) return;  // the socket or the worker calls back
  if (copy_ended_) {
    StopContent();
    session_->EndContent();
    return;
  }
  ReadContent();  // read ahead while the socket sends
}

void OutboundConnection::StopContent() {
  ++transfer_;  // a read still on the worker comes back to nothing
  sending_content_ = false;
  reading_ = false;
  copy_ended_ = false;
  copy_.reset();
  next_piece_.clear();
  next_piece_.shrink_to_fit();
}

void OutboundConnection::OnSendDrained() { PumpContent(); }

void OutboundConnection::OnTransactionDone(std::vector<net::RecipientResult> results) {
  std::optional<DeliveryJob> job = std::move(job_);
  job_.reset();
  StopContent();
  if (job.has_value()) job->done(std::move(results));
}

void OutboundConnection::FailJob(const net::RecipientResult& r) {
  std::optional<DeliveryJob> job = std::move(job_);
  job_.reset();
  if (!job.has_value()) return;
  job->done(std::vector<net::RecipientResult>(job->message.recipients.size(), r));
}

void OutboundConnection::OnSessionFailed(absl::Status why, net::RecipientResult as_result) {
  KLOG(kInfo, "next_hop_failed").Kv("relay", hop_.ToString()).Kv("error", why);
  FailJob(as_result);
  Close();
}

void OutboundConnection::CloseConnection() { Close(); }

void OutboundConnection::OnStreamClosed(int error) {
  stream_->Close(false);
  if (session_ != nullptr) session_->OnConnectionLost();  // fails a transaction in progress
  FailJob(TempResult("lost connection with next hop"));
  Close();
}

void OutboundConnection::Close() {
  if (closed_) return;
  closed_ = true;
  if (timer_ != 0) {
    env_->reactor->CancelTimer(timer_);
    timer_ = 0;
  }
  if (stream_ != nullptr) stream_->Close(true, absl::Seconds(5));
  // The pool destroys this object after the current batch, unless the pool (and this with
  // it) is gone by then.
  env_->reactor->Defer([alive = lifetime_.handle(), pool = pool_, self = this] {
    if (!alive.expired()) pool->OnClosed(self);
  });
}

void OutboundConnection::Touch() { deadline_ = absl::Now() + settings_->reply_timeout; }

void OutboundConnection::ArmTimer() {
  // Close() and the destructor cancel it, so `this` alone is safe here.
  timer_ = env_->reactor->RunAfter(deadline_ - absl::Now(), [this] {
    timer_ = 0;
    if (closed_) return;
    if (absl::Now() < deadline_) {
      ArmTimer();
      return;
    }
    if (ready_ && !job_.has_value()) {
      Quit();  // idle too long: give the connection back
      if (!closed_) {
        deadline_ = absl::Now() + absl::Seconds(5);
        ArmTimer();
      }
      return;
    }
    OnSessionFailed(absl::DeadlineExceededError("next hop timed out"),
                    TempResult("timeout talking to next hop"));
  });
}

}  // namespace kensa::queue
