// SPDX-License-Identifier: GPL-2.0-or-later
// Pop3VerdictCache: what a retrieval's scan decided, by (mailbox, UIDL, signature version,
// command), so a message fetched again is not scanned again: the copy is rebuilt from the
// bytes the backend sends and the cached edits. One per reactor, touched only by it; the
// least recently used entry goes when it is full.
#ifndef KENSA_SERVER_POP3_VERDICT_CACHE_H_
#define KENSA_SERVER_POP3_VERDICT_CACHE_H_

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "spool/queue_file.h"

namespace kensa {

struct CachedRetrieval {
  uint64_t size = 0;      // of the message as the backend sent it (a mismatch is a miss)
  std::string result;     // clean | infected | unscannable
  std::string viruses;    // for the log line
  std::string headers;    // X-Virus-* fields to prepend
  std::vector<spool::ContentEdit> edits;
};

class Pop3VerdictCache {
 public:
  explicit Pop3VerdictCache(size_t max_entries) : max_entries_(max_entries) {}

  // "RETR 7" and "TOP 7 10" differ in content, not in message: the key keeps the command's
  // kind and line count and drops the message number (the UIDL names the message).
  static std::string Key(std::string_view user, std::string_view uid,
                         std::string_view signature_version, std::string_view command);

  // Null when absent; a hit becomes the most recently used.
  const CachedRetrieval* Find(const std::string& key);
  void Put(std::string key, CachedRetrieval value);
  size_t size() const { return index_.size(); }

 private:
  using Lru = std::list<std::pair<std::string, CachedRetrieval>>;  // most recent first
  size_t max_entries_;
  Lru lru_;
  absl::flat_hash_map<std::string, Lru::iterator> index_;
};

}  // namespace kensa

#endif  // KENSA_SERVER_POP3_VERDICT_CACHE_H_
