// SPDX-License-Identifier: GPL-2.0-or-later
// MakeAuthBackend: kind name to backend.
#include "auth/auth_backend_factory.h"

#include "absl/strings/str_cat.h"
#include "auth/dovecot_auth_backend.h"
#include "auth/passwd_file_backend.h"

namespace kensa::auth {

absl::StatusOr<std::unique_ptr<AuthBackend>> MakeAuthBackend(const AuthBackendOptions& options) {
  if (options.kind == "file") {
    if (options.passwd_file.empty()) return absl::InvalidArgumentError("auth kind \"file\" needs passwd_file");
    absl::StatusOr<std::unique_ptr<PasswdFileBackend>> b = PasswdFileBackend::Load(options.passwd_file);
    if (!b.ok()) return b.status();
    return std::unique_ptr<AuthBackend>(*std::move(b));
  }
  if (options.kind == "dovecot") {
    if (options.dovecot_endpoint.empty()) {
      return absl::InvalidArgumentError("auth kind \"dovecot\" needs dovecot_endpoint");
    }
    DovecotAuthOptions d;
    d.endpoint = options.dovecot_endpoint;
    d.timeout = options.timeout;
    d.connections = options.dovecot_connections;
    absl::StatusOr<std::unique_ptr<DovecotAuthBackend>> b = DovecotAuthBackend::Create(d);
    if (!b.ok()) return b.status();
    return std::unique_ptr<AuthBackend>(*std::move(b));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown auth backend kind \"", options.kind, "\" (want file or dovecot)"));
}

}  // namespace kensa::auth
