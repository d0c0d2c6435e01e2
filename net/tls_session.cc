// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/tls_session.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "net/openssl_errors.h"
#include "absl/strings/str_format.h"

namespace kensa::net {
namespace {

// A memory BIO keeps its peak capacity; past this, an emptied one is replaced so a 30 MB
// message does not pin 30 MB per pooled connection.
constexpr size_t kMaxIdleBioCapacity = 256 * 1024;

bool IsIpLiteral(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

size_t BioCapacity(BIO* b) {
  BUF_MEM* bm = nullptr;
  BIO_get_mem_ptr(b, &bm);
  return bm != nullptr ? bm->max : 0;
}

}  // namespace

TlsSession::TlsSession(SSL* ssl) : ssl_(ssl) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty memory BIO reports "retry" (not EOF), which SSL turns into WANT_READ: the
  // reactor feeds more when the socket has it. SSL_set_bio takes ownership of both.
  SSL_set_bio(ssl_, in_, out_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

std::unique_ptr<TlsSession> TlsSession::NewServer(const TlsContext& ctx) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.get());
  if (ssl == nullptr) return nullptr;  // out of memory only
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(ssl));
}

std::unique_ptr<TlsSession> TlsSession::NewClient(const TlsContext& ctx, const std::string& sni) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.get());
  if (ssl == nullptr) return nullptr;  // out of memory only
  SSL_set_connect_state(ssl);
  std::string host = sni;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  while (!host.empty() && host.back() == '.') host.pop_back();  // SNI forbids the root dot
  const bool ip = IsIpLiteral(host);
  // RFC 6066: SNI carries host names only; an IP literal there is a protocol error that some
  // servers answer with a fatal alert.
  if (!host.empty() && !ip && host.size() <= 255) SSL_set_tlsext_host_name(ssl, host.c_str());
  if ((SSL_CTX_get_verify_mode(ctx.get()) & SSL_VERIFY_PEER) != 0 && !host.empty()) {
    // Verifying a chain without checking the name would accept any valid certificate.
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, host.c_str());
    }
  }
  ERR_clear_error();
  return std::unique_ptr<TlsSession>(new TlsSession(ssl));
}

absl::Status TlsSession::Fail(std::string_view what, int ssl_error) {
  std::string detail = DrainOpenSslErrors();
  if (detail.empty()) {
    detail = ssl_error == SSL_ERROR_SYSCALL ? "unexpected end of stream"
                                            : absl::StrCat("SSL error ", ssl_error);
  }
  failed_ = true;
  error_ = absl::StrCat(std::string(what), ": ", detail);
  return absl::UnavailableError(error_);
}

void TlsSession::StartHandshake() {
  // The client writes its ClientHello now; a failure is reported by the next Feed.
  (void)TryHandshake();
}

absl::Status TlsSession::TryHandshake() {
  if (handshake_done_ || failed_) return absl::OkStatus();
  // The error queue is per thread and shared by every session on this reactor: clear it so
  // a leftover from another connection is neither reported here nor mistaken for ours.
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_done_ = true;
    return FlushPending();
  }
  const int err = SSL_get_error(ssl_, r);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // cannot happen with a memory BIO, harmless if it does
      return absl::OkStatus();
    case SSL_ERROR_ZERO_RETURN:
      peer_closed_ = true;
      return absl::OkStatus();
    default:
      return Fail("TLS handshake failed", err);
  }
}

absl::Status TlsSession::FlushPending() {
  if (pending_plaintext_.empty()) return absl::OkStatus();
  std::string p;
  p.swap(pending_plaintext_);
  return WritePlaintext(p);
}

absl::Status TlsSession::Pump(std::string* plaintext) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_, buf, sizeof(buf), &n) == 1) {
      plaintext->append(buf, n);
      continue;
    }
    const int err = SSL_get_error(ssl_, 0);
    switch (err) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return absl::OkStatus();
      case SSL_ERROR_ZERO_RETURN:
        // close_notify: an orderly end, the caller closes the connection.
        peer_closed_ = true;
        return absl::OkStatus();
      default:
        return Fail("TLS read failed", err);
    }
  }
}

