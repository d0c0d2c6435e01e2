// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "net/openssl_errors.h"

namespace kensa::net {
namespace {

// Owns the SSL_CTX until it is handed to a TlsContext, so every early return frees it.
struct CtxGuard {
  SSL_CTX* ctx;
  ~CtxGuard() { SSL_CTX_free(ctx); }
  SSL_CTX* release() {
    SSL_CTX* c = ctx;
    ctx = nullptr;
    return c;
  }
};

absl::StatusOr<int> ParseMinVersion(std::string_view v) {
  if (v.empty() || v == "TLSv1.2" || v == "1.2") return TLS1_2_VERSION;
  if (v == "TLSv1.3" || v == "1.3") return TLS1_3_VERSION;
  // Older versions are the operator's call (some MTAs still speak only TLSv1); OpenSSL's
  // security level may refuse them anyway.
  if (v == "TLSv1.1" || v == "1.1") return TLS1_1_VERSION;
  if (v == "TLSv1" || v == "TLSv1.0" || v == "1.0") return TLS1_VERSION;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown TLS min_version \"", std::string(v), "\" (expected TLSv1.2 or TLSv1.3)"));
}

// Settings common to both directions.
void ApplyCommon(SSL_CTX* ctx) {
  // Renegotiation is a DoS lever and has no use for SMTP; compression invites CRIME-style
  // attacks (OpenSSL 3 disables it by default; saying so makes the intent explicit).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle SMTP connections are the common case; give the 2 x ~17 KB record buffers back
  // while nothing is in flight.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::CreateServer(const TlsServerOptions& o) {
  ERR_clear_error();
  absl::StatusOr<int> min_version = ParseMinVersion(o.min_version);
  if (!min_version.ok()) return min_version.status();
  if (o.cert_file.empty()) return absl::InvalidArgumentError("TLS cert_file is not set");
  if (o.key_file.empty()) return absl::InvalidArgumentError("TLS key_file is not set");

  CtxGuard g{SSL_CTX_new(TLS_server_method())};
  if (g.ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + DescribeOpenSslFailure());
  ApplyCommon(g.ctx);
  if (SSL_CTX_set_min_proto_version(g.ctx, *min_version) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS min_version ", o.min_version, ": ", DescribeOpenSslFailure()));
  }
  // The cipher lists stay OpenSSL's defaults (and the system's crypto policy): they are
  // maintained better than a list frozen here.

  if (SSL_CTX_use_certificate_chain_file(g.ctx, o.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TLS certificate chain ", o.cert_file, ": ", DescribeOpenSslFailure()));
  }
  // Read the key ourselves so a file that cannot be read is told apart from a key that
  // belongs to another certificate.
  BIO* kb = BIO_new_file(o.key_file.c_str(), "r");
  EVP_PKEY* pkey = kb != nullptr ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(kb);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TLS private key ", o.key_file, ": ", DescribeOpenSslFailure()));
  }
  const int used = SSL_CTX_use_PrivateKey(g.ctx, pkey);
  EVP_PKEY_free(pkey);
  // SSL_CTX_use_PrivateKey already rejects a key of the certificate's type that does not
  // match; SSL_CTX_check_private_key catches a key of another type (RSA key, EC cert).
  if (used != 1 || SSL_CTX_check_private_key(g.ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("TLS private key ", o.key_file,
                                                   " does not match certificate ", o.cert_file,
                                                   ": ", DescribeOpenSslFailure()));
  }

  // Resumption saves a full handshake for clients that reconnect (TLS 1.2 session IDs;
  // TLS 1.3 uses tickets). The internal cache is locked, so sharing the context is safe.
  SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_SERVER);
  static constexpr unsigned char kSidCtx[] = "kensa";
  SSL_CTX_set_session_id_context(g.ctx, kSidCtx, sizeof(kSidCtx) - 1);
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(g.release(), true));
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::CreateClient(const TlsClientOptions& o) {
  ERR_clear_error();
  CtxGuard g{SSL_CTX_new(TLS_client_method())};
  if (g.ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + DescribeOpenSslFailure());
  ApplyCommon(g.ctx);
  if (SSL_CTX_set_min_proto_version(g.ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError("SSL_CTX_set_min_proto_version: " + DescribeOpenSslFailure());
  }
  if (o.verify_peer) {
    SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, nullptr);
    if (!o.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(g.ctx, o.ca_file.c_str(), nullptr) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load TLS CA file ", o.ca_file, ": ", DescribeOpenSslFailure()));
      }
    } else if (SSL_CTX_set_default_verify_paths(g.ctx) != 1) {
      return absl::InternalError("cannot load the system CA paths: " + DescribeOpenSslFailure());
    }
  } else {
    // Opportunistic TLS: encrypt against passive listeners even when the next hop's
    // certificate would not verify (self-signed is the norm between MTAs).
    SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(g.release(), false));
}

}  // namespace kensa::net
