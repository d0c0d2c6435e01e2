// SPDX-License-Identifier: GPL-2.0-or-later
// The updater's decisions, with a fake fetcher (no network) serving bundles made here and a
// fake publish path that records what it was asked to build and fails when told to.
#include "feed/signature_updater.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

namespace fs = std::filesystem;
using ::kensa::feed::testing::BundleParts;
using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteRawArchive;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

BundleVersion V(const std::string& s) { return *ParseBundleVersion(s); }

// Serves the next scripted answer: a bundle file (copied to dest), a 304, or an error.
class FakeFetcher : public Fetcher {
 public:
  struct Answer {
    Answer(std::string f, absl::Status e = absl::OkStatus(), std::string t = "")
        : file(std::move(f)), error(std::move(e)), etag(std::move(t)) {}
    std::string file;  // empty: not_modified unless error is set
    absl::Status error;
    std::string etag;
  };
  absl::StatusOr<FetchResult> Fetch(const FetchRequest& r) override {
    requests.push_back(r);
    if (answers.empty()) return absl::UnavailableError("no answer scripted");
    Answer a = answers.front();
    answers.erase(answers.begin());
    if (!a.error.ok()) return a.error;
    FetchResult out;
    out.etag = a.etag;
    if (a.file.empty()) {
      out.not_modified = true;
      return out;
    }
    fs::copy_file(a.file, r.dest_path, fs::copy_options::overwrite_existing);
    out.bytes = fs::file_size(r.dest_path);
    return out;
  }
  std::vector<Answer> answers;
  std::vector<FetchRequest> requests;
};

class SignatureUpdaterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    key_ = std::make_unique<Ed25519Key>(*Ed25519Key::Generate());
    other_key_ = std::make_unique<Ed25519Key>(*Ed25519Key::Generate());
    fs::create_directories(dir_ / "fallback");
    settings_.poll_interval = absl::Minutes(60);
    settings_.poll_jitter = absl::ZeroDuration();
    settings_.retry_min = absl::Minutes(1);
    settings_.retry_max = absl::Minutes(16);
    settings_.keep_sets = 2;
  }

  // A bundle of version v signed by key (default: the trusted one).
  std::string Bundle(const std::string& v, const Ed25519Key* key = nullptr) {
    BundleParts parts;
    parts.Seal(key != nullptr ? *key : *key_, v);
    const std::string path = dir_ / absl::StrCat("bundle-", ++count_, ".tar.gz");
    EXPECT_TRUE(WriteRawArchive(path, parts.Members()));
    return path;
  }

  void Make() {
    absl::StatusOr<SignatureStore> store = SignatureStore::Open(dir_ / "store");
    ASSERT_TRUE(store.ok());
    store->ClearStaging();
    TrustedKeys keys;
    keys.push_back(*Ed25519Key::PublicFromPem(*key_->PublicPem()));
    std::vector<std::unique_ptr<SignatureFeed>> feeds;
    FeedSettings feed;
    feed.name = "main";
    feed.url = "http://feed.test/bundle.tar.gz";
    feeds.push_back(MakeBundleFeed(feed, std::move(keys)));
    auto fetcher = std::make_unique<FakeFetcher>();
    fetcher_ = fetcher.get();
    updater_ = std::make_unique<SignatureUpdater>(
        settings_, std::move(feeds), *std::move(store), std::move(fetcher),
        [this](const std::string& dir) -> absl::StatusOr<PublishedSet> {
          built_.push_back(dir);
          if (fail_.count(fs::path(dir).filename().string()) != 0) {
            return absl::FailedPreconditionError("canary EICAR not detected");
          }
          return PublishedSet{"sha256-x", 3, 2, absl::Milliseconds(5)};
        },
        dir_ / "fallback");
  }

  SignatureStore Store() { return *SignatureStore::Open(dir_ / "store"); }

  const UpdateAttempt& Last() {
    last_ = updater_->Status();
    return last_.history.back();
  }

  TestDir dir_;
  std::unique_ptr<Ed25519Key> key_, other_key_;
  UpdaterSettings settings_;
  FakeFetcher* fetcher_ = nullptr;
  std::unique_ptr<SignatureUpdater> updater_;
  std::vector<std::string> built_;
  std::set<std::string> fail_;  // set directory names whose build fails
  UpdaterStatus last_;
  int count_ = 0;
};

