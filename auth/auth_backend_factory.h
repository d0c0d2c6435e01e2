// SPDX-License-Identifier: GPL-2.0-or-later
// Builds the configured AuthBackend, so the daemon's config code names a kind, not a class.
#ifndef KENSA_AUTH_AUTH_BACKEND_FACTORY_H_
#define KENSA_AUTH_AUTH_BACKEND_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/auth_backend.h"

namespace kensa::auth {

struct AuthBackendOptions {
  std::string kind;  // "file" | "dovecot"
  std::string passwd_file;
  std::string dovecot_endpoint;
  absl::Duration timeout = absl::Seconds(10);
  size_t dovecot_connections = 4;
};

// "file" loads passwd_file now (errors name the line); "dovecot" checks the endpoint and
// connects on first use.
absl::StatusOr<std::unique_ptr<AuthBackend>> MakeAuthBackend(const AuthBackendOptions& options);

}  // namespace kensa::auth

#endif  // KENSA_AUTH_AUTH_BACKEND_FACTORY_H_
