// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/pop3_verdict_cache.h"

namespace kensa {

std::string Pop3VerdictCache::Key(std::string_view user, std::string_view uid,
                                  std::string_view signature_version, std::string_view command) {
  // "TOP 7 10" -> "TOP 10"; "RETR 7" -> "RETR".
  std::string kind(command.substr(0, command.find(' ')));
  if (kind == "TOP") {
    const size_t last = command.rfind(' ');
    if (last != std::string_view::npos) kind.append(" ").append(command.substr(last + 1));
  }
  std::string key;
  key.reserve(user.size() + uid.size() + signature_version.size() + kind.size() + 3);
  key.append(user).push_back('\n');
  key.append(uid).push_back('\n');
  key.append(signature_version).push_back('\n');
  key.append(kind);
  return key;
}

const CachedRetrieval* Pop3VerdictCache::Find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->second;
}

void Pop3VerdictCache::Put(std::string key, CachedRetrieval value) {
  if (max_entries_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->second = std::move(value);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (index_.size() >= max_entries_ && !lru_.empty()) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  lru_.emplace_front(std::move(key), std::move(value));
  index_[lru_.front().first] = lru_.begin();
}

}  // namespace kensa
