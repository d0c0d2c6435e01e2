// SPDX-License-Identifier: GPL-2.0-or-later
// The LMDB subscriber store: opening the environment, lock-free lookups through one read
// transaction per thread, and the writers (single entries and all-or-nothing CSV imports).
#include "subscribers/subscriber_store.h"

#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "subscribers/subscriber_csv.h"

namespace kensa::subscribers {
namespace {

// kensad's reactors, its control threads and the admin tools each hold one reader slot per
// thread that ever looked something up; the lock file costs 64 bytes a slot.
constexpr unsigned kMaxReaders = 1024;

std::atomic<uint64_t> next_store_id{1};

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

absl::Status MdbError(std::string_view what, int rc, uint64_t map_bytes = 0) {
  std::string text = absl::StrCat(std::string(what), ": ", mdb_strerror(rc));
  switch (rc) {
    case MDB_MAP_FULL:
      return absl::ResourceExhaustedError(absl::StrCat(
          text, " (the map of ", map_bytes,
          " bytes is full: raise policy.subscriber_db_map_bytes for every program that opens "
          "the store)"));
    case ENOENT:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    case MDB_MAP_RESIZED:
      return absl::FailedPreconditionError(
          absl::StrCat(text,
                       " (another program grew the store past this one's map: restart it, or give "
                       "both the same policy.subscriber_db_map_bytes)"));
    default:
      return absl::InternalError(text);
  }
}

}  // namespace

// Every thread that looks up keeps its own read-only transaction, reset between lookups
// (MDB_NOTLS ties the reader slot to the transaction, not to the thread). The store keeps a
// list of them so that closing it aborts them before the environment goes; a thread that
// exits first aborts its own.
struct StoreState {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  bool read_only = false;
  const uint64_t id = next_store_id.fetch_add(1);

  std::mutex mu;  // guards readers and closed: first lookup of a thread, thread exit, close
  std::vector<MDB_txn*> readers;
  bool closed = false;

  // At most one error line a second, so a broken store cannot flood the log from the data
  // path; the line says how many were left out.
  std::atomic<int64_t> last_error_log_ms{INT64_MIN / 2};
  std::atomic<uint64_t> errors_not_logged{0};

  ~StoreState() {
    if (env != nullptr) mdb_env_close(env);
  }

  uint64_t map_bytes() const {
    MDB_envinfo info;
    return mdb_env_info(env, &info) == 0 ? info.me_mapsize : 0;
  }

  void LogReadError(const std::string& dir, std::string_view what, std::string_view error) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_error_log_ms.load(std::memory_order_relaxed);
    if (now - last < 1000 ||
        !last_error_log_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      errors_not_logged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    KLOG(kError, "subscriber_lookup_failed")
        .Kv("db", dir)
        .Kv("what", what)
        .Kv("error", error)
        .Kv("not_logged", errors_not_logged.exchange(0, std::memory_order_relaxed));
  }
};

namespace {

struct ThreadReader {
  uint64_t store_id;
  MDB_txn* txn;
  std::weak_ptr<StoreState> owner;
};

// This thread's read transactions, one per store it has looked up in.
struct ThreadReaders {
  std::vector<ThreadReader> list;

  ~ThreadReaders() {
    for (ThreadReader& r : list) Release(r);
  }
  static void Release(ThreadReader& r) {
    std::shared_ptr<StoreState> s = r.owner.lock();
    if (!s) return;  // the store closed and aborted it
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->closed) return;
    auto it = std::find(s->readers.begin(), s->readers.end(), r.txn);
    if (it != s->readers.end()) {
      s->readers.erase(it);
      mdb_txn_abort(r.txn);
    }
  }
};

thread_local ThreadReaders thread_readers;
// Keys of the lookup in progress, reused so a lookup allocates only for its answer.
thread_local std::string lookup_key;
thread_local std::string lookup_alt;

// This thread's transaction on the store, renewed (a fresh snapshot: whatever was committed
// last); nullptr on error (logged). The caller resets it.
MDB_txn* RenewedReader(const std::shared_ptr<StoreState>& state, const std::string& dir) {
  StoreState& s = *state;
  for (ThreadReader& r : thread_readers.list) {
    if (r.store_id != s.id) continue;
    const int rc = mdb_txn_renew(r.txn);
    if (rc != 0) {
      s.LogReadError(dir, "txn_renew", mdb_strerror(rc));
      return nullptr;
    }
    return r.txn;
  }
  // First lookup of this thread in this store: forget the transactions of closed stores.
  std::erase_if(thread_readers.list, [](const ThreadReader& r) { return r.owner.expired(); });
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(s.env, nullptr, MDB_RDONLY, &txn); rc != 0) {
    s.LogReadError(dir, "txn_begin", mdb_strerror(rc));
    return nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.readers.push_back(txn);
  }
  thread_readers.list.push_back(ThreadReader{s.id, txn, state});
  return txn;
}

