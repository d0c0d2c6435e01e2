// SPDX-License-Identifier: GPL-2.0-or-later
// The bundle reader and writer: a round trip, and one test per refusal, each on a bundle that
// is valid but for the one defect under test.
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "feed/bundle_reader.h"
#include "feed/bundle_writer.h"
#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::kensa::feed::testing::BundleParts;
using ::kensa::feed::testing::RawMember;
using ::kensa::feed::testing::ReadFile;
using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::kensa::feed::testing::WriteRawArchive;
using ::testing::HasSubstr;

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::make_unique<Ed25519Key>(*std::move(key));
    absl::StatusOr<std::string> pem = key_->PublicPem();
    ASSERT_TRUE(pem.ok());
    trusted_.push_back(*Ed25519Key::PublicFromPem(*pem));
    parts_.Seal(*key_);
  }

  std::string Write(const std::vector<RawMember>& members, bool gzip = true) {
    const std::string path = dir_ / absl::StrCat("bundle", ++count_, ".tar.gz");
    EXPECT_TRUE(WriteRawArchive(path, members, gzip));
    return path;
  }

  // The reader's refusal of the bundle at path, or "" when it verified.
  std::string Refusal(const std::string& path, const BundleLimits& limits = {}) {
    absl::StatusOr<VerifiedManifest> m = VerifyBundle(path, trusted_, limits);
    return m.ok() ? "" : std::string(m.status().message());
  }

  TestDir dir_;
  std::unique_ptr<Ed25519Key> key_;
  TrustedKeys trusted_;
  BundleParts parts_;
  int count_ = 0;
};

TEST_F(BundleTest, BuildSignVerifyExtractRoundTrip) {
  const std::string db = dir_ / "db";
  std::filesystem::create_directory(db);
  WriteFile(db + "/x.ndb", "# c\nKensa.X:0:*:414243\nKensa.Y:0:*:444546\n");
  WriteFile(db + "/y.ldb", "Kensa.Z;Target:0;0;414243\n");
  WriteFile(db + "/notes.txt", "not a database, left out\n");
  BuildOptions o;
  o.database_dir = db;
  o.version = *ParseBundleVersion("2024.6.15.1");
  o.created = absl::FromUnixSeconds(1718452800);
  absl::StatusOr<Manifest> built = BuildBundle(o, dir_ / "unsigned.tar.gz");
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_EQ(built->files.size(), 2u);
  EXPECT_EQ(built->files[0].name, "x.ndb");
  EXPECT_EQ(built->files[0].signatures, 2u);
  EXPECT_EQ(built->totals, (std::map<std::string, uint64_t>{{"ldb", 1}, {"ndb", 2}}));
  EXPECT_EQ(built->created, "2024-06-15T12:00:00Z");

  EXPECT_THAT(Refusal(dir_ / "unsigned.tar.gz"), HasSubstr("unsigned bundle"));
  ASSERT_TRUE(SignBundle(dir_ / "unsigned.tar.gz", *key_, dir_ / "signed.tar.gz").ok());
  absl::StatusOr<VerifiedManifest> v = VerifyBundle(dir_ / "signed.tar.gz", trusted_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->key_id, key_->id());
  EXPECT_EQ(v->manifest.version.ToString(), "2024.6.15.1");

  const std::string staging = dir_ / "staging";
  absl::StatusOr<VerifiedManifest> x = ExtractBundle(dir_ / "signed.tar.gz", trusted_, staging);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(ReadFile(staging + "/x.ndb"), ReadFile(db + "/x.ndb"));
  EXPECT_EQ(ReadFile(staging + "/y.ldb"), ReadFile(db + "/y.ldb"));
  EXPECT_FALSE(std::filesystem::exists(staging + "/notes.txt"));
  struct stat st {};
  ASSERT_EQ(stat(staging.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(BundleTest, SameInputBuildsSameBytes) {
  const std::string db = dir_ / "db";
  std::filesystem::create_directory(db);
  WriteFile(db + "/x.ndb", "Kensa.X:0:*:414243\n");
  BuildOptions o;
  o.database_dir = db;
  o.version = *ParseBundleVersion("3");
  o.created = absl::FromUnixSeconds(1718452800);
  ASSERT_TRUE(BuildBundle(o, dir_ / "one.tar.gz").ok());
  ASSERT_TRUE(BuildBundle(o, dir_ / "two.tar.gz").ok());
  EXPECT_EQ(ReadFile(dir_ / "one.tar.gz"), ReadFile(dir_ / "two.tar.gz"));
}

TEST_F(BundleTest, AcceptsUncompressedTar) {
  EXPECT_EQ(Refusal(Write(parts_.Members(), /*gzip=*/false)), "");
}

TEST_F(BundleTest, RefusesTamperedFile) {
  std::vector<RawMember> m = parts_.Members();
  m[2].data[12] ^= 1;  // same size, one bit off
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("a.ndb has SHA-256"));
}

TEST_F(BundleTest, RefusesTamperedManifest) {
  std::vector<RawMember> m = parts_.Members();
  const size_t at = m[0].data.find("version = \"7\"");
  ASSERT_NE(at, std::string::npos);
  m[0].data.replace(at, 13, "version = \"8\"");
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("does not verify with any trusted key"));
}

TEST_F(BundleTest, RefusesTruncatedArchive) {
  const std::string whole = ReadFile(Write(parts_.Members(), /*gzip=*/false));
  const std::string path = dir_ / "truncated.tar";
  WriteFile(path, whole.substr(0, 1536 + 100));  // into the signature's data
  EXPECT_THAT(Refusal(path), HasSubstr("truncated or corrupt archive in manifest.sig"));
  // A small gzip'd bundle is decompressed whole when libarchive opens it: the gzip layer
  // names the truncation.
  const std::string gz = ReadFile(Write(parts_.Members()));
  WriteFile(path, gz.substr(0, gz.size() / 2));
  EXPECT_THAT(Refusal(path), HasSubstr("truncated gzip input"));
}

TEST_F(BundleTest, RefusesWrongKey) {
  absl::StatusOr<Ed25519Key> other = Ed25519Key::Generate();
  ASSERT_TRUE(other.ok());
  TrustedKeys wrong;
  wrong.push_back(*Ed25519Key::PublicFromPem(*other->PublicPem()));
  absl::StatusOr<VerifiedManifest> m = VerifyBundle(Write(parts_.Members()), wrong);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("does not verify with any trusted key"));
  EXPECT_THAT(m.status().message(), HasSubstr(other->id()));
}

