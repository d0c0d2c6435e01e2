// SPDX-License-Identifier: GPL-2.0-or-later
// Test helper: a real Dovecot auth server on loopback, as root, in its own directory (the
// PEERS.md recipe with no mail protocols): an auth-client UNIX socket and a TCP listener on a
// free port, a passwd-file passdb written from the test's users, auth_failure_delay = 0.
// Stop() (or the destructor) ends the master by its pid and removes the directory.
#ifndef KENSA_AUTH_DOVECOT_FIXTURE_TEST_H_
#define KENSA_AUTH_DOVECOT_FIXTURE_TEST_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kensa::auth::testing {

struct DovecotUser {
  std::string name;
  std::string scheme_password;  // as passwd-file wants it: "{PLAIN}pw", "{SHA512-CRYPT}$6$..."
};

class DovecotServer {
 public:
  static constexpr const char* kBinary = "/usr/sbin/dovecot";
  DovecotServer() = default;
  ~DovecotServer();
  DovecotServer(const DovecotServer&) = delete;
  DovecotServer& operator=(const DovecotServer&) = delete;

  // Fails (never skips) when Dovecot is missing: scripts/deps installs dovecot-core.
  absl::Status Start(const std::vector<DovecotUser>& users);
  absl::Status Stop();

  const std::string& dir() const { return dir_; }
  std::string unix_endpoint() const { return "unix:" + dir_ + "/auth-client"; }
  std::string inet_endpoint() const { return "inet:127.0.0.1:" + std::to_string(port_); }
  std::string log() const;  // dovecot.log and the master's stderr, for failure messages

 private:
  static constexpr int kPortAttempts = 5;
  // Writes dovecot.conf for port_, starts the master and waits until it listens.
  absl::Status Launch();

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace kensa::auth::testing

#endif  // KENSA_AUTH_DOVECOT_FIXTURE_TEST_H_