enum class Found { kYes, kNo, kError };

Found FindIn(StoreState& s, const std::string& dir, MDB_txn* txn, std::string_view key,
             SubscriberEntry* entry) {
  MDB_val k = Val(key), v;
  const int rc = mdb_get(txn, s.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return Found::kNo;
  if (rc != 0) {
    s.LogReadError(dir, "get", mdb_strerror(rc));
    return Found::kError;
  }
  absl::StatusOr<SubscriberEntry> e = DecodeEntry(View(v));
  if (!e.ok()) {
    s.LogReadError(dir, "decode", absl::StrCat(std::string(key), ": ", e.status().message()));
    return Found::kError;
  }
  *entry = *e;
  return Found::kYes;
}

// A read transaction for the administrative readers (ForEach, Count, Get), aborted on scope
// exit; separate from the lookup transactions.
class ReadTxn {
 public:
  explicit ReadTxn(MDB_env* env) { rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_); }
  ~ReadTxn() {
    if (rc_ == 0) mdb_txn_abort(txn_);
  }
  int rc() const { return rc_; }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
  int rc_;
};

absl::StatusOr<uint64_t> Entries(MDB_txn* txn, MDB_dbi dbi) {
  MDB_stat st;
  if (int rc = mdb_stat(txn, dbi, &st); rc != 0) return MdbError("stat", rc);
  return static_cast<uint64_t>(st.ms_entries);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SubscriberStore>> SubscriberStore::Open(const std::string& dir,
                                                                       OpenMode mode,
                                                                       uint64_t map_bytes,
                                                                       char plus_separator) {
  std::error_code ec;
  if (mode == OpenMode::kReadWrite) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  } else if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec)) {
    return absl::NotFoundError(
        absl::StrCat("no subscriber store in ", dir, " (kensad or kensa-subscribers makes it)"));
  }
  auto state = std::make_shared<StoreState>();
  state->read_only = mode == OpenMode::kReadOnly;
  if (int rc = mdb_env_create(&state->env); rc != 0) {
    state->env = nullptr;
    return MdbError("mdb_env_create", rc);
  }
  if (int rc = mdb_env_set_maxreaders(state->env, kMaxReaders); rc != 0) {
    return MdbError("mdb_env_set_maxreaders", rc);
  }
  if (int rc = mdb_env_set_mapsize(state->env, map_bytes); rc != 0) {
    return MdbError(absl::StrCat("map size ", map_bytes), rc);
  }
  const unsigned flags = MDB_NOTLS | (state->read_only ? MDB_RDONLY : 0);
  if (int rc = mdb_env_open(state->env, dir.c_str(), flags, 0660); rc != 0) {
    return MdbError(absl::StrCat("open subscriber store ", dir), rc);
  }
  // Reader slots of a kensad that crashed would pin old pages and let the file grow.
  int dead = 0;
  mdb_reader_check(state->env, &dead);
  {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(state->env, nullptr, state->read_only ? MDB_RDONLY : 0, &txn);
        rc != 0) {
      return MdbError(absl::StrCat("open subscriber store ", dir), rc);
    }
    if (int rc = mdb_dbi_open(txn, nullptr, 0, &state->dbi); rc != 0) {
      mdb_txn_abort(txn);
      return MdbError(absl::StrCat("open subscriber store ", dir), rc);
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) {
      return MdbError(absl::StrCat("open subscriber store ", dir), rc);
    }
  }
  return std::unique_ptr<SubscriberStore>(
      new SubscriberStore(dir, std::move(state), plus_separator));
}

SubscriberStore::SubscriberStore(std::string dir, std::shared_ptr<StoreState> state,
                                 char plus_separator)
    : dir_(std::move(dir)), state_(std::move(state)), plus_separator_(plus_separator) {}

SubscriberStore::~SubscriberStore() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->closed = true;
  for (MDB_txn* txn : state_->readers) mdb_txn_abort(txn);
  state_->readers.clear();
}

uint64_t SubscriberStore::map_bytes() const { return state_->map_bytes(); }

