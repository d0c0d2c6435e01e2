// SPDX-License-Identifier: GPL-2.0-or-later
// crypt(3) hash checks through libxcrypt's reentrant calls, shared by the passwd-file backend
// and its tests: which schemes are acceptable, and a constant-time match.
#ifndef KENSA_AUTH_CRYPT_HASH_H_
#define KENSA_AUTH_CRYPT_HASH_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::auth {

// A complete yescrypt, SHA-512-crypt, SHA-256-crypt or bcrypt ($2b$) hash, and only when the
// installed libcrypt rates the setting current: Debian 12's libxcrypt rates $5$ legacy, so
// there it is refused.
bool IsAcceptedCryptHash(const std::string& hash);

// crypt_rn(password, hash) compared to hash in constant time. False also when libcrypt
// refuses the setting or the password holds a NUL (crypt(3) would silently truncate it).
bool CryptMatches(std::string_view password, const std::string& hash);

// A fresh hash of `password` with a random salt for `prefix` ("$y$", "$6$", ...) at the
// scheme's default cost. For the timing dummy and for tests.
absl::StatusOr<std::string> CryptHash(std::string_view password, const std::string& prefix);

}  // namespace kensa::auth

#endif  // KENSA_AUTH_CRYPT_HASH_H_
