// SPDX-License-Identifier: GPL-2.0-or-later
// VerdictCache: an LRU list of (key, result) with a hash index into it. The key is the 32
// digest bytes followed by the signature version, so a verdict from an older signature set is
// never returned for a newer one; those entries simply age out.
#include "scan/verdict_cache.h"

#include <utility>

namespace kensa::scan {
namespace {

std::string CacheKey(const Sha256& digest, const std::string& version) {
  std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
  key += version;
  return key;
}

}  // namespace

std::optional<ScanResult> VerdictCache::Find(const Sha256& digest, const std::string& version) {
  auto it = index_.find(CacheKey(digest, version));
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->result;
}

void VerdictCache::Insert(const Sha256& digest, const std::string& version,
                          const ScanResult& result) {
  if (max_entries_ == 0) return;
  std::string key = CacheKey(digest, version);
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->result = result;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (index_.size() >= max_entries_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, result});
  index_.emplace(std::move(key), lru_.begin());
}

}  // namespace kensa::scan
