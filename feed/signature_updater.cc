// SPDX-License-Identifier: GPL-2.0-or-later
// The signature updater (signature_updater.h): the decisions of one check, and its thread.
#include "feed/signature_updater.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace kensa::feed {

UpdaterCounters UpdaterCounters::Register(CounterSet& counters) {
  UpdaterCounters c;
  c.set = &counters;
  c.checks = counters.Register("signature_update_checks_total", "signature feed checks");
  c.published =
      counters.Register("signature_updates_total", "signature sets published from a feed");
  c.failed = counters.Register(
      "signature_update_failures_total",
      "feed checks that failed or refused what the feed served (the running set stays)");
  return c;
}

SignatureUpdater::SignatureUpdater(UpdaterSettings settings,
                                   std::vector<std::unique_ptr<SignatureFeed>> feeds,
                                   SignatureStore store, std::unique_ptr<Fetcher> fetcher,
                                   PublishFn publish, std::string fallback_dir,
                                   UpdaterCounters counters)
    : settings_(std::move(settings)),
      feeds_(std::move(feeds)),
      store_(std::move(store)),
      fetcher_(std::move(fetcher)),
      publish_(std::move(publish)),
      fallback_dir_(std::move(fallback_dir)),
      counters_(counters) {}

SignatureUpdater::~SignatureUpdater() { Stop(); }

void SignatureUpdater::SetRunning(std::optional<BundleVersion> v, const std::string& dir,
                                  absl::Time created) {
  running_ = std::move(v);
  std::lock_guard<std::mutex> lock(mu_);
  status_.running_version = running_.has_value() ? running_->ToString() : "";
  status_.running_dir = dir;
  status_.running_created = created;
}

absl::Status SignatureUpdater::LoadCurrent() {
  for (const BundleVersion& v : store_.StartupOrder()) {
    const std::string dir = store_.SetDir(v);
    absl::StatusOr<PublishedSet> set = publish_(dir);
    if (!set.ok()) {
      KLOG(kError, "signature_store_set_failed")
          .Kv("version", v.ToString())
          .Kv("dir", dir)
          .Kv("error", set.status());
      continue;
    }
    absl::Time created = absl::InfinitePast();
    if (absl::StatusOr<Manifest> m = store_.SetManifest(v); m.ok()) {
      created = ParseCreationTime(m->created).value_or(absl::InfinitePast());
    }
    SetRunning(v, dir, created);
    KLOG(kInfo, "signature_store_loaded").Kv("version", v.ToString()).Kv("dir", dir);
    return absl::OkStatus();
  }
  KLOG(kWarning, "signature_store_fallback")
      .Kv("store", store_.root())
      .Kv("reason", store_.Sets().empty() ? "the store holds no set" : "no set of the store loads")
      .Kv("dir", fallback_dir_);
  absl::StatusOr<PublishedSet> set = publish_(fallback_dir_);
  if (!set.ok()) return set.status();
  SetRunning(std::nullopt, fallback_dir_, absl::InfinitePast());
  return absl::OkStatus();
}

UpdateAttempt SignatureUpdater::CheckFeed(SignatureFeed& feed, absl::Duration* spent,
                                          FeedCheck* info) {
  const absl::Time start = absl::Now();
  UpdateAttempt a;
  a.at = start;
  a.feed = feed.name();
  auto done = [&](std::string result, std::string reason) {
    a.result = std::move(result);
    a.reason = std::move(reason);
    *spent = absl::Now() - start;
    return a;
  };
  absl::StatusOr<FeedCheck> check = feed.Check(*fetcher_, store_, settings_, &cancel_);
  if (!check.ok()) return done("failed", std::string(check.status().message()));
  *info = *check;
  if (check->not_modified) return done("not_modified", "");
  const StagedSet& staged = *check->staged;
  const BundleVersion& v = staged.manifest.version;
  a.version = v.ToString();
  std::error_code ec;
  auto drop_staged = [&] { std::filesystem::remove_all(staged.dir, ec); };
  if (running_.has_value() && v == *running_) {
    drop_staged();
    feed.Settle();
    return done("current", "");
  }
  if (running_.has_value() && v < *running_) {
    drop_staged();
    feed.Settle();
    return done("refused", absl::StrCat("replay: version ", a.version,
                                        " is older than the running ", running_->ToString()));
  }
  if (store_.IsRefused(v)) {
    drop_staged();
    feed.Settle();
    return done("refused", absl::StrCat("version ", a.version, " was rolled back"));
  }
  if (absl::Status s = store_.Install(staged.dir, v); !s.ok()) {
    drop_staged();
    return done("failed", absl::StrCat("install: ", s.message()));
  }
  const std::string dir = store_.SetDir(v);
  absl::StatusOr<PublishedSet> set = publish_(dir);
  if (!set.ok()) {
    // Not settled: the feed may serve the same bytes again, and a set that failed for a
    // reason of this machine (memory, temp space) deserves another try.
    if (absl::Status d = store_.Discard(v); !d.ok()) {
      KLOG(kWarning, "signature_store_error").Kv("error", d);
    }
    return done("refused", absl::StrCat("build: ", set.status().message()));
  }
  feed.Settle();
  SetRunning(v, dir, ParseCreationTime(staged.manifest.created).value_or(absl::InfinitePast()));
  // The set already serves; a pointer that cannot move means a restart comes up on the
  // previous good set, which is said here.
  if (absl::Status s = store_.SetPointer(v); !s.ok()) {
    KLOG(kError, "signature_store_error").Kv("error", s).Kv("version", a.version);
  } else if (absl::Status p = store_.Prune(settings_.keep_sets); !p.ok()) {
    KLOG(kWarning, "signature_store_error").Kv("error", p);
  }
  return done("published", "");
}

