// SPDX-License-Identifier: GPL-2.0-or-later
// AuthBackend that asks a Dovecot auth server (the protocol Postfix's smtpd uses with
// smtpd_sasl_type = dovecot), so kensa accepts exactly the passwords the ISP's mail store does.
// Every Verify is one PLAIN exchange on a pooled connection. Anything that keeps a definite
// answer from arriving (no server, timeout, a connection broken mid-request, a protocol
// surprise) is kTempFail, never kFailed: the client should retry, not think its password wrong.
#ifndef KENSA_AUTH_DOVECOT_AUTH_BACKEND_H_
#define KENSA_AUTH_DOVECOT_AUTH_BACKEND_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/auth_backend.h"
#include "auth/dovecot_connection.h"

namespace kensa::auth {

struct DovecotAuthOptions {
  std::string endpoint;  // "unix:/run/dovecot/auth-client", "inet:127.0.0.1:12345", "inet:[::1]:12345"
  absl::Duration timeout = absl::Seconds(10);  // per Verify: connect, handshake, request, reply
  size_t connections = 4;                      // pool size; more concurrent Verify calls wait
  size_t max_line_bytes = 16384;               // the protocol's expected maximum
  bool penalty = false;  // let Dovecot add its own auth_penalty delays (see DovecotAuthLineOptions)
};

class DovecotAuthBackend : public AuthBackend {
 public:
  // Checks the options only; connections open on demand, so kensa may start before Dovecot.
  static absl::StatusOr<std::unique_ptr<DovecotAuthBackend>> Create(const DovecotAuthOptions& options);

  // The authzid goes to Dovecot, which decides (master users) instead of this client.
  AuthOutcome Verify(const AuthRequest& request) override;
  std::string Describe() const override { return "dovecot:" + endpoint_.ToString(); }

 private:
  DovecotAuthBackend(DovecotAuthOptions options, DovecotEndpoint endpoint)
      : options_(std::move(options)), endpoint_(std::move(endpoint)) {}
  absl::StatusOr<std::unique_ptr<DovecotConnection>> Acquire(absl::Time deadline);
  // A connection that failed or whose state is unknown is closed, not pooled.
  void Release(std::unique_ptr<DovecotConnection> conn, bool reusable);

  const DovecotAuthOptions options_;
  const DovecotEndpoint endpoint_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<DovecotConnection>> idle_;
  size_t open_ = 0;  // idle plus lent out
};

}  // namespace kensa::auth

#endif  // KENSA_AUTH_DOVECOT_AUTH_BACKEND_H_
