// SPDX-License-Identifier: GPL-2.0-or-later
// One blocking connection to a Dovecot auth server ("unix:/path" or "inet:host:port"), with a
// deadline on every connect, write and read so a hung server costs a bounded wait. Used by one
// thread at a time (the backend's pool hands it out).
#ifndef KENSA_AUTH_DOVECOT_CONNECTION_H_
#define KENSA_AUTH_DOVECOT_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kensa::auth {

struct DovecotEndpoint {
  enum class Kind { kUnix, kInet };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kInet: name or literal, without brackets
  uint16_t port = 0;
  std::string ToString() const;  // back to "unix:/path" / "inet:host:port"
};

// "unix:/run/dovecot/auth-client", "inet:127.0.0.1:12345", "inet:[::1]:12345",
// "inet:auth.example.net:12345".
absl::StatusOr<DovecotEndpoint> ParseDovecotEndpoint(std::string_view text);

class DovecotConnection {
 public:
  // Connects and completes the handshake (the server must speak major version 1 and offer
  // PLAIN) before `deadline`.
  static absl::StatusOr<std::unique_ptr<DovecotConnection>> Open(const DovecotEndpoint& endpoint,
                                                                 absl::Time deadline,
                                                                 size_t max_line_bytes);
  ~DovecotConnection();
  DovecotConnection(const DovecotConnection&) = delete;
  DovecotConnection& operator=(const DovecotConnection&) = delete;

  absl::Status WriteAll(std::string_view data, absl::Time deadline);
  // One line without its LF. DeadlineExceeded on timeout, Unavailable on EOF or error.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);
  // An idle connection the server closed (restart, idle timeout) or that has unexpected bytes
  // waiting is not reused.
  bool Stale() const;
  uint32_t NextId() { return ++last_id_; }

 private:
  DovecotConnection(int fd, size_t max_line_bytes) : fd_(fd), max_line_bytes_(max_line_bytes) {}
  int fd_;
  size_t max_line_bytes_;
  std::string in_;
  uint32_t last_id_ = 0;
};

}  // namespace kensa::auth

#endif  // KENSA_AUTH_DOVECOT_CONNECTION_H_