void SignatureUpdater::Record(const UpdateAttempt& a, absl::Duration spent,
                              const FeedCheck& check) {
  const bool bad = a.result == "failed" || a.result == "refused";
  {
    LogLine line(bad ? LogLevel::kWarning : LogLevel::kInfo, "signature_update");
    line.Kv("feed", a.feed);
    for (const auto& f : feeds_) {
      if (f->name() == a.feed) line.Kv("url", f->url());
    }
    line.Kv("version", a.version.empty() ? std::string("-") : a.version).Kv("result", a.result);
    if (!a.reason.empty()) line.Kv("reason", a.reason);
    if (check.staged.has_value()) {
      uint64_t total = 0;
      for (const auto& [kind, n] : check.staged->manifest.totals) total += n;
      line.Kv("signatures", total)
          .Kv("files", static_cast<uint64_t>(check.staged->manifest.files.size()))
          .Kv("signed_by", check.staged->signed_by);
      if (!check.staged->content.empty()) line.Kv("content", check.staged->content);
      line.Kv("bytes", check.download_bytes);
    }
    line.Kv("duration", absl::Trunc(spent, absl::Milliseconds(1)));
  }
  if (counters_.set != nullptr) {
    counters_.set->Add(0, counters_.checks);
    if (a.result == "published") counters_.set->Add(0, counters_.published);
    if (bad) counters_.set->Add(0, counters_.failed);
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_.last_check = a.at;
  status_.last_result = a.result;
  if (bad) status_.last_error = absl::StrCat(a.feed, ": ", a.reason);
  status_.history.push_back(a);
  if (status_.history.size() > UpdaterStatus::kHistory) {
    status_.history.erase(status_.history.begin());
  }
}

void SignatureUpdater::WarnIfStale() {
  absl::Time created;
  {
    std::lock_guard<std::mutex> lock(mu_);
    created = status_.running_created;
  }
  if (created == absl::InfinitePast()) return;
  const absl::Duration age = absl::Now() - created;
  if (age > settings_.max_age_warning) {
    KLOG(kWarning, "signatures_stale")
        .Kv("version", running_.has_value() ? running_->ToString() : std::string("-"))
        .Kv("age", absl::Trunc(age, absl::Seconds(1)))
        .Kv("max_age_warning", settings_.max_age_warning);
  }
}

absl::Duration SignatureUpdater::CheckFeeds() {
  bool any_failed = false;
  for (const std::unique_ptr<SignatureFeed>& feed : feeds_) {
    if (cancel_.load()) break;
    absl::Duration spent;
    FeedCheck info;
    UpdateAttempt a = CheckFeed(*feed, &spent, &info);
    Record(a, spent, info);
    any_failed |= a.result == "failed";
  }
  WarnIfStale();
  failures_ = any_failed ? failures_ + 1 : 0;
  return NextDelay(settings_, failures_, std::uniform_real_distribution<double>(0, 1)(random_));
}

absl::Duration SignatureUpdater::NextDelay(const UpdaterSettings& s, int failures,
                                           double jitter01) {
  const absl::Duration regular = s.poll_interval + s.poll_jitter * jitter01;
  if (failures <= 0) return regular;
  absl::Duration backoff = s.retry_min;
  for (int i = 1; i < failures && backoff < s.retry_max; ++i) backoff *= 2;
  return std::min({backoff, s.retry_max, regular});
}

void SignatureUpdater::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SignatureUpdater::RequestReload() {
  std::lock_guard<std::mutex> lock(mu_);
  reload_asked_ = true;
  wake_.notify_all();
}

absl::StatusOr<RollbackResult> SignatureUpdater::RollBack(absl::Duration timeout) {
  std::future<absl::StatusOr<RollbackResult>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_asked_ || !thread_.joinable()) {
      return absl::FailedPreconditionError("the signature updater is not running");
    }
    rollbacks_asked_.emplace_back();
    done = rollbacks_asked_.back().get_future();
    wake_.notify_all();
  }
  if (done.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the signature updater did not get to the rollback within ", absl::FormatDuration(timeout),
        " (a check is in flight); it still rolls back when it does"));
  }
  return done.get();
}

void SignatureUpdater::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_asked_ = true;
    cancel_.store(true);
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& asked : rollbacks_asked_) {
    asked.set_value(absl::FailedPreconditionError("kensad is stopping: nothing was rolled back"));
  }
  rollbacks_asked_.clear();
}

void SignatureUpdater::Loop() {
  absl::Time next = absl::Now();
  for (;;) {
    bool reload = false;
    std::vector<std::promise<absl::StatusOr<RollbackResult>>> rollbacks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_until(lock, absl::ToChronoTime(next), [this] {
        return stop_asked_ || reload_asked_ || !rollbacks_asked_.empty();
      });
      if (stop_asked_) return;
      reload = reload_asked_;
      reload_asked_ = false;
      rollbacks.swap(rollbacks_asked_);
    }
    for (auto& asked : rollbacks) {
      absl::StatusOr<RollbackResult> r = store_.Rollback();
      if (r.ok()) {
        KLOG(kWarning, "signatures_rolled_back")
            .Kv("from", r->from.ToString())
            .Kv("to", r->to.ToString());
        reload = true;  // the set the pointer names now is loaded below
      }
      asked.set_value(std::move(r));
    }
    if (reload) {
      if (absl::Status s = LoadCurrent(); !s.ok()) {
        KLOG(kError, "signatures_reload_failed").Kv("error", s);
      }
    }
    next = absl::Now() + CheckFeeds();
  }
}

UpdaterStatus SignatureUpdater::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace kensa::feed
