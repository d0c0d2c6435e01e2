// SPDX-License-Identifier: GPL-2.0-or-later
// The signature store: installing and the atomic pointer, pruning, rollback and the refused
// list, and which set kensad tries first at start when entries are broken.
#include "feed/signature_store.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

namespace fs = std::filesystem;
using ::kensa::feed::testing::ReadFile;
using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

BundleVersion V(const std::string& s) { return *ParseBundleVersion(s); }

std::vector<std::string> Names(const std::vector<BundleVersion>& v) {
  std::vector<std::string> out;
  for (const BundleVersion& b : v) out.push_back(b.ToString());
  return out;
}

class SignatureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Reopen();
  }

  void Reopen() {
    absl::StatusOr<SignatureStore> s = SignatureStore::Open(dir_ / "store");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::make_unique<SignatureStore>(*std::move(s));
    warnings_ = store_->ClearStaging();
  }

  // A staged set with one database file, installed as version v and made current.
  void AddGood(const std::string& v) {
    const std::string staged = store_->StagingPath(absl::StrCat("set-", v));
    fs::create_directories(staged);
    WriteFile(staged + "/a.ndb", absl::StrCat("Kensa.V", v, ":0:*:414141\n"));
    ASSERT_TRUE(store_->Install(staged, V(v)).ok());
    ASSERT_TRUE(store_->SetPointer(V(v)).ok());
  }

  TestDir dir_;
  std::vector<std::string> warnings_;
  std::unique_ptr<SignatureStore> store_;
};

TEST_F(SignatureStoreTest, InstallRenamesTheStagedSetAndPointerIsOneLine) {
  AddGood("2024.6.1");
  EXPECT_TRUE(fs::exists(store_->SetDir(V("2024.6.1")) + "/a.ndb"));
  EXPECT_FALSE(fs::exists(store_->StagingPath("set-2024.6.1")));
  EXPECT_EQ(ReadFile(dir_ / "store/current"), "2024.6.1\n");
  EXPECT_FALSE(fs::exists(dir_ / "store/current.tmp"));
  EXPECT_EQ(store_->Pointer(), V("2024.6.1"));
}

TEST_F(SignatureStoreTest, SetsAreOrderedAsVersionsAndOtherEntriesIgnored) {
  AddGood("10");
  AddGood("9");
  AddGood("2");
  fs::create_directories(dir_ / "store/sets/not-a-version");
  fs::create_directories(dir_ / "store/sets/010");  // a leading zero is no version
  WriteFile(dir_ / "store/sets/11", "a file, not a set");
  EXPECT_THAT(Names(store_->Sets()), ElementsAre("2", "9", "10"));
}

TEST_F(SignatureStoreTest, PruneKeepsThePointerAndTheNewestOlderSets) {
  for (const char* v : {"1", "2", "3", "4", "5"}) AddGood(v);
  ASSERT_TRUE(store_->Prune(3).ok());
  EXPECT_THAT(Names(store_->Sets()), ElementsAre("3", "4", "5"));
}

TEST_F(SignatureStoreTest, PruneRemovesSetsNewerThanThePointer) {
  AddGood("1");
  AddGood("2");
  const std::string staged = store_->StagingPath("x");
  fs::create_directories(staged);
  ASSERT_TRUE(store_->Install(staged, V("3")).ok());  // installed, never made current
  ASSERT_TRUE(store_->Prune(3).ok());
  EXPECT_THAT(Names(store_->Sets()), ElementsAre("1", "2"));
}

TEST_F(SignatureStoreTest, RollbackMovesThePointerBackAndRefusesTheVersionLeft) {
  AddGood("1");
  AddGood("2");
  AddGood("3");
  absl::StatusOr<RollbackResult> r = store_->Rollback();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->from, V("3"));
  EXPECT_EQ(r->to, V("2"));
  EXPECT_EQ(store_->Pointer(), V("2"));
  EXPECT_THAT(Names(store_->Sets()), ElementsAre("1", "2"));
  EXPECT_TRUE(store_->IsRefused(V("3")));
  EXPECT_FALSE(store_->IsRefused(V("2")));
  // A second rollback goes one further, and both stay refused across a reopen.
  ASSERT_TRUE(store_->Rollback().ok());
  Reopen();
  EXPECT_EQ(store_->Pointer(), V("1"));
  EXPECT_THAT(Names(store_->Refused()), ElementsAre("3", "2"));
}

