// SPDX-License-Identifier: GPL-2.0-or-later
// The one interface the SMTP session checks AUTH credentials through, whatever stores them
// (a crypt(3) file, a Dovecot auth server). Calls block and come from several worker threads
// at once, never from a reactor. Passwords never leave Verify(): not in `reason`, not in logs.
#ifndef KENSA_AUTH_AUTH_BACKEND_H_
#define KENSA_AUTH_AUTH_BACKEND_H_

#include <string>
#include <string_view>
#include <vector>

namespace kensa::auth {

struct AuthRequest {
  std::string authzid;         // PLAIN authorization identity, usually empty
  std::string user;            // authentication identity as the client sent it
  std::string password;
  std::string client_address;  // "192.0.2.1" / "::1", for the backend and for logs
  std::string local_address;   // the listener's address, may be empty
  bool secured = false;        // the session is inside TLS
};

struct AuthOutcome {
  enum class Kind { kOk, kFailed, kTempFail };
  Kind kind = Kind::kFailed;
  std::string user;                    // canonical user name on kOk (backend may rewrite it)
  std::vector<std::string> addresses;  // envelope senders this user owns (lowercased), may be empty
  std::string reason;                  // for the log; never contains the password
};

class AuthBackend {
 public:
  virtual ~AuthBackend() = default;
  virtual AuthOutcome Verify(const AuthRequest& request) = 0;  // blocking, thread-safe
  virtual std::string Describe() const = 0;  // "file:/etc/kensa/passwd", "dovecot:unix:/run/dovecot/auth-client"
};

// Shared by the backends, so "who is the same user" has one answer everywhere.

// An email address (it has an '@') is compared case-insensitively, so it is lowercased; any
// other user name is kept as it is (system-style names can be case-sensitive).
std::string NormalizeUserName(std::string_view user);

// True when `user` looks like an address the user may send from (local@domain).
bool IsEmailAddress(std::string_view user);

// Backends that do not implement proxy authorization accept only an empty authzid or one that
// names the authenticating user itself (RFC 4616 allows the client to repeat it).
bool AuthzidAllowed(std::string_view authzid, std::string_view user);

AuthOutcome Failed(std::string reason);
AuthOutcome TempFailed(std::string reason);

}  // namespace kensa::auth

#endif  // KENSA_AUTH_AUTH_BACKEND_H_
