// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/bundle_version.h"

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::testing::HasSubstr;

BundleVersion V(const char* s) {
  absl::StatusOr<BundleVersion> v = ParseBundleVersion(s);
  EXPECT_TRUE(v.ok()) << s << ": " << v.status();
  return v.ok() ? *v : BundleVersion{};
}

TEST(BundleVersionTest, ComparesComponentsAsNumbers) {
  EXPECT_LT(CompareBundleVersions(V("9"), V("10")), 0);
  EXPECT_LT(CompareBundleVersions(V("2024.6.9"), V("2024.6.10")), 0);
  EXPECT_GT(CompareBundleVersions(V("2025.1"), V("2024.12.31")), 0);
  EXPECT_EQ(CompareBundleVersions(V("27432"), V("27432")), 0);
}

TEST(BundleVersionTest, PrefixIsOlder) {
  EXPECT_LT(CompareBundleVersions(V("1.2"), V("1.2.0")), 0);
  EXPECT_GT(CompareBundleVersions(V("1.2.0"), V("1.2")), 0);
}

TEST(BundleVersionTest, OrderIsTotalAndConsistent) {
  std::vector<BundleVersion> vs = {V("10"), V("1.0"), V("1"), V("2"), V("1.0.0"), V("0.1.0")};
  std::sort(vs.begin(), vs.end());
  std::vector<std::string> names;
  for (const BundleVersion& v : vs) names.push_back(v.ToString());
  EXPECT_THAT(names, ::testing::ElementsAre("0.1.0", "1", "1.0", "1.0.0", "2", "10"));
  for (const BundleVersion& a : vs) {
    for (const BundleVersion& b : vs) {
      EXPECT_EQ(CompareBundleVersions(a, b), -CompareBundleVersions(b, a));
      EXPECT_EQ(CompareBundleVersions(a, b) == 0, a.ToString() == b.ToString());
    }
  }
}

TEST(BundleVersionTest, RefusesOtherSpellings) {
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "01", "1.02", "v1", "1.2a", "-1", " 1",
                          "1.2.3.4.5.6.7.8.9", "1234567890123456789"}) {
    EXPECT_FALSE(ParseBundleVersion(bad).ok()) << bad;
  }
  EXPECT_THAT(ParseBundleVersion("1.02").status().message(), HasSubstr("leading zero"));
}

TEST(BundleVersionTest, RoundTrips) {
  for (const char* s : {"0", "27432", "2024.6.15.1", "1.2.3.4.5.6.7.8", "999999999999999999"}) {
    EXPECT_EQ(V(s).ToString(), s);
  }
}

TEST(BundleVersionTest, KensaVersionIsTheProjectVersion) {
  EXPECT_GE(KensaVersion().parts.size(), 2u);
}

}  // namespace
}  // namespace kensa::feed
