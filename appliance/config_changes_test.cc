// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/config_changes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

KensaConfig Parse(const std::string& toml) {
  absl::StatusOr<KensaConfig> c = ParseConfig(toml, "test.toml", ConfigUse::kScanOnly);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : KensaConfig{};
}

constexpr char kBase[] = R"(
state_dir = "/var/lib/kensa-test"
[[listener]]
name = "mx"
address = "127.0.0.1:2525"
tls = "none"
[smtp]
max_message_bytes = 1000000
[policy]
inbound_domains = ["example.test"]
)";

TEST(ConfigChangesTest, TheSameFileChangesNothing) {
  EXPECT_THAT(ChangedKeys(Parse(kBase), Parse(kBase)), IsEmpty());
}

TEST(ConfigChangesTest, NamesEachChangedKeyAsTheFileSpellsIt) {
  std::string next = kBase;
  next.replace(next.find("1000000"), 7, "2000000");
  next += "action = \"reject\"\n";
  next = "log_level = \"debug\"\n" + next;
  EXPECT_THAT(ChangedKeys(Parse(kBase), Parse(next)),
              ElementsAre("log_level", "smtp.max_message_bytes", "policy.action"));
}

TEST(ConfigChangesTest, AListenerAddedOrChangedIsOneKey) {
  std::string next = std::string(kBase) + R"(
[[listener]]
name = "submission"
address = "127.0.0.1:5870"
tls = "none"
auth = "off"
)";
  EXPECT_THAT(ChangedKeys(Parse(kBase), Parse(next)), ElementsAre("listener"));
  std::string moved = kBase;
  moved.replace(moved.find("2525"), 4, "2526");
  EXPECT_THAT(ChangedKeys(Parse(kBase), Parse(moved)), ElementsAre("listener"));
}

TEST(ConfigChangesTest, DerivedPathsFollowTheStateDirectory) {
  std::string next = kBase;
  next.replace(next.find("kensa-test"), 10, "kensa-other");
  std::vector<std::string> keys = ChangedKeys(Parse(kBase), Parse(next));
  EXPECT_THAT(keys, ::testing::Contains("state_dir"));
  EXPECT_THAT(keys, ::testing::Contains("spool.dir"));
  EXPECT_THAT(keys, ::testing::Contains("tls.cert_file"));  // read again at the reload
  EXPECT_FALSE(AppliesWithoutRestart("state_dir"));
  EXPECT_FALSE(AppliesWithoutRestart("spool.dir"));
}

TEST(ConfigChangesTest, WhatAReloadAppliesAndWhatWaitsForARestart) {
  for (const char* live : {"log_level", "smtp.max_message_bytes", "smtp.local_domains",
                           "tls.cert_file", "delivery.next_hop", "policy.inbound_domains",
                           "policy.action", "pop3.backend", "auth.backend",
                           "scan.whole_message_check"}) {
    EXPECT_TRUE(AppliesWithoutRestart(live)) << live;
  }
  for (const char* restart : {"listener", "reactors", "state_dir", "spool.dir", "hostname",
                              "scan.signature_dir", "scan.max_file_bytes", "policy.subscriber_db",
                              "policy.quarantine_dir", "auth.max_failures", "control.socket",
                              "metrics.address", "signatures.feed", "log_file",
                              "delivery.max_connections_per_next_hop", "smtpx.y", "tls"}) {
    EXPECT_FALSE(AppliesWithoutRestart(restart)) << restart;
  }
}

}  // namespace
}  // namespace kensa
