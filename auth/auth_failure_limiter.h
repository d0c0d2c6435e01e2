// SPDX-License-Identifier: GPL-2.0-or-later
// Process-wide brake on password guessing: failures are counted per client address and per
// user name (separately, so neither rotating addresses nor rotating user names escapes), each
// failed answer is delayed more the more failures a key has, and a key with too many failures
// is refused before the backend is asked. AUTH is not the per-message data path, so one small
// lock shared by every reactor is the simple, exact answer (like ConnectionLimiter).
#ifndef KENSA_AUTH_AUTH_FAILURE_LIMITER_H_
#define KENSA_AUTH_AUTH_FAILURE_LIMITER_H_

#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kensa::auth {

struct AuthFailureLimiterOptions {
  size_t max_failures = 10;          // per key; at this count the key is blocked
  absl::Duration window = absl::Minutes(10);  // a key is forgotten this long after its last failure
  absl::Duration base_delay = absl::Seconds(1);
  absl::Duration max_delay = absl::Seconds(30);
  size_t max_tracked_keys = 100000;  // client and user keys together; the oldest is evicted
  size_t max_key_bytes = 320;        // longer user names are counted by their prefix
};

class AuthFailureLimiter {
 public:
  using Clock = std::function<absl::Time()>;
  explicit AuthFailureLimiter(AuthFailureLimiterOptions options = {}, Clock clock = &absl::Now);

  // The caller's sequence for one AUTH: if Blocked(), answer 454 4.7.0 without asking the
  // backend; otherwise verify, then RecordSuccess() or RecordFailure() followed by a wait of
  // FailureDelay() before the 535.
  bool Blocked(std::string_view client, std::string_view user);
  // base_delay * 2^(n-1), capped at max_delay, where n is the larger of the two keys' failure
  // counts (at least 1: a failure always costs base_delay).
  absl::Duration FailureDelay(std::string_view client, std::string_view user);
  void RecordFailure(std::string_view client, std::string_view user);
  // Clears both keys: the user proved the password, and the client is that user's.
  void RecordSuccess(std::string_view client, std::string_view user);

  size_t tracked_keys() const;
  const AuthFailureLimiterOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string key;
    size_t failures = 0;
    absl::Time last_failure;
  };
  using Lru = std::list<Entry>;  // oldest last_failure first

  std::string ClientKey(std::string_view client) const;
  std::string UserKey(std::string_view user) const;
  // Drops expired entries from the front; caller holds mu_.
  void ExpireLocked(absl::Time now);
  size_t CountLocked(const std::string& key) const;
  void BumpLocked(const std::string& key, absl::Time now);
  void EraseLocked(const std::string& key);

  const AuthFailureLimiterOptions options_;
  const Clock clock_;
  mutable std::mutex mu_;
  Lru lru_;
  absl::flat_hash_map<std::string, Lru::iterator> index_;
};

}  // namespace kensa::auth

#endif  // KENSA_AUTH_AUTH_FAILURE_LIMITER_H_