absl::Status TlsSession::FeedCiphertext(std::string_view ciphertext, std::string* plaintext) {
  if (failed_) return absl::UnavailableError(error_);
  // A memory BIO accepts everything in one write (it grows); loop only in case it ever
  // accepts less.
  while (!ciphertext.empty()) {
    size_t n = 0;
    if (BIO_write_ex(in_, ciphertext.data(), ciphertext.size(), &n) != 1 || n == 0) {
      return Fail("TLS input buffer", SSL_ERROR_SSL);
    }
    ciphertext.remove_prefix(n);
  }
  if (!handshake_done_) {
    absl::Status s = TryHandshake();
    if (!s.ok()) return s;
    if (!handshake_done_) return absl::OkStatus();
  }
  absl::Status s = peer_closed_ ? absl::OkStatus() : Pump(plaintext);
  TrimBuffers();
  return s;
}

absl::Status TlsSession::WritePlaintext(std::string_view plaintext) {
  if (failed_) return absl::UnavailableError(error_);
  if (shutdown_sent_) return absl::FailedPreconditionError("TLS session is shut down");
  if (!handshake_done_) {
    pending_plaintext_.append(plaintext);
    return absl::OkStatus();
  }
  while (!plaintext.empty()) {
    ERR_clear_error();
    size_t n = 0;
    // Without SSL_MODE_ENABLE_PARTIAL_WRITE this writes everything; the memory BIO never
    // pushes back, so there is no WANT_WRITE to carry over to a later call.
    if (SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &n) != 1) {
      return Fail("TLS write failed", SSL_get_error(ssl_, 0));
    }
    plaintext.remove_prefix(n);
  }
  return absl::OkStatus();
}

bool TlsSession::HasCiphertext() const { return BIO_ctrl_pending(out_) > 0; }

void TlsSession::TakeCiphertext(std::string* out) {
  size_t pending = BIO_ctrl_pending(out_);
  while (pending > 0) {
    const size_t old = out->size();
    out->resize(old + pending);
    size_t n = 0;
    if (BIO_read_ex(out_, out->data() + old, pending, &n) != 1) n = 0;
    out->resize(old + n);
    if (n == 0) break;
    pending = BIO_ctrl_pending(out_);
  }
  TrimBuffers();
}

void TlsSession::TrimBuffers() {
  // Only once the handshake is over: until then SSL may have a buffering BIO stacked on
  // the write side, and there is no big buffer to give back anyway.
  if (!handshake_done_) return;
  if (BIO_ctrl_pending(out_) == 0 && BioCapacity(out_) > kMaxIdleBioCapacity) {
    BIO* fresh = BIO_new(BIO_s_mem());
    if (fresh != nullptr) {
      SSL_set0_wbio(ssl_, fresh);  // frees the old one
      out_ = fresh;
    }
  }
  if (BIO_ctrl_pending(in_) == 0 && BioCapacity(in_) > kMaxIdleBioCapacity) {
    BIO* fresh = BIO_new(BIO_s_mem());
    if (fresh != nullptr) {
      SSL_set0_rbio(ssl_, fresh);
      in_ = fresh;
    }
  }
}

void TlsSession::Shutdown() {
  // Once only, and never after a fatal error or mid-handshake (OpenSSL refuses both; the
  // connection is being dropped anyway).
  if (shutdown_sent_ || failed_ || !handshake_done_) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  // Queues close_notify in the out BIO; we do not wait for the peer's reply.
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsSession::Describe() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  if (!handshake_done_ || c == nullptr) return "TLS handshake not complete";
  int alg_bits = 0;
  const int bits = SSL_CIPHER_get_bits(c, &alg_bits);
  return absl::StrFormat("%s with cipher %s (%d/%d bits)", SSL_get_version(ssl_),
                         SSL_CIPHER_get_name(c), bits, alg_bits);
}

}  // namespace kensa::net
