// SPDX-License-Identifier: GPL-2.0-or-later
// DovecotAuthBackend: a bounded pool of blocking connections behind one mutex (auth is not the
// per-message data path), one request in flight per connection.
#include "auth/dovecot_auth_backend.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/dovecot_auth_protocol.h"

namespace kensa::auth {

absl::StatusOr<std::unique_ptr<DovecotAuthBackend>> DovecotAuthBackend::Create(
    const DovecotAuthOptions& options) {
  absl::StatusOr<DovecotEndpoint> endpoint = ParseDovecotEndpoint(options.endpoint);
  if (!endpoint.ok()) return endpoint.status();
  if (options.connections == 0) return absl::InvalidArgumentError("dovecot connections must be >= 1");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dovecot timeout must be positive");
  }
  return std::unique_ptr<DovecotAuthBackend>(new DovecotAuthBackend(options, *std::move(endpoint)));
}

absl::StatusOr<std::unique_ptr<DovecotConnection>> DovecotAuthBackend::Acquire(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<DovecotConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->Stale()) return conn;
      --open_;  // the server went away (restart, idle timeout): reconnect below
    }
    if (open_ < options_.connections) {
      ++open_;
      lock.unlock();
      absl::StatusOr<std::unique_ptr<DovecotConnection>> conn =
          DovecotConnection::Open(endpoint_, deadline, options_.max_line_bytes);
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
      }
      return conn;
    }
    if (cv_.wait_until(lock, absl::ToChronoTime(deadline)) == std::cv_status::timeout &&
        idle_.empty() && open_ >= options_.connections) {
      return absl::DeadlineExceededError(
          absl::StrCat("dovecot auth: all ", options_.connections, " connections busy"));
    }
  }
}

void DovecotAuthBackend::Release(std::unique_ptr<DovecotConnection> conn, bool reusable) {
  std::unique_ptr<DovecotConnection> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reusable) {
      idle_.push_back(std::move(conn));
    } else {
      closing = std::move(conn);
      --open_;
    }
  }
  cv_.notify_one();
}

AuthOutcome DovecotAuthBackend::Verify(const AuthRequest& request) {
  // NUL separates PLAIN's fields; one inside a field would let the client shift them.
  for (const std::string* s : {&request.authzid, &request.user, &request.password}) {
    if (s->find('\0') != std::string::npos) return Failed("NUL byte in credentials");
  }
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<std::unique_ptr<DovecotConnection>> acquired = Acquire(deadline);
  if (!acquired.ok()) return TempFailed(std::string(acquired.status().message()));
  std::unique_ptr<DovecotConnection> conn = *std::move(acquired);

  uint32_t id = conn->NextId();
  DovecotAuthLineOptions line_options;
  line_options.penalty = options_.penalty;
  std::string line = DovecotAuthLine(id, request, line_options);
  absl::Status sent = conn->WriteAll(line, deadline);
  OPENSSL_cleanse(line.data(), line.size());  // it held the password, base64-encoded
  if (!sent.ok()) {
    Release(std::move(conn), false);
    return TempFailed(std::string(sent.message()));
  }
  absl::StatusOr<std::string> reply_line = conn->ReadLine(deadline);
  if (!reply_line.ok()) {
    Release(std::move(conn), false);
    return TempFailed(std::string(reply_line.status().message()));
  }
  absl::StatusOr<DovecotReply> reply = ParseDovecotReply(*reply_line);
  if (!reply.ok() || reply->id != id) {
    Release(std::move(conn), false);
    return TempFailed(reply.ok() ? "dovecot auth: reply for another request"
                                 : std::string(reply.status().message()));
  }
  AuthOutcome outcome = DovecotOutcome(*reply, request);
  // After CONT the server waits for more of this exchange: the connection is unusable.
  Release(std::move(conn), reply->kind != DovecotReply::Kind::kCont);
  return outcome;
}

}  // namespace kensa::auth
