// SPDX-License-Identifier: GPL-2.0-or-later
// The manifest parser's strictness: each test spoils one key of a valid manifest.
#include "feed/manifest.h"

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"(format = 1
version = "2024.6.15.1"
created = "2024-06-15T12:00:00Z"
min_kensa_version = "0.1.0"

[totals]
hdb = 1
ndb = 2

[[file]]
name = "a.ndb"
size = 10
sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
signatures = 2

[[file]]
name = "b.hdb"
size = 0
sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
signatures = 1
)";

std::string Spoil(std::string_view from, std::string_view to) {
  return absl::StrReplaceAll(kValid, {{absl::string_view(from.data(), from.size()),
                                       absl::string_view(to.data(), to.size())}});
}

std::string Refusal(const std::string& text) {
  absl::StatusOr<Manifest> m = ParseManifest(text);
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(ManifestTest, ParsesValid) {
  absl::StatusOr<Manifest> m = ParseManifest(kValid);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->version.ToString(), "2024.6.15.1");
  EXPECT_EQ(m->created, "2024-06-15T12:00:00Z");
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].name, "a.ndb");
  EXPECT_EQ(m->files[0].size, 10u);
  EXPECT_EQ(m->files[1].signatures, 1u);
  EXPECT_EQ(m->TotalBytes(), 10u);
  EXPECT_NE(m->Find("b.hdb"), nullptr);
}

TEST(ManifestTest, FormatParsesBackEqual) {
  absl::StatusOr<Manifest> m = ParseManifest(kValid);
  ASSERT_TRUE(m.ok());
  const std::string text = FormatManifest(*m);
  absl::StatusOr<Manifest> back = ParseManifest(text);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  EXPECT_EQ(FormatManifest(*back), text);
}

TEST(ManifestTest, RefusesUnknownTopKey) {
  EXPECT_THAT(Refusal(std::string(kValid) + "\nextra = 1\n"), HasSubstr("unknown key"));
  EXPECT_THAT(Refusal(Spoil("format = 1", "format = 1\nsigner = \"x\"")),
              HasSubstr("unknown key \"signer\""));
}

TEST(ManifestTest, RefusesUnknownFileKey) {
  EXPECT_THAT(Refusal(Spoil("signatures = 1", "signatures = 1\nmode = 420")),
              HasSubstr("unknown key file[1].\"mode\""));
}

TEST(ManifestTest, RefusesMissingKeys) {
  EXPECT_THAT(Refusal(Spoil("format = 1\n", "")), HasSubstr("missing key format"));
  EXPECT_THAT(Refusal(Spoil("created = \"2024-06-15T12:00:00Z\"\n", "")),
              HasSubstr("missing key created"));
  EXPECT_THAT(Refusal(Spoil("size = 10\n", "")), HasSubstr("missing key file[0].size"));
  EXPECT_THAT(Refusal(Spoil("[totals]\nhdb = 1\nndb = 2\n", "")), HasSubstr("missing key totals"));
}

TEST(ManifestTest, RefusesBadTypes) {
  EXPECT_THAT(Refusal(Spoil("size = 10", "size = \"10\"")),
              HasSubstr("file[0].size must be an integer"));
  EXPECT_THAT(Refusal(Spoil("size = 10", "size = -10")), HasSubstr("must not be negative"));
  EXPECT_THAT(Refusal(Spoil("version = \"2024.6.15.1\"", "version = 2024")),
              HasSubstr("version must be a string"));
  EXPECT_THAT(Refusal(Spoil("[totals]", "totals = 3\n[other]")), HasSubstr("unknown key"));
}

TEST(ManifestTest, RefusesBadHex) {
  EXPECT_THAT(Refusal(Spoil("0123456789abcdef0123", "0123456789ABCDEF0123")),
              HasSubstr("sha256 of a.ndb must be 64 lowercase hex digits"));
  EXPECT_THAT(Refusal(Spoil("0123456789abcdef0123", "0123456789abcdefg123")),
              HasSubstr("lowercase hex digits"));
  EXPECT_THAT(Refusal(Spoil("0123456789abcdef0123", "0123456789abcdef012")),
              HasSubstr("lowercase hex digits"));
}

TEST(ManifestTest, RefusesBadVersions) {
  EXPECT_THAT(Refusal(Spoil("\"2024.6.15.1\"", "\"2024.06.15\"")), HasSubstr("leading zero"));
  EXPECT_THAT(Refusal(Spoil("format = 1", "format = 2")), HasSubstr("format 2 is not supported"));
}

TEST(ManifestTest, RefusesBadCreationTime) {
  for (const char* bad :
       {"2024-06-15 12:00:00Z", "2024-06-15T12:00:00+01:00", "2024-06-15T12:00:00.5Z",
        "2024-13-15T12:00:00Z", "2024-02-30T12:00:00Z", "yesterday"}) {
    EXPECT_THAT(Refusal(Spoil("2024-06-15T12:00:00Z", bad)), HasSubstr("RFC 3339 UTC")) << bad;
  }
}

TEST(ManifestTest, RefusesBadFileNames) {
  EXPECT_THAT(Refusal(Spoil("\"a.ndb\"", "\"../a.ndb\"")), HasSubstr("is a path"));
  EXPECT_THAT(Refusal(Spoil("\"a.ndb\"", "\"/etc/a.ndb\"")), HasSubstr("is a path"));
  EXPECT_THAT(Refusal(Spoil("\"a.ndb\"", "\".a.ndb\"")), HasSubstr("starts with '.'"));
  EXPECT_THAT(Refusal(Spoil("\"a.ndb\"", "\"a.txt\"")),
              HasSubstr("not a ClamAV database file name"));
  EXPECT_THAT(Refusal(Spoil("\"a.ndb\"", "\"a b.ndb\"")), HasSubstr("outside [A-Za-z0-9._+-]"));
}

TEST(ManifestTest, RefusesDuplicateFile) {
  EXPECT_THAT(Refusal(Spoil("\"b.hdb\"", "\"a.ndb\"")), HasSubstr("\"a.ndb\" is listed twice"));
}

TEST(ManifestTest, RefusesTotalsThatDisagree) {
  EXPECT_THAT(Refusal(Spoil("ndb = 2", "ndb = 3")),
              HasSubstr("totals do not match the files' signature counts"));
  EXPECT_THAT(Refusal(Spoil("hdb = 1\n", "")), HasSubstr("totals do not match"));
}

TEST(ManifestTest, RefusesNoFiles) {
  const std::string head = std::string(kValid).substr(0, std::string(kValid).find("[totals]"));
  EXPECT_THAT(Refusal(head + "[totals]\n"), HasSubstr("missing key file"));
}

TEST(ManifestTest, RefusesTomlSyntaxErrors) {
  EXPECT_THAT(Refusal("format = = 1\n"), HasSubstr("line 1"));
}

TEST(ManifestTest, DatabaseKindIsLowercaseExtension) {
  EXPECT_EQ(DatabaseKind("main.CVD"), "cvd");
  EXPECT_EQ(DatabaseKind("x.ndb"), "ndb");
}

}  // namespace
}  // namespace kensa::feed