TEST_F(BundleTest, RefusesUnsigned) {
  std::vector<RawMember> m = parts_.Members();
  m.erase(m.begin() + 1);
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("unsigned bundle"));
}

TEST_F(BundleTest, RefusesMalformedSignatureFile) {
  std::vector<RawMember> m = parts_.Members();
  m[1].data = "c2hvcnQ=\n";
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("manifest.sig is not one line of base64"));
}

TEST_F(BundleTest, RefusesManifestNotFirst) {
  std::vector<RawMember> m = parts_.Members();
  std::swap(m[0], m[2]);
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("the first member must be manifest.toml"));
}

TEST_F(BundleTest, RefusesMemberNotInManifest) {
  std::vector<RawMember> m = parts_.Members();
  m.push_back({"extra.ndb", "Kensa.Extra:0:*:414141\n"});
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("\"extra.ndb\" is not in the manifest"));
}

TEST_F(BundleTest, RefusesMissingMember) {
  std::vector<RawMember> m = parts_.Members();
  m.pop_back();
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("missing member(s) the manifest lists: b.hdb"));
}

TEST_F(BundleTest, RefusesDuplicateMember) {
  std::vector<RawMember> m = parts_.Members();
  m.push_back(m[2]);
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("\"a.ndb\" appears twice"));
}

TEST_F(BundleTest, RefusesParentPathTraversal) {
  std::vector<RawMember> m = parts_.Members();
  m.push_back({"../x.ndb", "Kensa.X:0:*:414141\n"});
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("\"../x.ndb\" is a path"));
}

TEST_F(BundleTest, RefusesAbsolutePath) {
  std::vector<RawMember> m = parts_.Members();
  m.push_back({"/etc/x.ndb", "Kensa.X:0:*:414141\n"});
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("is a path"));
}

TEST_F(BundleTest, RefusesSubdirectoryMember) {
  std::vector<RawMember> m = parts_.Members();
  m.insert(m.begin() + 2, RawMember{"sub", "", RawMember::Type::kDirectory});
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("member name refused"));
}

TEST_F(BundleTest, RefusesSymlinkMember) {
  // The link carries the name of a listed file, so only its type can refuse it.
  std::vector<RawMember> m = parts_.Members();
  m[3] = {"b.hdb", "", RawMember::Type::kSymlink, "/etc/passwd"};
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("\"b.hdb\" is a symbolic link"));
}

