// SPDX-License-Identifier: GPL-2.0-or-later
// TestTls (tests only): a self-signed certificate for mx.example.org in a temporary
// directory, and the server and client TlsContexts made from it, shared by the tests of TLS
// over memory (TlsSession) and over sockets (SecureStream).
#ifndef KENSA_NET_TLS_TEST_SUPPORT_H_
#define KENSA_NET_TLS_TEST_SUPPORT_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "net/self_signed_cert.h"
#include "net/tls_context.h"

namespace kensa::net {

struct TestTls {
  std::string dir;
  std::shared_ptr<TlsContext> server;
  std::shared_ptr<TlsContext> client;

  std::string cert_file() const { return dir + "/cert.pem"; }
  std::string key_file() const { return dir + "/key.pem"; }

  // `name` prefixes the temporary directory under `temp_root`.
  static absl::StatusOr<std::unique_ptr<TestTls>> Create(const std::string& temp_root,
                                                         const std::string& name) {
    std::string tmpl = absl::StrCat(temp_root, "/", name, "_XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp " + tmpl);
    auto tls = std::make_unique<TestTls>();
    tls->dir = tmpl;
    absl::Status made =
        EnsureSelfSignedCertificate(tls->cert_file(), tls->key_file(), "mx.example.org");
    if (!made.ok()) return made;
    TlsServerOptions so;
    so.cert_file = tls->cert_file();
    so.key_file = tls->key_file();
    absl::StatusOr<std::shared_ptr<TlsContext>> s = TlsContext::CreateServer(so);
    if (!s.ok()) return s.status();
    absl::StatusOr<std::shared_ptr<TlsContext>> c = TlsContext::CreateClient({});
    if (!c.ok()) return c.status();
    tls->server = *s;
    tls->client = *c;
    return tls;
  }

  ~TestTls() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace kensa::net

#endif  // KENSA_NET_TLS_TEST_SUPPORT_H_
