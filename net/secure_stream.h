// SPDX-License-Identifier: GPL-2.0-or-later
// SecureStream: the one byte stream every connection uses, client or server side: a
// SocketStream with TLS that can be switched on at the start (implicit TLS) or mid-stream
// (STARTTLS, STLS). Its user sends and receives plaintext; the stream feeds ciphertext to the
// TlsSession, puts what TLS produces (handshake records, alerts, close_notify) on the socket
// at once, and reports every TLS outcome to its handler: handshake done, the peer's
// close_notify, a fatal error. No TLS error is dropped: Send() returns it, and an input error
// is reported once to OnTlsFailed().
//
// STARTTLS: output queued before StartTls*() goes out in the clear, everything after it is
// TLS. Bytes received in the same read as the command that switched (a client pipelining
// behind STARTTLS, the injection of CVE-2011-0411) are in the plaintext already handed to the
// handler; the protocol session decides (kensa's discard them).
//
// Lifetime: the handler is never called after Close() or destruction. The stream may be
// destroyed from inside one of its own callbacks (it keeps itself alive until it returns).
#ifndef KENSA_NET_SECURE_STREAM_H_
#define KENSA_NET_SECURE_STREAM_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/socket_stream.h"
#include "net/tls_context.h"
#include "net/tls_session.h"

namespace kensa::net {

class SecureStream : public SocketStream::Handler,
                     public std::enable_shared_from_this<SecureStream> {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // `n` bytes arrived on the socket (ciphertext when TLS is on), before any other callback
    // for them: activity, for idle deadlines and counters.
    virtual void OnBytesReceived(size_t /*n*/) {}
    // Bytes from the peer, decrypted when TLS is on.
    virtual void OnData(std::string_view plaintext) = 0;
    // The TLS handshake finished (implicit TLS or after STARTTLS).
    virtual void OnTlsEstablished() {}
    // The peer sent close_notify: it will send nothing more. The socket is still open.
    virtual void OnTlsPeerClosed() = 0;
    // A fatal TLS error (bad handshake, protocol violation, garbage). Any alert is already
    // queued; the handler closes the stream.
    virtual void OnTlsFailed(absl::Status error) = 0;
    // The peer closed the socket (error 0) or it failed (-errno).
    virtual void OnStreamClosed(int error) = 0;
    // All queued output has been written to the socket.
    virtual void OnSendDrained() {}
  };

  static std::shared_ptr<SecureStream> Create(std::shared_ptr<SocketStream> socket);
  ~SecureStream() override;
  SecureStream(const SecureStream&) = delete;
  SecureStream& operator=(const SecureStream&) = delete;

  void Start(Handler* handler);
  // From now on every byte both ways is TLS, we being the server. Fails only when OpenSSL
  // cannot make a session (out of memory).
  absl::Status StartTlsServer(const TlsContext& ctx);
  // The same as the client: the ClientHello goes out now. `sni` as TlsSession::NewClient.
  absl::Status StartTlsClient(const TlsContext& ctx, const std::string& sni);
  // Queues plaintext (held until the handshake is done, then encrypted). An error means the
  // TLS session failed: nothing more can be sent, the caller closes. After Close(), a no-op.
  absl::Status Send(std::string_view plaintext);
  // Detaches the handler at once. With flush: a close_notify (when TLS is up), then queued
  // output is written (bounded by `linger`) before the socket closes.
  void Close(bool flush, absl::Duration linger = absl::Seconds(10));

  void PauseReceive() { socket_->PauseReceive(); }
  void ResumeReceive() { socket_->ResumeReceive(); }
  // Bytes queued on the socket and not yet written (ciphertext when TLS is on).
  size_t queued_bytes() const { return socket_->queued_bytes(); }
  bool closed() const { return closed_; }
  bool tls() const { return tls_ != nullptr; }
  bool tls_established() const { return tls_ != nullptr && tls_->handshake_done(); }
  // For Received: and logs, as TlsSession::Describe.
  std::string DescribeTls() const;

  // SocketStream::Handler (the socket's callbacks; not for users)
  void OnReceive(std::string_view bytes) override;
  void OnStreamClosed(int error) override;
  void OnSendDrained() override;

 private:
  explicit SecureStream(std::shared_ptr<SocketStream> socket) : socket_(std::move(socket)) {}
  void FlushTls();

  std::shared_ptr<SocketStream> socket_;
  Handler* handler_ = nullptr;
  std::unique_ptr<TlsSession> tls_;
  bool tls_announced_ = false;   // OnTlsEstablished delivered
  bool tls_failed_ = false;      // OnTlsFailed delivered: input is ignored from here on
  bool peer_closed_ = false;     // OnTlsPeerClosed delivered
  bool closed_ = false;
};

}  // namespace kensa::net

#endif  // KENSA_NET_SECURE_STREAM_H_
