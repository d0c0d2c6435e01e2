// SPDX-License-Identifier: GPL-2.0-or-later
// TlsSession: one TLS connection over memory BIOs, so the reactor owns all socket I/O.
// Ciphertext from the socket goes in with FeedCiphertext (which returns the plaintext it
// yields); plaintext to send goes in with WritePlaintext (buffered until the handshake is
// done); ciphertext to put on the socket comes out with TakeCiphertext.
#ifndef KENSA_NET_TLS_SESSION_H_
#define KENSA_NET_TLS_SESSION_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "net/tls_context.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace kensa::net {

class TlsSession {
 public:
  static std::unique_ptr<TlsSession> NewServer(const TlsContext& ctx);
  // `sni` is sent as server name when it is a host name (not an IP literal).
  static std::unique_ptr<TlsSession> NewClient(const TlsContext& ctx, const std::string& sni);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Client side: produce the ClientHello (then TakeCiphertext).
  void StartHandshake();
  // Appends decrypted bytes to *plaintext. An error status is a fatal TLS failure (bad
  // handshake, protocol violation); a clean close_notify sets peer_closed() instead.
  absl::Status FeedCiphertext(std::string_view ciphertext, std::string* plaintext);
  absl::Status WritePlaintext(std::string_view plaintext);
  bool HasCiphertext() const;
  void TakeCiphertext(std::string* out);  // appends
  bool handshake_done() const { return handshake_done_; }
  bool peer_closed() const { return peer_closed_; }
  // Queues a close_notify.
  void Shutdown();
  // "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", for Received: and logs.
  std::string Describe() const;

 private:
  explicit TlsSession(SSL* ssl);
  absl::Status TryHandshake();
  absl::Status FlushPending();
  absl::Status Pump(std::string* plaintext);
  absl::Status Fail(std::string_view what, int ssl_error);
  void TrimBuffers();
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // network -> SSL
  BIO* out_ = nullptr;  // SSL -> network
  std::string pending_plaintext_;  // written before the handshake finished
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  bool shutdown_sent_ = false;
  std::string error_;  // why the session failed, repeated to later calls
};

}  // namespace kensa::net

#endif  // KENSA_NET_TLS_SESSION_H_
