// SPDX-License-Identifier: GPL-2.0-or-later
// AuthFailureLimiter: one LRU list ordered by last check serves both expiry (the front is the
// oldest) and the memory cap (evict the front), so every operation is O(1) amortized. A count
// is failures plus checks in flight; an entry with neither is erased.
#include "auth/auth_failure_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kensa::auth {

AuthFailureLimiter::AuthFailureLimiter(AuthFailureLimiterOptions options, Clock clock)
    : options_(std::move(options)), clock_(std::move(clock)) {}

// --- Attempt --------------------------------------------------------------------------------

AuthFailureLimiter::Attempt::Attempt(Attempt&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)),
      client_key_(std::move(other.client_key_)),
      user_key_(std::move(other.user_key_)),
      pair_key_(std::move(other.pair_key_)),
      refusal_(other.refusal_) {}

AuthFailureLimiter::Attempt& AuthFailureLimiter::Attempt::operator=(Attempt&& other) noexcept {
  if (this != &other) {
    if (limiter_ != nullptr) limiter_->Finish(*this, AuthOutcome::Kind::kTempFail);
    limiter_ = std::exchange(other.limiter_, nullptr);
    client_key_ = std::move(other.client_key_);
    user_key_ = std::move(other.user_key_);
    pair_key_ = std::move(other.pair_key_);
    refusal_ = other.refusal_;
  }
  return *this;
}

AuthFailureLimiter::Attempt::~Attempt() {
  if (limiter_ != nullptr) limiter_->Finish(*this, AuthOutcome::Kind::kTempFail);
}

void AuthFailureLimiter::Attempt::Finish(AuthOutcome::Kind outcome) {
  if (limiter_ != nullptr) limiter_->Finish(*this, outcome);
}

// --- keys -----------------------------------------------------------------------------------

std::string AuthFailureLimiter::ClientKey(std::string_view client) const {
  if (client.empty()) return {};
  client = client.substr(0, options_.max_key_bytes);
  return absl::StrCat("c:", absl::string_view(client.data(), client.size()));
}

std::string AuthFailureLimiter::UserKey(std::string_view user) const {
  if (user.empty()) return {};
  std::string normalized = NormalizeUserName(user);
  // The key space an attacker controls is bounded by max_tracked_keys; the prefix cut bounds
  // the bytes per key.
  if (normalized.size() > options_.max_key_bytes) normalized.resize(options_.max_key_bytes);
  return absl::StrCat("u:", normalized);
}

// --- the table ------------------------------------------------------------------------------

void AuthFailureLimiter::ExpireLocked(absl::Time now) {
  while (!lru_.empty() && now - lru_.front().last >= options_.window) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
}

AuthFailureLimiter::Entry* AuthFailureLimiter::FindLocked(const std::string& key) {
  if (key.empty()) return nullptr;
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &*it->second;
}

size_t AuthFailureLimiter::CountLocked(const std::string& key) const {
  if (key.empty()) return 0;
  auto it = index_.find(key);
  return it == index_.end() ? 0 : it->second->failures + it->second->pending;
}

AuthFailureLimiter::Entry* AuthFailureLimiter::TouchLocked(const std::string& key,
                                                           absl::Time now) {
  if (key.empty()) return nullptr;
  auto it = index_.find(key);
  if (it != index_.end()) {
    Lru::iterator e = it->second;
    e->last = std::max(e->last, now);
    lru_.splice(lru_.end(), lru_, e);  // keeps iterators valid
    return &*e;
  }
  if (options_.max_tracked_keys == 0) return nullptr;
  while (lru_.size() >= options_.max_tracked_keys) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
  lru_.push_back(Entry{key, 0, 0, now});
  index_.emplace(key, std::prev(lru_.end()));
  return &lru_.back();
}

void AuthFailureLimiter::EraseIfIdleLocked(const std::string& key) {
  if (key.empty()) return;
  auto it = index_.find(key);
  if (it == index_.end() || it->second->failures > 0 || it->second->pending > 0) return;
  lru_.erase(it->second);
  index_.erase(it);
}

// --- the rules ------------------------------------------------------------------------------

AuthFailureLimiter::Attempt AuthFailureLimiter::Begin(std::string_view client,
                                                      std::string_view user) {
  Attempt a;
  a.client_key_ = ClientKey(client);
  a.user_key_ = UserKey(user);
  // The pair key names the client key, so both share the cut to max_key_bytes.
  if (!a.client_key_.empty() && !a.user_key_.empty()) {
    a.pair_key_ = absl::StrCat("p:", a.client_key_.substr(2), "\n", a.user_key_.substr(2));
  }
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  if (CountLocked(a.client_key_) >= options_.max_failures) {
    a.refusal_ = Refusal::kClient;
    return a;
  }
  // An address that has not tried this user is clean for it: the user's count, which any
  // address can raise, does not refuse it. A client with no address is never clean.
  const bool clean = !a.pair_key_.empty() && CountLocked(a.pair_key_) == 0;
  if (!clean && CountLocked(a.user_key_) >= options_.max_failures) {
    a.refusal_ = Refusal::kUser;
    return a;
  }
  for (const std::string* key : {&a.client_key_, &a.user_key_, &a.pair_key_}) {
    if (Entry* e = TouchLocked(*key, now)) ++e->pending;
  }
  a.limiter_ = this;
  return a;
}

void AuthFailureLimiter::Finish(Attempt& attempt, AuthOutcome::Kind outcome) {
  attempt.limiter_ = nullptr;
  const absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  // An entry may have been expired or evicted while the check ran: counts saturate at 0, and
  // a failure re-creates it.
  const std::string* keys[] = {&attempt.client_key_, &attempt.user_key_, &attempt.pair_key_};
  if (outcome == AuthOutcome::Kind::kFailed) {
    for (const std::string* key : keys) {
      if (Entry* e = TouchLocked(*key, now)) {
        if (e->pending > 0) --e->pending;
        ++e->failures;
      }
    }
    return;
  }
  size_t forgiven = 0;
  if (outcome == AuthOutcome::Kind::kOk) {
    if (Entry* p = FindLocked(attempt.pair_key_)) forgiven = std::exchange(p->failures, 0);
  }
  for (const std::string* key : keys) {
    if (Entry* e = FindLocked(*key)) {
      if (e->pending > 0) --e->pending;
      e->failures -= std::min(e->failures, forgiven);
    }
    EraseIfIdleLocked(*key);
  }
}

absl::Duration AuthFailureLimiter::FailureDelay(std::string_view client) {
  const std::string ck = ClientKey(client);
  const absl::Time now = clock_();
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExpireLocked(now);
    n = std::max<size_t>(CountLocked(ck), 1);
  }
  absl::Duration delay = options_.base_delay;
  for (size_t i = 1; i < n && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

size_t AuthFailureLimiter::tracked_keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace kensa::auth