TEST_F(SignatureUpdaterTest, PublishesANewerBundleAndMovesThePointer) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());  // empty store: the fallback directory
  EXPECT_THAT(built_, ElementsAre(dir_ / "fallback"));
  fetcher_->answers.push_back({Bundle("2024.6.1"), absl::OkStatus(), "\"e1\""});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "published");
  EXPECT_EQ(Last().version, "2024.6.1");
  EXPECT_EQ(last_.running_version, "2024.6.1");
  EXPECT_EQ(last_.running_created, absl::FromUnixSeconds(1718452800));  // 2024-06-15T12:00:00Z
  EXPECT_EQ(built_.back(), Store().SetDir(V("2024.6.1")));
  EXPECT_EQ(Store().Pointer(), V("2024.6.1"));
  EXPECT_TRUE(fs::exists(Store().SetDir(V("2024.6.1")) + "/a.ndb"));
  EXPECT_TRUE(fs::is_empty(dir_ / "store/staging"));
}

TEST_F(SignatureUpdaterTest, AnOlderVersionIsRefusedAsAReplayAndAnEqualOneIsCurrent) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("5")});
  updater_->CheckFeeds();
  ASSERT_EQ(Last().result, "published");
  const size_t builds = built_.size();
  fetcher_->answers.push_back({Bundle("4")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "refused");
  EXPECT_THAT(Last().reason, HasSubstr("replay: version 4 is older than the running 5"));
  fetcher_->answers.push_back({Bundle("5")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "current");
  EXPECT_EQ(built_.size(), builds);  // neither was built
  EXPECT_EQ(Store().Pointer(), V("5"));
  EXPECT_THAT(Store().Sets(), ElementsAre(V("5")));
}

TEST_F(SignatureUpdaterTest, ASetThatFailsItsBuildIsDiscardedAndTheRunningOneStays) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("1")});
  updater_->CheckFeeds();
  fail_.insert("2");
  fetcher_->answers.push_back({Bundle("2")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "refused");
  EXPECT_THAT(Last().reason, HasSubstr("build: canary EICAR not detected"));
  EXPECT_EQ(last_.running_version, "1");
  EXPECT_THAT(last_.last_error, HasSubstr("main: build: canary"));
  EXPECT_EQ(Store().Pointer(), V("1"));
  EXPECT_THAT(Store().Sets(), ElementsAre(V("1")));
}

TEST_F(SignatureUpdaterTest, VerificationFailuresAreRefusedBeforeAnythingIsBuilt) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  const size_t builds = built_.size();
  fetcher_->answers.push_back({Bundle("3", other_key_.get())});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "failed");
  EXPECT_THAT(Last().reason, HasSubstr("verify: "));
  fetcher_->answers.push_back({"", absl::UnavailableError("HTTP 500")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "failed");
  EXPECT_EQ(Last().reason, "download: HTTP 500");
  EXPECT_EQ(built_.size(), builds);
  EXPECT_TRUE(Store().Sets().empty());
  EXPECT_TRUE(fs::is_empty(dir_ / "store/staging"));
}

TEST_F(SignatureUpdaterTest, ValidatorsAreSentOnlyForContentDealtWith) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("1", other_key_.get()), absl::OkStatus(), "\"bad\""});
  fetcher_->answers.push_back({Bundle("1"), absl::OkStatus(), "\"good\""});
  fetcher_->answers.push_back({"", absl::OkStatus(), "\"good\""});
  updater_->CheckFeeds();  // refused: its ETag is not remembered, so the next check downloads
  updater_->CheckFeeds();
  updater_->CheckFeeds();
  ASSERT_EQ(fetcher_->requests.size(), 3u);
  EXPECT_EQ(fetcher_->requests[0].etag, "");
  EXPECT_EQ(fetcher_->requests[1].etag, "");
  EXPECT_EQ(fetcher_->requests[2].etag, "\"good\"");
  EXPECT_EQ(Last().result, "not_modified");
}

