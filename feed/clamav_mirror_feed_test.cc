// SPDX-License-Identifier: GPL-2.0-or-later
// The ClamAV mirror feed through the updater, with a fake fetcher serving CVD-looking files
// made here. A CVD that libclamav accepts needs ClamAV's private key (and no .cvd ships on the
// build machine), so the paths that end in a published set use a fake verifier that only
// reads the header; the refusals of a corrupted and a truncated file use libclamav's own
// cl_cvdverify.
#include <openssl/evp.h>

#include <filesystem>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "feed/cvd_file.h"
#include "feed/signature_updater.h"
#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

namespace fs = std::filesystem;
using ::kensa::feed::testing::ReadFile;
using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::kensa::feed::testing::WriteRawArchive;
using ::testing::HasSubstr;

constexpr char kMirror[] = "http://mirror.test/clamav";

// Answers by URL: a file (copied to dest, with an ETag), a 304, or an error.
class UrlFetcher : public Fetcher {
 public:
  struct Answer {
    std::string file;  // empty and error OK: 304
    absl::Status error;
    std::string etag;
  };
  absl::StatusOr<FetchResult> Fetch(const FetchRequest& r) override {
    requests.push_back(r);
    auto it = answers.find(r.url);
    if (it == answers.end()) return absl::NotFoundError("HTTP 404");
    const Answer& a = it->second;
    if (!a.error.ok()) return a.error;
    FetchResult out;
    if (a.file.empty()) {
      out.not_modified = true;
      return out;
    }
    fs::copy_file(a.file, r.dest_path, fs::copy_options::overwrite_existing);
    out.bytes = fs::file_size(r.dest_path);
    out.etag = a.etag;
    return out;
  }
  std::map<std::string, Answer> answers;
  std::vector<FetchRequest> requests;
};

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), len));
}

class ClamavMirrorFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    fs::create_directories(dir_ / "fallback");
    settings_.poll_jitter = absl::ZeroDuration();
  }

  // A file shaped like db.cvd of version v: the 512-byte header (with the body's true MD5
  // and a made-up digital signature) and a tar.gz body holding one .ndb.
  std::string Cvd(const std::string& db, uint64_t v) {
    const std::string tgz = dir_ / absl::StrCat("body-", ++count_, ".tar.gz");
    EXPECT_TRUE(WriteRawArchive(
        tgz, {{absl::StrCat(db, ".info"), absl::StrCat("ClamAV-VDB:", v, "\n")},
              {absl::StrCat(db, ".ndb"), absl::StrCat("Kensa.Test.", db, v, ":0:*:6b656e7361\n")}}));
    const std::string body = ReadFile(tgz);
    std::string head = absl::StrCat("ClamAV-VDB:15 Jun 2024 12-00 +0000:", v, ":1:90:",
                                    Md5Hex(body), ":", std::string(86, 'A'), ":kensa:1718452800");
    head.resize(512, ' ');
    const std::string path = dir_ / absl::StrCat(db, "-", v, "-", count_, ".cvd");
    WriteFile(path, head + body);
    return path;
  }

  void Serve(const std::string& db, std::string file, std::string etag = "") {
    fetcher_->answers[absl::StrCat(kMirror, "/", db, ".cvd")] = {std::move(file),
                                                                 absl::OkStatus(), etag};
  }

  // real_verify: libclamav's cl_cvdverify; else a fake that accepts every readable header.
  void Make(bool real_verify) {
    absl::StatusOr<SignatureStore> store = SignatureStore::Open(dir_ / "store");
    ASSERT_TRUE(store.ok());
    store->ClearStaging();
    FeedSettings f;
    f.name = "isp";
    f.url = absl::StrCat(kMirror, "/");
    f.kind = FeedKind::kClamavMirror;
    std::vector<std::unique_ptr<SignatureFeed>> feeds;
    CvdVerifier verify;
    if (!real_verify) {
      verify = [](const std::string& path) { return ReadCvdHeader(path).status(); };
    }
    feeds.push_back(MakeClamavMirrorFeed(f, verify));
    auto fetcher = std::make_unique<UrlFetcher>();
    fetcher_ = fetcher.get();
    updater_ = std::make_unique<SignatureUpdater>(
        settings_, std::move(feeds), *std::move(store), std::move(fetcher),
        [this](const std::string& dir) -> absl::StatusOr<PublishedSet> {
          built_.push_back(dir);
          return PublishedSet{"daily-1", 3, 3, absl::Milliseconds(5)};
        },
        dir_ / "fallback");
    ASSERT_TRUE(updater_->LoadCurrent().ok());
  }

  const UpdateAttempt& Check() {
    updater_->CheckFeeds();
    last_ = updater_->Status();
    return last_.history.back();
  }

  SignatureStore Store() { return *SignatureStore::Open(dir_ / "store"); }
  bool StagingEmpty() { return fs::is_empty(dir_ / "store/staging"); }

  // Publishes main 62, daily 27400, bytecode 335 through the fake verifier.
  void PublishFirst() {
    Make(/*real_verify=*/false);
    Serve("main", Cvd("main", 62), "\"m62\"");
    Serve("daily", Cvd("daily", 27400), "\"d27400\"");
    Serve("bytecode", Cvd("bytecode", 335), "\"b335\"");
    const UpdateAttempt& a = Check();
    ASSERT_EQ(a.result, "published") << a.reason;
  }

  TestDir dir_;
  UpdaterSettings settings_;
  UrlFetcher* fetcher_ = nullptr;
  std::unique_ptr<SignatureUpdater> updater_;
  std::vector<std::string> built_;
  UpdaterStatus last_;
  int count_ = 0;
};

