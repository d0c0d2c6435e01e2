// SPDX-License-Identifier: GPL-2.0-or-later
// AuthFailureLimiter: one LRU list ordered by last failure serves both expiry (the front is
// the oldest) and the memory cap (evict the front), so every operation is O(1) amortized.
#include "auth/auth_failure_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/auth_backend.h"

namespace kensa::auth {

AuthFailureLimiter::AuthFailureLimiter(AuthFailureLimiterOptions options, Clock clock)
    : options_(std::move(options)), clock_(std::move(clock)) {}

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

void AuthFailureLimiter::ExpireLocked(absl::Time now) {
  while (!lru_.empty() && now - lru_.front().last_failure >= options_.window) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
}

size_t AuthFailureLimiter::CountLocked(const std::string& key) const {
  if (key.empty()) return 0;
  auto it = index_.find(key);
  return it == index_.end() ? 0 : it->second->failures;
}

void AuthFailureLimiter::BumpLocked(const std::string& key, absl::Time now) {
  if (key.empty()) return;
  auto it = index_.find(key);
  if (it != index_.end()) {
    Lru::iterator e = it->second;
    ++e->failures;
    e->last_failure = std::max(e->last_failure, now);
    lru_.splice(lru_.end(), lru_, e);  // keeps iterators valid
    return;
  }
  if (options_.max_tracked_keys == 0) return;
  while (lru_.size() >= options_.max_tracked_keys) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
  lru_.push_back(Entry{key, 1, now});
  index_.emplace(key, std::prev(lru_.end()));
}

void AuthFailureLimiter::EraseLocked(const std::string& key) {
  if (key.empty()) return;
  auto it = index_.find(key);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

bool AuthFailureLimiter::Blocked(std::string_view client, std::string_view user) {
  std::string ck = ClientKey(client), uk = UserKey(user);
  absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  return CountLocked(ck) >= options_.max_failures || CountLocked(uk) >= options_.max_failures;
}

absl::Duration AuthFailureLimiter::FailureDelay(std::string_view client, std::string_view user) {
  std::string ck = ClientKey(client), uk = UserKey(user);
  absl::Time now = clock_();
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExpireLocked(now);
    n = std::max<size_t>({CountLocked(ck), CountLocked(uk), 1});
  }
  absl::Duration delay = options_.base_delay;
  for (size_t i = 1; i < n && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

void AuthFailureLimiter::RecordFailure(std::string_view client, std::string_view user) {
  std::string ck = ClientKey(client), uk = UserKey(user);
  absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  BumpLocked(ck, now);
  BumpLocked(uk, now);
}

void AuthFailureLimiter::RecordSuccess(std::string_view client, std::string_view user) {
  std::string ck = ClientKey(client), uk = UserKey(user);
  std::lock_guard<std::mutex> lock(mu_);
  EraseLocked(ck);
  EraseLocked(uk);
}

size_t AuthFailureLimiter::tracked_keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace kensa::auth
