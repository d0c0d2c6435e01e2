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

TEST(ConfigChangesTest, AReloadRunsTheNewLiveSettingsAndTheRunningRestartOnlyOnes) {
  const KensaConfig running = Parse(kBase);
  // A file that changes a key of every section, restart-only and live alike.
  const KensaConfig next = Parse(R"(
hostname = "other.example"
state_dir = "/var/lib/kensa-other"
reactors = 3
pin_reactors = false
recv_buffers = 512
log_file = "/tmp/other.log"
log_level = "debug"
drain_timeout = "7s"
drain_grace = "2s"
[[listener]]
name = "mx2"
address = "127.0.0.1:2626"
tls = "none"
[smtp]
max_message_bytes = 2000000
local_domains = ["other.example"]
[tls]
self_signed = true
[spool]
dir = "/var/spool/other"
min_free_bytes = 1
[delivery]
next_hop = "smtp://127.0.0.1:2727"
retry_min = "3s"
max_connections_per_next_hop = 7
[scan]
enabled = false
signature_dir = "/tmp/other-sigs"
check_canaries = false
temp_dir = "/tmp/other-tmp"
max_scan_bytes = 2097152
max_file_bytes = 2097152
max_recursion = 3
max_files = 3
max_scan_time = "3s"
part_memory_bytes = 4096
verdict_cache_entries = 3
whole_message_check = false
engine_temp_dir = "/tmp/other-engine"
prefilter = false
prefilter_cache_dir = "/tmp/other-cache"
prefilter_min_signatures = 3
[policy]
inbound_domains = ["other.example"]
action = "reject"
quarantine_dir = "/tmp/other-quarantine"
subscriber_db = "/tmp/other-db"
subscriber_db_map_bytes = 1048576
[pop3]
backend = "127.0.0.1:2828"
[auth]
max_failures = 3
failure_window = "3m"
failure_delay = "3s"
max_failure_delay = "9s"
max_failures_per_session = 2
[signatures]
poll_interval = "3h"
[control]
socket = "/tmp/other.sock"
admin_group = "other"
max_clients = 3
idle_timeout = "3s"
[metrics]
address = "127.0.0.1:9999"
[provisioning]
subscribers_url = "http://127.0.0.1:2929/subscribers.csv"
poll_interval = "3m"
keep_local_domains = ["other.example"]
)");
  const KensaConfig merged = WithRestartOnlySettingsOf(running, next);
  const std::vector<std::string> from_running = ChangedKeys(running, merged);
  EXPECT_FALSE(from_running.empty());
  for (const std::string& k : from_running) {
    EXPECT_TRUE(AppliesWithoutRestart(k)) << k << " took the new file's value before a restart";
  }
  const std::vector<std::string> from_file = ChangedKeys(merged, next);
  EXPECT_FALSE(from_file.empty());
  for (const std::string& k : from_file) {
    EXPECT_FALSE(AppliesWithoutRestart(k)) << k << " is live but kept its running value";
  }
}

}  // namespace
}  // namespace kensa