TEST_F(ClamavMirrorFeedTest, LibclamavRefusesACvdWhoseSignatureIsNotClamAVs) {
  const std::string cvd = Cvd("daily", 27400);
  absl::StatusOr<CvdHeader> head = ReadCvdHeader(cvd);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->version, 27400u);
  EXPECT_EQ(head->build_time, 1718452800);
  const absl::Status s = VerifyCvd(cvd);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("libclamav refuses the CVD"));

  Make(/*real_verify=*/true);
  Serve("main", Cvd("main", 62));
  Serve("daily", cvd);
  Serve("bytecode", Cvd("bytecode", 335));
  const UpdateAttempt& a = Check();
  EXPECT_EQ(a.result, "failed");
  EXPECT_THAT(a.reason, HasSubstr("verify: main.cvd"));
  EXPECT_EQ(last_.running_dir, dir_ / "fallback");
  EXPECT_TRUE(Store().Sets().empty());
  EXPECT_TRUE(StagingEmpty());
}

TEST_F(ClamavMirrorFeedTest, ATruncatedCvdIsRefused) {
  const std::string whole = ReadFile(Cvd("daily", 27400));
  const std::string half = dir_ / "half.cvd";
  WriteFile(half, whole.substr(0, 512 + (whole.size() - 512) / 2));
  EXPECT_FALSE(VerifyCvd(half).ok());
  const std::string stub = dir_ / "stub.cvd";
  WriteFile(stub, whole.substr(0, 20));
  EXPECT_FALSE(ReadCvdHeader(stub).ok());

  Make(/*real_verify=*/true);
  Serve("main", half);
  const UpdateAttempt& a = Check();
  EXPECT_EQ(a.result, "failed");
  EXPECT_THAT(a.reason, HasSubstr("verify: main.cvd"));
  EXPECT_TRUE(StagingEmpty());

  Serve("main", stub);
  const UpdateAttempt& b = Check();
  EXPECT_EQ(b.result, "failed");
  EXPECT_THAT(b.reason, HasSubstr("not a CVD file"));
  EXPECT_TRUE(StagingEmpty());
  EXPECT_TRUE(Store().Sets().empty());
}

