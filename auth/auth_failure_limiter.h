// SPDX-License-Identifier: GPL-2.0-or-later
// Process-wide brake on password guessing. Checks are counted per client address, per user
// name and per (address, user) pair, from the moment a check starts: parallel sessions cannot
// all pass the limit before the first answer comes back.
//
// Two rules decide whether the backend is asked at all:
//  - an address with max_failures checks in the window gets no more (whatever the user);
//  - a user with max_failures checks in the window gets no more from an address that has
//    already tried that user in the window. An address that has not tried the user is let
//    through, so guessing from many addresses cannot lock the owner out from a clean one;
//    each such address gets at most one guess before the pair rule stops it.
// Each failed answer is delayed more the more checks the address has had.
// AUTH is not the per-message data path, so one small lock shared by every reactor is the
// simple, exact answer (like ConnectionLimiter).
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
#include "auth/auth_backend.h"

namespace kensa::auth {

struct AuthFailureLimiterOptions {
  size_t max_failures = 10;  // per address, and per user from an address that tried it
  absl::Duration window = absl::Minutes(10);  // a key is forgotten this long after its last check
  absl::Duration base_delay = absl::Seconds(1);
  absl::Duration max_delay = absl::Seconds(30);
  size_t max_tracked_keys = 100000;  // address, user and pair keys together; the oldest goes
  size_t max_key_bytes = 320;        // longer user names are counted by their prefix
};

class AuthFailureLimiter {
 public:
  using Clock = std::function<absl::Time()>;
  explicit AuthFailureLimiter(AuthFailureLimiterOptions options = {}, Clock clock = &absl::Now);

  enum class Refusal { kNone, kClient, kUser };

  // One credential check, reserved in the limiter from Begin() until Finish(). Move-only; an
  // admitted attempt destroyed unfinished is released like a temporary failure, so a dropped
  // job never holds a reservation. Finish() may run on any thread.
  class Attempt {
   public:
    Attempt() = default;
    Attempt(Attempt&& other) noexcept;
    Attempt& operator=(Attempt&& other) noexcept;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();

    bool admitted() const { return limiter_ != nullptr; }
    Refusal refusal() const { return refusal_; }
    // kFailed confirms the reservation as a failure; kOk releases it and forgives the
    // failures this address had for this user (the owner's own typing errors); kTempFail
    // releases it (the backend said nothing about the password).
    void Finish(AuthOutcome::Kind outcome);

   private:
    friend class AuthFailureLimiter;
    AuthFailureLimiter* limiter_ = nullptr;
    std::string client_key_, user_key_, pair_key_;
    Refusal refusal_ = Refusal::kNone;
  };

  // The caller's sequence for one AUTH: Begin(); if not admitted(), answer 454 4.7.0 without
  // asking the backend; otherwise verify, Finish() with the outcome, and delay a failed
  // answer by FailureDelay().
  Attempt Begin(std::string_view client, std::string_view user);
  // base_delay * 2^(n-1), capped at max_delay, where n is the address's checks in the window
  // (at least 1: a failure always costs base_delay). The user's count does not enter: it
  // would slow the owner for other addresses' guesses.
  absl::Duration FailureDelay(std::string_view client);

  size_t tracked_keys() const;
  const AuthFailureLimiterOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string key;
    size_t failures = 0;  // confirmed in the window
    size_t pending = 0;   // checks begun, not yet finished
    absl::Time last;      // last check begun or failed
  };
  using Lru = std::list<Entry>;  // oldest `last` first

  std::string ClientKey(std::string_view client) const;
  std::string UserKey(std::string_view user) const;
  void Finish(Attempt& attempt, AuthOutcome::Kind outcome);
  // Drops expired entries from the front; caller holds mu_.
  void ExpireLocked(absl::Time now);
  size_t CountLocked(const std::string& key) const;  // failures + pending
  Entry* FindLocked(const std::string& key);
  // The entry for key, created if needed, moved to the back with `last` = now.
  Entry* TouchLocked(const std::string& key, absl::Time now);
  void EraseIfIdleLocked(const std::string& key);

  const AuthFailureLimiterOptions options_;
  const Clock clock_;
  mutable std::mutex mu_;
  Lru lru_;
  absl::flat_hash_map<std::string, Lru::iterator> index_;
};

}  // namespace kensa::auth

#endif  // KENSA_AUTH_AUTH_FAILURE_LIMITER_H_