std::optional<LookupResult> SubscriberStore::Lookup(std::string_view address) const {
  std::string& key = lookup_key;
  std::string& alt = lookup_alt;
  if (!NormalizeAddressTo(address, &key).ok()) return std::nullopt;
  StoreState& s = *state_;
  MDB_txn* txn = RenewedReader(state_, dir_);
  if (txn == nullptr) return std::nullopt;
  std::optional<LookupResult> result;
  SubscriberEntry entry;
  Found f = FindIn(s, dir_, txn, key, &entry);
  const std::string* matched = &key;
  if (f == Found::kNo && StripPlusTag(key, plus_separator_, &alt)) {
    f = FindIn(s, dir_, txn, alt, &entry);
    matched = &alt;
  }
  if (f == Found::kNo && !IsDomainKey(key)) {
    alt.assign(key, key.rfind('@'));
    f = FindIn(s, dir_, txn, alt, &entry);
    matched = &alt;
  }
  mdb_txn_reset(txn);
  if (f == Found::kYes) result = LookupResult{entry, *matched};
  return result;
}

absl::StatusOr<SubscriberEntry> SubscriberStore::Get(std::string_view key) const {
  absl::StatusOr<std::string> k = NormalizeAddress(key);
  if (!k.ok()) return k.status();
  ReadTxn txn(state_->env);
  if (txn.rc() != 0) return MdbError("read", txn.rc());
  MDB_val kv = Val(*k), v;
  const int rc = mdb_get(txn.get(), state_->dbi, &kv, &v);
  if (rc == MDB_NOTFOUND) return absl::NotFoundError(absl::StrCat(*k, ": no entry"));
  if (rc != 0) return MdbError(absl::StrCat("get ", *k), rc);
  absl::StatusOr<SubscriberEntry> e = DecodeEntry(View(v));
  if (!e.ok()) return absl::DataLossError(absl::StrCat(*k, ": ", e.status().message()));
  return e;
}

namespace {

// One write transaction: committed when fn succeeds, aborted otherwise.
template <typename Fn>
absl::Status InWriteTxn(StoreState& s, Fn fn) {
  if (s.read_only) return absl::FailedPreconditionError("the subscriber store is open read-only");
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(s.env, nullptr, 0, &txn); rc != 0) {
    return MdbError("begin write", rc, s.map_bytes());
  }
  absl::Status st = fn(txn);
  if (!st.ok()) {
    mdb_txn_abort(txn);
    return st;
  }
  if (int rc = mdb_txn_commit(txn); rc != 0) return MdbError("commit", rc, s.map_bytes());
  return absl::OkStatus();
}

}  // namespace

absl::Status SubscriberStore::Put(std::string_view key, const SubscriberEntry& entry) {
  absl::StatusOr<std::string> k = NormalizeAddress(key);
  if (!k.ok()) return k.status();
  const std::string value = EncodeEntry(entry);
  StoreState& s = *state_;
  return InWriteTxn(s, [&](MDB_txn* txn) -> absl::Status {
    MDB_val kv = Val(*k), v = Val(value);
    if (int rc = mdb_put(txn, s.dbi, &kv, &v, 0); rc != 0) {
      return MdbError(absl::StrCat("put ", *k), rc, s.map_bytes());
    }
    return absl::OkStatus();
  });
}

absl::Status SubscriberStore::Remove(std::string_view key) {
  absl::StatusOr<std::string> k = NormalizeAddress(key);
  if (!k.ok()) return k.status();
  StoreState& s = *state_;
  return InWriteTxn(s, [&](MDB_txn* txn) -> absl::Status {
    MDB_val kv = Val(*k);
    const int rc = mdb_del(txn, s.dbi, &kv, nullptr);
    if (rc == MDB_NOTFOUND) return absl::NotFoundError(absl::StrCat(*k, ": no entry"));
    if (rc != 0) return MdbError(absl::StrCat("remove ", *k), rc, s.map_bytes());
    return absl::OkStatus();
  });
}

absl::Status SubscriberStore::ForEach(
    const std::function<bool(std::string_view key, const SubscriberEntry& entry)>& fn) const {
  ReadTxn txn(state_->env);
  if (txn.rc() != 0) return MdbError("read", txn.rc());
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), state_->dbi, &cursor); rc != 0) {
    return MdbError("cursor", rc);
  }
  absl::Status st;
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    absl::StatusOr<SubscriberEntry> e = DecodeEntry(View(v));
    if (!e.ok()) {
      st = absl::DataLossError(absl::StrCat(std::string(View(k)), ": ", e.status().message()));
      break;
    }
    if (!fn(View(k), *e)) break;
  }
  if (st.ok() && rc != 0 && rc != MDB_NOTFOUND) st = MdbError("cursor", rc);
  mdb_cursor_close(cursor);
  return st;
}

absl::StatusOr<uint64_t> SubscriberStore::Count() const {
  ReadTxn txn(state_->env);
  if (txn.rc() != 0) return MdbError("read", txn.rc());
  return Entries(txn.get(), state_->dbi);
}

