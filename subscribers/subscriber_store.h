// SPDX-License-Identifier: GPL-2.0-or-later
// SubscriberStore: who bought the virus-check option, in an LMDB environment shared by kensad
// (many reactor threads looking up recipients) and kensa-subscribers (another process that
// writes). Lookups take no lock and see what the other process committed on their next call.
#ifndef KENSA_SUBSCRIBERS_SUBSCRIBER_STORE_H_
#define KENSA_SUBSCRIBERS_SUBSCRIBER_STORE_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "subscribers/subscriber_csv.h"
#include "subscribers/subscriber_entry.h"

namespace kensa::subscribers {

// The LMDB environment and every thread's read transaction on it (subscriber_store.cc).
struct StoreState;

enum class OpenMode { kReadOnly, kReadWrite };

struct LookupResult {
  SubscriberEntry entry;
  // The key that matched: the address itself, the address without its plus tag, or "@domain".
  std::string matched_key;
};

// kMerge adds and updates the file's rows and keeps every other entry; kReplace makes the
// store exactly the file (a full provisioning run from a billing system).
enum class ImportMode { kMerge, kReplace };

struct ImportStats {
  uint64_t rows = 0;     // data rows in the file
  uint64_t added = 0;    // keys that were not in the store before
  uint64_t updated = 0;  // keys that were (kMerge)
  uint64_t removed = 0;  // entries dropped because the file lacks them (kReplace)
  uint64_t entries = 0;  // entries in the store afterwards
};

class SubscriberStore {
 public:
  // Like kensad's default (policy.subscriber_db_map_bytes): the map is address space, not
  // disk, and every process must map at least what the largest writer did.
  static constexpr uint64_t kDefaultMapBytes = 4ull << 30;

  // kReadWrite creates the directory and an empty store when they are missing; kReadOnly
  // fails with NotFound then. plus_separator '\0' turns plus addressing off.
  static absl::StatusOr<std::unique_ptr<SubscriberStore>> Open(
      const std::string& dir, OpenMode mode, uint64_t map_bytes = kDefaultMapBytes,
      char plus_separator = '+');
  ~SubscriberStore();
  SubscriberStore(const SubscriberStore&) = delete;
  SubscriberStore& operator=(const SubscriberStore&) = delete;

  // The exact (normalised) address, then without its plus tag, then "@domain". nullopt when
  // none matches, the address does not parse, or the store cannot be read (logged). Safe from
  // any number of threads at once; the store must outlive every thread's last call.
  std::optional<LookupResult> Lookup(std::string_view address) const;

  // Writers, each one committed transaction. Keys are normalised (addresses or "@domain").
  absl::Status Put(std::string_view key, const SubscriberEntry& entry);
  // NotFound when the key has no entry.
  absl::Status Remove(std::string_view key);
  // The entry stored under exactly this key (no plus or domain fallback); NotFound if none.
  absl::StatusOr<SubscriberEntry> Get(std::string_view key) const;
  // In key order; fn returns false to stop early.
  absl::Status ForEach(
      const std::function<bool(std::string_view key, const SubscriberEntry& entry)>& fn) const;
  absl::StatusOr<uint64_t> Count() const;

  // CSV "address,inbound,outbound,action" (header required, any case; action optional), in one
  // write transaction: a bad line fails the whole file, naming its line, and nothing is
  // committed. stats may be null.
  // With kReplace, keys for which keep_local answers true are the store's own: they keep
  // their entries (made with kensa-subscribers or the shell) and the file's rows for them are
  // ignored (provisioning's keep_local_domains); a file without a data row is refused then.
  absl::Status ImportCsv(std::istream& in, ImportStats* stats,
                         ImportMode mode = ImportMode::kMerge,
                         const std::function<bool(std::string_view key)>& keep_local = nullptr);
  // The same format, header first, in key order: export then import gives the same store.
  absl::Status ExportCsv(std::ostream& out) const;

  const std::string& dir() const { return dir_; }
  uint64_t map_bytes() const;

 private:
  SubscriberStore(std::string dir, std::shared_ptr<StoreState> state, char plus_separator);
  absl::Status ReplaceKeepingLocal(const std::vector<CsvRow>& rows,
                                   const std::function<bool(std::string_view)>& keep_local,
                                   ImportStats* stats);

  const std::string dir_;
  const std::shared_ptr<StoreState> state_;
  const char plus_separator_;
};

}  // namespace kensa::subscribers

#endif  // KENSA_SUBSCRIBERS_SUBSCRIBER_STORE_H_