TEST_F(SignatureStoreTest, RollbackWithoutAnOlderSetIsRefused) {
  absl::StatusOr<RollbackResult> none = store_->Rollback();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no last-known-good set"));
  AddGood("5");
  absl::StatusOr<RollbackResult> one = store_->Rollback();
  EXPECT_EQ(one.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(one.status().message()), HasSubstr("no set older than 5"));
  EXPECT_EQ(store_->Pointer(), V("5"));  // untouched
  EXPECT_FALSE(store_->IsRefused(V("5")));
}

TEST_F(SignatureStoreTest, StartupTriesThePointerThenOlderSetsNewestFirst) {
  AddGood("1");
  AddGood("2");
  AddGood("3");
  ASSERT_TRUE(store_->SetPointer(V("2")).ok());
  EXPECT_THAT(Names(store_->StartupOrder()), ElementsAre("2", "1"));
}

TEST_F(SignatureStoreTest, StartupWithoutAUsablePointerTriesEverySetNotRefused) {
  AddGood("1");
  AddGood("2");
  AddGood("3");
  ASSERT_TRUE(store_->AddRefused(V("3")).ok());
  WriteFile(dir_ / "store/current", "garbage\n");
  EXPECT_EQ(store_->Pointer(), std::nullopt);
  EXPECT_THAT(Names(store_->StartupOrder()), ElementsAre("2", "1"));
  WriteFile(dir_ / "store/current", "7\n");  // names a set that is not there
  EXPECT_THAT(Names(store_->StartupOrder()), ElementsAre("2", "1"));
}

TEST_F(SignatureStoreTest, StartupSkipsAPointerThatWasRefused) {
  AddGood("1");
  AddGood("2");
  ASSERT_TRUE(store_->AddRefused(V("2")).ok());  // a rollback cut short after this step
  EXPECT_THAT(Names(store_->StartupOrder()), ElementsAre("1"));
}

TEST_F(SignatureStoreTest, OpenEmptiesStagingWhateverItHolds) {
  AddGood("1");
  fs::create_directories(dir_ / "store/staging/feed.set/sub");
  WriteFile(dir_ / "store/staging/feed.download.part", "half a bundle");
  WriteFile(dir_ / "store/staging/feed.set/sub/x.ndb", "junk");
  Reopen();
  EXPECT_THAT(warnings_, IsEmpty());
  EXPECT_TRUE(fs::is_directory(dir_ / "store/staging"));
  EXPECT_TRUE(fs::is_empty(dir_ / "store/staging"));
  EXPECT_THAT(Names(store_->StartupOrder()), ElementsAre("1"));
}

TEST_F(SignatureStoreTest, OpenReplacesAStagingThatIsAFile) {
  fs::remove_all(dir_ / "store/staging");
  WriteFile(dir_ / "store/staging", "not a directory");
  Reopen();
  EXPECT_TRUE(fs::is_directory(dir_ / "store/staging"));
}

TEST_F(SignatureStoreTest, SetManifestRoundTrips) {
  const std::string staged = store_->StagingPath("m");
  fs::create_directories(staged);
  Manifest m;
  m.version = V("4.5");
  m.created = "2024-06-15T12:00:00Z";
  m.min_kensa_version = V("0.1");
  m.files = {{"a.ndb", 4, ::kensa::feed::testing::Sha256Hex("abc\n"), 1}};
  m.totals = ComputeTotals(m.files);
  ASSERT_TRUE(SignatureStore::WriteSetManifest(staged, m).ok());
  ASSERT_TRUE(store_->Install(staged, V("4.5")).ok());
  absl::StatusOr<Manifest> back = store_->SetManifest(V("4.5"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->created, "2024-06-15T12:00:00Z");
  EXPECT_EQ(back->version, V("4.5"));
}

}  // namespace
}  // namespace kensa::feed