TEST_F(BundleTest, RefusesHardlinkMember) {
  std::vector<RawMember> m = parts_.Members();
  m[3] = {"b.hdb", "", RawMember::Type::kHardlink, "a.ndb"};
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("\"b.hdb\" is a hard link"));
}

TEST_F(BundleTest, RefusesSizeMismatch) {
  std::vector<RawMember> m = parts_.Members();
  m[3].data += "Kensa.Smuggled\n";
  EXPECT_THAT(Refusal(Write(m)), HasSubstr("b.hdb is 60 bytes; the manifest says 45"));
}

TEST_F(BundleTest, RefusesOversizeBundle) {
  BundleLimits limits;
  limits.max_bundle_bytes = 100;
  EXPECT_THAT(Refusal(Write(parts_.Members()), limits), HasSubstr("over max_bundle_bytes 100"));
}

TEST_F(BundleTest, RefusesOversizeManifest) {
  BundleLimits limits;
  limits.max_manifest_bytes = 64;
  EXPECT_THAT(Refusal(Write(parts_.Members()), limits),
              HasSubstr("manifest.toml is over max_manifest_bytes"));
}

TEST_F(BundleTest, RefusesTooManyFiles) {
  BundleLimits limits;
  limits.max_files = 1;
  EXPECT_THAT(Refusal(Write(parts_.Members()), limits), HasSubstr("over max_files 1"));
}

TEST_F(BundleTest, RefusesOversizeUnpacked) {
  BundleLimits limits;
  limits.max_unpacked_bytes = 50;
  EXPECT_THAT(Refusal(Write(parts_.Members()), limits), HasSubstr("over max_unpacked_bytes 50"));
}

TEST_F(BundleTest, RefusesNewerMinKensaVersion) {
  parts_.manifest.min_kensa_version = *ParseBundleVersion("999");
  parts_.manifest_text = FormatManifest(parts_.manifest);
  parts_.signature_file = EncodeSignatureFile(*key_->Sign(parts_.manifest_text));
  EXPECT_THAT(Refusal(Write(parts_.Members())), HasSubstr("needs kensa 999 or newer"));
}

TEST_F(BundleTest, RefusesNotAnArchive) {
  const std::string path = dir_ / "junk";
  WriteFile(path, std::string(4096, 'x'));
  EXPECT_THAT(Refusal(path), HasSubstr("not a readable tar or tar.gz archive"));
}

TEST_F(BundleTest, ExtractFailureLeavesNoPartialFiles) {
  std::vector<RawMember> m = parts_.Members();
  m[3].data[0] ^= 1;  // a.ndb was written and fsync'd before b.hdb fails
  const std::string bundle = Write(m);
  const std::string staging = dir_ / "staging";
  absl::StatusOr<VerifiedManifest> x = ExtractBundle(bundle, trusted_, staging);
  ASSERT_FALSE(x.ok());
  EXPECT_THAT(x.status().message(), HasSubstr("b.hdb has SHA-256"));
  EXPECT_FALSE(std::filesystem::exists(staging));  // it made the directory, so it removed it

  const std::string existing = dir_ / "existing";
  std::filesystem::create_directory(existing);
  ASSERT_FALSE(ExtractBundle(bundle, trusted_, existing).ok());
  EXPECT_TRUE(std::filesystem::is_empty(existing));
}

TEST_F(BundleTest, ExtractRefusesNonEmptyStagingDir) {
  const std::string staging = dir_ / "staging";
  std::filesystem::create_directory(staging);
  WriteFile(staging + "/old.ndb", "x");
  absl::StatusOr<VerifiedManifest> x = ExtractBundle(Write(parts_.Members()), trusted_, staging);
  ASSERT_FALSE(x.ok());
  EXPECT_THAT(x.status().message(), HasSubstr("not an empty directory"));
  EXPECT_EQ(ReadFile(staging + "/old.ndb"), "x");
}

TEST_F(BundleTest, SignatureFileRoundTrip) {
  const std::string sig(kEd25519SignatureBytes, '\x5a');
  absl::StatusOr<std::string> back = DecodeSignatureFile(EncodeSignatureFile(sig));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, sig);
  std::string unpadded = EncodeSignatureFile(sig);
  unpadded.erase(unpadded.find('='));
  EXPECT_FALSE(DecodeSignatureFile(unpadded).ok());
}

}  // namespace
}  // namespace kensa::feed
