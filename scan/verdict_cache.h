// SPDX-License-Identifier: GPL-2.0-or-later
// VerdictCache: scan results keyed by (SHA-256 of the decoded part, signature version), so a
// newsletter to 100,000 subscribers is scanned once. One per scan worker (no locks); bounded
// by entry count, least recently used out first.
#ifndef KENSA_SCAN_VERDICT_CACHE_H_
#define KENSA_SCAN_VERDICT_CACHE_H_

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "scan/clam_engine.h"

namespace kensa::scan {

using Sha256 = std::array<uint8_t, 32>;

class VerdictCache {
 public:
  explicit VerdictCache(size_t max_entries) : max_entries_(max_entries) {}
  std::optional<ScanResult> Find(const Sha256& digest, const std::string& version);
  void Insert(const Sha256& digest, const std::string& version, const ScanResult& result);
  size_t size() const { return index_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string key;
    ScanResult result;
  };
  size_t max_entries_;
  std::list<Entry> lru_;  // front = most recent
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_VERDICT_CACHE_H_
