// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureUpdater: keeps kensad's signatures current from its feeds, on its own thread (a
// check blocks on a download and a set build takes seconds: never on a reactor).
//
// One check of a feed: fetch and verify into staging (SignatureFeed), refuse a version that is
// not newer than the running one (older: a replay; equal: nothing to do) or that an operator
// rolled back, install it in the store, build and publish it through the same path as a
// SIGHUP reload (PublishFn: SignatureSet::Build with its canaries, then the atomic swap), and
// only then move the last-known-good pointer and prune. Every build runs on this thread, one
// at a time, so memory peaks at the running set plus the one being built. A failure keeps the
// running set. Every check is one `signature_update` log line and a counter.
#ifndef KENSA_FEED_SIGNATURE_UPDATER_H_
#define KENSA_FEED_SIGNATURE_UPDATER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "feed/bundle_version.h"
#include "feed/fetcher.h"
#include "feed/signature_feed.h"
#include "feed/signature_store.h"
#include "feed/updater_settings.h"

namespace kensa::feed {

// What the publish path reports about a set it built and published.
struct PublishedSet {
  std::string set_version;  // sigs::SignatureSet's content version
  uint64_t signatures = 0;
  int files = 0;
  absl::Duration build_time;
};
// Builds the set in a directory (canaries included) and publishes it, or says why not and
// leaves the running set. kensad's, shared with the SIGHUP reload.
using PublishFn = std::function<absl::StatusOr<PublishedSet>(const std::string& dir)>;

struct UpdaterCounters {
  CounterSet* set = nullptr;  // null: not counted (tests)
  int checks = 0, published = 0, failed = 0;
  // Before CounterSet::Resize.
  static UpdaterCounters Register(CounterSet& counters);
};

// One check's outcome, as logged.
struct UpdateAttempt {
  absl::Time at;
  std::string feed;
  std::string version;  // what the feed served; empty when nothing was read
  // published | not_modified | current | refused (the content: replay, rolled back, build or
  // canaries) | failed (download, verification, disk)
  std::string result;
  std::string reason;
};

struct UpdaterStatus {
  std::string running_version;  // the bundle version running; empty: [scan] signature_dir's set
  std::string running_dir;
  absl::Time running_created = absl::InfinitePast();  // its manifest's creation time
  absl::Time last_check = absl::InfinitePast();
  std::string last_result;
  std::string last_error;              // of the last check that did not succeed
  std::vector<UpdateAttempt> history;  // oldest first, at most kHistory
  static constexpr size_t kHistory = 32;
};

class SignatureUpdater {
 public:
  SignatureUpdater(UpdaterSettings settings, std::vector<std::unique_ptr<SignatureFeed>> feeds,
                   SignatureStore store, std::unique_ptr<Fetcher> fetcher, PublishFn publish,
                   std::string fallback_dir, UpdaterCounters counters = {});
  ~SignatureUpdater();  // Stop()
  SignatureUpdater(const SignatureUpdater&) = delete;
  SignatureUpdater& operator=(const SignatureUpdater&) = delete;

  // Publishes the first set of the store's StartupOrder that builds, else fallback_dir ([scan]
  // signature_dir), logging each set that failed. An error only when nothing was published.
  // At start (before Start) and on RequestReload.
  absl::Status LoadCurrent();
  // One check of every feed on the calling thread; returns the delay until the next one.
  absl::Duration CheckFeeds();

  // The thread: checks at once, then every poll_interval (+ jitter; retry_min.. after a
  // failure) until Stop.
  void Start();
  // SIGHUP: LoadCurrent (an operator's rollback takes effect), then a check, on the thread.
  void RequestReload();
  // The store goes back one set (SignatureStore::Rollback) and that set is loaded, on the
  // updater's thread, so that no install of a check races it. Waits up to `timeout` for the
  // rollback itself (a check in flight finishes first); DeadlineExceeded when it did not come.
  absl::StatusOr<RollbackResult> RollBack(absl::Duration timeout);
  void Stop();

  UpdaterStatus Status() const;
  // The delay before the next check after `failures` checks in a row that failed.
  static absl::Duration NextDelay(const UpdaterSettings& s, int failures, double jitter01);

 private:
  UpdateAttempt CheckFeed(SignatureFeed& feed, absl::Duration* spent, FeedCheck* staged_info);
  void Record(const UpdateAttempt& a, absl::Duration spent, const FeedCheck& check);
  void SetRunning(std::optional<BundleVersion> v, const std::string& dir, absl::Time created);
  void WarnIfStale();
  void Loop();

  const UpdaterSettings settings_;
  std::vector<std::unique_ptr<SignatureFeed>> feeds_;
  SignatureStore store_;
  std::unique_ptr<Fetcher> fetcher_;
  PublishFn publish_;
  const std::string fallback_dir_;
  UpdaterCounters counters_;
  std::optional<BundleVersion> running_;  // this thread's; Status reads the copy below
  int failures_ = 0;
  std::mt19937_64 random_{std::random_device{}()};

  mutable std::mutex mu_;
  UpdaterStatus status_;
  std::condition_variable wake_;
  bool reload_asked_ = false;
  std::vector<std::promise<absl::StatusOr<RollbackResult>>> rollbacks_asked_;
  bool stop_asked_ = false;
  std::atomic<bool> cancel_{false};  // aborts a download in flight at Stop
  std::thread thread_;
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_SIGNATURE_UPDATER_H_
