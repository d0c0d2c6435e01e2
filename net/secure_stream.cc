// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/secure_stream.h"

#include <utility>

namespace kensa::net {

std::shared_ptr<SecureStream> SecureStream::Create(std::shared_ptr<SocketStream> socket) {
  return std::shared_ptr<SecureStream>(new SecureStream(std::move(socket)));
}

SecureStream::~SecureStream() {
  if (!closed_) socket_->Close(false);
}

void SecureStream::Start(Handler* handler) {
  handler_ = handler;
  socket_->Start(this);
}

absl::Status SecureStream::StartTlsServer(const TlsContext& ctx) {
  tls_ = TlsSession::NewServer(ctx);
  tls_announced_ = false;
  if (tls_ == nullptr) return absl::ResourceExhaustedError("cannot create a TLS session");
  return absl::OkStatus();
}

absl::Status SecureStream::StartTlsClient(const TlsContext& ctx, const std::string& sni) {
  tls_ = TlsSession::NewClient(ctx, sni);
  tls_announced_ = false;
  if (tls_ == nullptr) return absl::ResourceExhaustedError("cannot create a TLS session");
  tls_->StartHandshake();
  FlushTls();
  return absl::OkStatus();
}

absl::Status SecureStream::Send(std::string_view plaintext) {
  if (closed_) return absl::OkStatus();
  if (tls_ == nullptr) {
    socket_->Send(plaintext);
    return absl::OkStatus();
  }
  absl::Status s = tls_->WritePlaintext(plaintext);
  FlushTls();  // also an alert that a failure queued
  return s;
}

void SecureStream::FlushTls() {
  if (tls_ == nullptr || !tls_->HasCiphertext()) return;
  std::string out;
  tls_->TakeCiphertext(&out);
  socket_->Send(out);
}

void SecureStream::OnReceive(std::string_view bytes) {
  if (closed_ || handler_ == nullptr) return;
  // A callback may close the stream or drop the owner's reference to it.
  std::shared_ptr<SecureStream> keep = shared_from_this();
  handler_->OnBytesReceived(bytes.size());
  if (closed_) return;
  if (tls_ == nullptr) {
    handler_->OnData(bytes);
    return;
  }
  if (tls_failed_ || peer_closed_) return;  // reported once; the rest is noise
  std::string plain;
  absl::Status s = tls_->FeedCiphertext(bytes, &plain);
  FlushTls();  // handshake records, alerts
  if (!s.ok()) {
    tls_failed_ = true;
    handler_->OnTlsFailed(std::move(s));
    return;
  }
  if (tls_->handshake_done() && !tls_announced_) {
    tls_announced_ = true;
    handler_->OnTlsEstablished();
    if (closed_) return;
  }
  if (!plain.empty()) {
    handler_->OnData(plain);
    if (closed_) return;
  }
  // The handler may have switched TLS off or anew (it cannot today, but a stale session
  // must not be read): only this session's close_notify counts.
  if (tls_ != nullptr && tls_->peer_closed() && !peer_closed_) {
    peer_closed_ = true;
    handler_->OnTlsPeerClosed();
  }
}

void SecureStream::OnStreamClosed(int error) {
  Handler* h = handler_;
  if (closed_ || h == nullptr) return;
  std::shared_ptr<SecureStream> keep = shared_from_this();
  h->OnStreamClosed(error);
}

void SecureStream::OnSendDrained() {
  if (closed_ || handler_ == nullptr) return;
  std::shared_ptr<SecureStream> keep = shared_from_this();
  handler_->OnSendDrained();
}

void SecureStream::Close(bool flush, absl::Duration linger) {
  handler_ = nullptr;
  if (closed_) return;
  closed_ = true;
  if (flush && tls_ != nullptr) {
    tls_->Shutdown();  // a no-op before the handshake finished or after a failure
    FlushTls();
  }
  socket_->Close(flush, linger);
}

std::string SecureStream::DescribeTls() const {
  return tls_ != nullptr ? tls_->Describe() : std::string("no TLS");
}

}  // namespace kensa::net