absl::Status SubscriberStore::ImportCsv(std::istream& in, ImportStats* stats, ImportMode mode,
                                        const std::function<bool(std::string_view)>& keep_local) {
  absl::StatusOr<std::vector<CsvRow>> parsed = ParseSubscriberCsv(in);
  if (!parsed.ok()) return parsed.status();
  std::vector<CsvRow>& rows = *parsed;
  if (mode == ImportMode::kReplace && keep_local) return ReplaceKeepingLocal(rows, keep_local, stats);
  ImportStats out;
  out.rows = rows.size();
  StoreState& s = *state_;
  absl::Status st = InWriteTxn(s, [&](MDB_txn* txn) -> absl::Status {
    absl::StatusOr<uint64_t> before = Entries(txn, s.dbi);
    if (!before.ok()) return before.status();
    if (mode == ImportMode::kReplace && *before > 0) {
      if (int rc = mdb_drop(txn, s.dbi, 0); rc != 0) return MdbError("empty the store", rc);
    }
    const bool empty = mode == ImportMode::kReplace || *before == 0;
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn, s.dbi, &cursor); rc != 0) return MdbError("cursor", rc);
    // Rows come sorted: into an empty tree they append (no search, pages filled whole);
    // otherwise each insert lands next to the previous one, on pages still in cache.
    const unsigned put_flags = empty ? MDB_APPEND : 0;
    for (const CsvRow& row : rows) {
      const std::string value = EncodeEntry(row.entry);
      MDB_val k = Val(row.key), v = Val(value);
      if (int rc = mdb_cursor_put(cursor, &k, &v, put_flags); rc != 0) {
        mdb_cursor_close(cursor);
        return MdbError(absl::StrCat("line ", row.line, ": ", row.key), rc, s.map_bytes());
      }
    }
    mdb_cursor_close(cursor);
    absl::StatusOr<uint64_t> after = Entries(txn, s.dbi);
    if (!after.ok()) return after.status();
    out.entries = *after;
    if (mode == ImportMode::kReplace) {
      out.added = out.rows;
      out.removed = *before;
    } else {
      out.added = *after - *before;
      out.updated = out.rows - out.added;
    }
    return absl::OkStatus();
  });
  if (st.ok() && stats != nullptr) *stats = out;
  return st;
}

absl::Status SubscriberStore::ReplaceKeepingLocal(
    const std::vector<CsvRow>& rows, const std::function<bool(std::string_view)>& keep_local,
    ImportStats* stats) {
  // An empty list from a provisioning system is far likelier a fault on its side than the
  // end of every subscription.
  if (rows.empty()) {
    return absl::FailedPreconditionError(
        "the file lists no subscriber: replacing the store with it would remove every entry");
  }
  ImportStats out;
  out.rows = rows.size();
  StoreState& s = *state_;
  absl::Status st = InWriteTxn(s, [&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn, s.dbi, &cursor); rc != 0) return MdbError("cursor", rc);
    // Every entry the file owns goes; the store's own stay.
    MDB_val k, v;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0) {
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!keep_local(key)) {
        if (int drc = mdb_cursor_del(cursor, 0); drc != 0) {
          mdb_cursor_close(cursor);
          return MdbError("remove an entry", drc);
        }
        ++out.removed;
      }
      // After a delete MDB_NEXT gives the entry that followed the deleted one.
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
      mdb_cursor_close(cursor);
      return MdbError("walk the store", rc);
    }
    for (const CsvRow& row : rows) {
      if (keep_local(row.key)) continue;
      const std::string value = EncodeEntry(row.entry);
      MDB_val key = Val(row.key), val = Val(value);
      if (int prc = mdb_cursor_put(cursor, &key, &val, 0); prc != 0) {
        mdb_cursor_close(cursor);
        return MdbError(absl::StrCat("line ", row.line, ": ", row.key), prc, s.map_bytes());
      }
      ++out.added;
    }
    mdb_cursor_close(cursor);
    absl::StatusOr<uint64_t> after = Entries(txn, s.dbi);
    if (!after.ok()) return after.status();
    out.entries = *after;
    return absl::OkStatus();
  });
  if (st.ok() && stats != nullptr) *stats = out;
  return st;
}

absl::Status SubscriberStore::ExportCsv(std::ostream& out) const {
  out << kCsvHeader << '\n';
  std::string line;
  absl::Status st = ForEach([&](std::string_view key, const SubscriberEntry& e) {
    FormatCsvRow(key, e, &line);
    out << line << '\n';
    return static_cast<bool>(out);
  });
  if (!st.ok()) return st;
  out.flush();
  if (!out) return absl::DataLossError("writing the CSV failed");
  return absl::OkStatus();
}

}  // namespace kensa::subscribers