TEST_F(SignatureUpdaterTest, ARolledBackVersionIsNotTakenAgainButANewerOneIs) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("1")});
  fetcher_->answers.push_back({Bundle("2")});
  updater_->CheckFeeds();
  updater_->CheckFeeds();
  {
    SignatureStore s = Store();
    ASSERT_TRUE(s.Rollback().ok());
  }
  ASSERT_TRUE(updater_->LoadCurrent().ok());  // what SIGHUP does
  EXPECT_EQ(updater_->Status().running_version, "1");
  fetcher_->answers.push_back({Bundle("2")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "refused");
  EXPECT_THAT(Last().reason, HasSubstr("version 2 was rolled back"));
  fetcher_->answers.push_back({Bundle("3")});
  updater_->CheckFeeds();
  EXPECT_EQ(Last().result, "published");
  EXPECT_EQ(Store().Pointer(), V("3"));
  EXPECT_THAT(Store().Sets(), ElementsAre(V("1"), V("3")));  // keep_sets = 2
}

TEST_F(SignatureUpdaterTest, StartupSkipsASetThatDoesNotLoadAndFallsBackWhenNoneDoes) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("1")});
  fetcher_->answers.push_back({Bundle("2")});
  updater_->CheckFeeds();
  updater_->CheckFeeds();
  built_.clear();
  fail_.insert("2");
  Make();  // a restart
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  EXPECT_EQ(updater_->Status().running_version, "1");
  EXPECT_THAT(built_, ElementsAre(Store().SetDir(V("2")), Store().SetDir(V("1"))));
  fail_.insert("1");
  built_.clear();
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  EXPECT_EQ(updater_->Status().running_version, "");
  EXPECT_EQ(built_.back(), dir_ / "fallback");
  fail_.insert("fallback");
  Make();
  EXPECT_FALSE(updater_->LoadCurrent().ok());
}

TEST_F(SignatureUpdaterTest, FailuresBackOffExponentiallyUpToRetryMaxAndTheRegularPoll) {
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 0, 0.0), absl::Minutes(60));
  settings_.poll_jitter = absl::Minutes(10);
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 0, 0.5), absl::Minutes(65));
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 1, 0.5), absl::Minutes(1));
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 3, 0.5), absl::Minutes(4));
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 30, 0.5), absl::Minutes(16));
  settings_.poll_interval = absl::Minutes(2);
  settings_.poll_jitter = absl::ZeroDuration();
  EXPECT_EQ(SignatureUpdater::NextDelay(settings_, 30, 0.5), absl::Minutes(2));
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({"", absl::UnavailableError("HTTP 500")});
  fetcher_->answers.push_back({"", absl::UnavailableError("HTTP 500")});
  EXPECT_EQ(updater_->CheckFeeds(), absl::Minutes(1));
  EXPECT_EQ(updater_->CheckFeeds(), absl::Minutes(2));
}

TEST_F(SignatureUpdaterTest, TheThreadChecksAtStartAndOnRequest) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  fetcher_->answers.push_back({Bundle("1")});
  fetcher_->answers.push_back({Bundle("2")});
  updater_->Start();
  auto wait_for = [&](const std::string& v) {
    for (int i = 0; i < 500 && updater_->Status().running_version != v; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return updater_->Status().running_version;
  };
  EXPECT_EQ(wait_for("1"), "1");
  updater_->RequestReload();
  EXPECT_EQ(wait_for("2"), "2");
  updater_->Stop();
}

// A rollback asked of the running updater happens on its thread and loads the older set; an
// updater that is not running says so instead of leaving the caller waiting.
TEST_F(SignatureUpdaterTest, RollBackOnTheThreadLoadsTheOlderSet) {
  Make();
  ASSERT_TRUE(updater_->LoadCurrent().ok());
  EXPECT_EQ(updater_->RollBack(absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);  // not started
  fetcher_->answers.push_back({Bundle("1")});
  fetcher_->answers.push_back({Bundle("2")});
  updater_->CheckFeeds();
  updater_->CheckFeeds();
  ASSERT_EQ(updater_->Status().running_version, "2");
  updater_->Start();  // its first check finds nothing new (no answers left)
  absl::StatusOr<RollbackResult> r = updater_->RollBack(absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->from, V("2"));
  EXPECT_EQ(r->to, V("1"));
  for (int i = 0; i < 500 && updater_->Status().running_version != "1"; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(updater_->Status().running_version, "1");
  EXPECT_EQ(Store().Pointer(), V("1"));
  EXPECT_TRUE(Store().IsRefused(V("2")));
  updater_->Stop();
  EXPECT_EQ(updater_->RollBack(absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);  // stopped
}

}  // namespace
}  // namespace kensa::feed
