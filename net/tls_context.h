// SPDX-License-Identifier: GPL-2.0-or-later
// TlsContext: an OpenSSL SSL_CTX built once at start and shared read-only by every reactor
// (an SSL_CTX is safe to use from many threads once configured).
#ifndef KENSA_NET_TLS_CONTEXT_H_
#define KENSA_NET_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace kensa::net {

struct TlsServerOptions {
  std::string cert_file;  // PEM, chain allowed
  std::string key_file;   // PEM
  std::string min_version = "TLSv1.2";
};

struct TlsClientOptions {
  std::string ca_file;  // empty: system default paths
  bool verify_peer = false;  // opportunistic TLS to a next hop does not verify (as Postfix)
};

class TlsContext {
 public:
  static absl::StatusOr<std::shared_ptr<TlsContext>> CreateServer(const TlsServerOptions& o);
  static absl::StatusOr<std::shared_ptr<TlsContext>> CreateClient(const TlsClientOptions& o);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

}  // namespace kensa::net

#endif  // KENSA_NET_TLS_CONTEXT_H_