TEST_F(ClamavMirrorFeedTest, PublishesTheSetVersionedByItsCvds) {
  PublishFirst();
  EXPECT_EQ(last_.history.back().version, "62.27400.335");
  EXPECT_EQ(last_.running_version, "62.27400.335");
  EXPECT_EQ(last_.running_created, absl::FromUnixSeconds(1718452800));
  const std::string set = Store().SetDir(*ParseBundleVersion("62.27400.335"));
  EXPECT_EQ(built_.back(), set);
  for (const char* f : {"main.cvd", "daily.cvd", "bytecode.cvd", "manifest.toml"}) {
    EXPECT_TRUE(fs::exists(set + "/" + f)) << f;
  }
  absl::StatusOr<Manifest> m = Store().SetManifest(*ParseBundleVersion("62.27400.335"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->files.size(), 3u);
  EXPECT_EQ(m->totals["cvd"], 3u);
  EXPECT_TRUE(StagingEmpty());
  // The mirror is asked for exactly the configured files, under the base URL.
  ASSERT_EQ(fetcher_->requests.size(), 3u);
  EXPECT_EQ(fetcher_->requests[1].url, "http://mirror.test/clamav/daily.cvd");
}

TEST_F(ClamavMirrorFeedTest, A404ForOneDatabaseFailsTheCheckAndKeepsTheSet) {
  PublishFirst();
  fetcher_->answers.clear();
  Serve("main", Cvd("main", 63));
  fetcher_->answers[absl::StrCat(kMirror, "/daily.cvd")] = {"", absl::NotFoundError("HTTP 404"),
                                                            ""};
  const UpdateAttempt& a = Check();
  EXPECT_EQ(a.result, "failed");
  EXPECT_THAT(a.reason, HasSubstr("download: http://mirror.test/clamav/daily.cvd: HTTP 404"));
  EXPECT_EQ(last_.running_version, "62.27400.335");
  EXPECT_EQ(Store().Pointer(), ParseBundleVersion("62.27400.335").value());
  EXPECT_TRUE(StagingEmpty());
}

TEST_F(ClamavMirrorFeedTest, AnOlderDatabaseIsAReplayEvenInANewerLookingSet) {
  PublishFirst();
  // main went forward, daily back: newer by the set's version, refused by daily's header.
  Serve("main", Cvd("main", 63));
  Serve("daily", Cvd("daily", 27399));
  const UpdateAttempt& a = Check();
  EXPECT_EQ(a.result, "failed");
  EXPECT_THAT(a.reason, HasSubstr("replay: daily.cvd version 27399 is older than the running 27400"));
  EXPECT_EQ(last_.running_version, "62.27400.335");
  EXPECT_TRUE(StagingEmpty());
  // main older: refused the same way, whatever the other databases say.
  Serve("main", Cvd("main", 61));
  Serve("daily", Cvd("daily", 27400));
  const UpdateAttempt& b = Check();
  EXPECT_EQ(b.result, "failed");
  EXPECT_THAT(b.reason, HasSubstr("replay: main.cvd version 61"));
  // The same files again: current.
  Serve("main", Cvd("main", 62));
  EXPECT_EQ(Check().result, "current");
  EXPECT_EQ(Store().Sets().size(), 1u);
}

TEST_F(ClamavMirrorFeedTest, ConditionalRequestsPerDatabaseAndUnchangedFilesComeFromTheSet) {
  PublishFirst();
  // Nothing new anywhere: 304s, nothing staged.
  Serve("main", "");
  Serve("daily", "");
  Serve("bytecode", "");
  fetcher_->requests.clear();
  EXPECT_EQ(Check().result, "not_modified");
  ASSERT_EQ(fetcher_->requests.size(), 3u);
  EXPECT_EQ(fetcher_->requests[0].etag, "\"m62\"");
  EXPECT_EQ(fetcher_->requests[1].etag, "\"d27400\"");
  EXPECT_TRUE(StagingEmpty());
  // Only daily moved: main and bytecode are taken from the running set.
  Serve("daily", Cvd("daily", 27401), "\"d27401\"");
  const UpdateAttempt& a = Check();
  ASSERT_EQ(a.result, "published") << a.reason;
  EXPECT_EQ(a.version, "62.27401.335");
  const std::string set = Store().SetDir(*ParseBundleVersion("62.27401.335"));
  EXPECT_EQ(ReadCvdHeader(set + "/main.cvd")->version, 62u);
  EXPECT_EQ(ReadCvdHeader(set + "/bytecode.cvd")->version, 335u);
  Serve("daily", "");
  fetcher_->requests.clear();
  EXPECT_EQ(Check().result, "not_modified");
  EXPECT_EQ(fetcher_->requests[1].etag, "\"d27401\"");
}

}  // namespace
}  // namespace kensa::feed
