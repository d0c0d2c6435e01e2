// SPDX-License-Identifier: GPL-2.0-or-later
// The [scan] and [policy] settings, and the subscriber policy built from them.
#include "appliance/config.h"
#include "appliance/subscriber_policy.h"
#include "server/connection_settings.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

TEST(ScanConfigTest, EmbeddedDefaultScansEveryExampleTestAddressBothWays) {
  KensaConfig c = EmbeddedDefaultConfig();
  EXPECT_TRUE(c.scan_enabled);
  EXPECT_FALSE(c.signature_dir.empty());
  ConfigSubscriberPolicy p(c);
  EXPECT_TRUE(p.Lookup("anyone@example.test").inbound);
  EXPECT_TRUE(p.Lookup("anyone@EXAMPLE.test").outbound);
  EXPECT_FALSE(p.Lookup("someone@example.org").inbound);
  EXPECT_EQ(p.Lookup("anyone@example.test").action, ScanAction::kRemove);
  EXPECT_EQ(p.Lookup("anyone@example.test").unscannable, UnscannableAction::kInfected);
}

// What a reactor may queue for its scan worker bounds kensad's memory under many big
// retrievals: 16 MiB, not the 64 MiB that let 64 POP3 clients x 5 MB peak at ~420 MB.
TEST(ScanConfigTest, ScanBytesInFlightDefaultIs16MiBPerReactor) {
  EXPECT_EQ(EmbeddedDefaultConfig().max_scan_bytes_in_flight, 16u << 20);
  EXPECT_EQ(SmtpConnectionSettings{}.max_scan_bytes_in_flight, 16u << 20);
  EXPECT_EQ(Pop3ConnectionSettings{}.max_scan_bytes_in_flight, 16u << 20);
}

TEST(ScanConfigTest, ReadsScanAndPolicySections) {
  absl::StatusOr<KensaConfig> c = ParseConfig(R"(
state_dir = "/tmp/k"
[tls]
self_signed = true
[scan]
signature_dir = "/srv/sigs"
max_file_bytes = 1048576
max_mime_depth = 8
whole_message_check = false
whole_message_max_bytes = 1000
engine_temp_dir = "/dev/shm"
max_bytes_in_flight = 8388608
verdict_cache_entries = 0
[policy]
inbound_addresses = ["Alice@Example.Test"]
outbound_domains = ["isp.example"]
action = "quarantine"
unscannable = "pass"
)",
                                              "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->signature_dir, "/srv/sigs");
  EXPECT_EQ(c->max_file_bytes, 1048576u);
  EXPECT_EQ(c->max_mime_depth, 8u);
  EXPECT_FALSE(c->whole_message_check);
  EXPECT_EQ(c->whole_message_max_bytes, 1000u);
  EXPECT_EQ(c->engine_temp_dir, "/dev/shm");
  EXPECT_EQ(c->max_scan_bytes_in_flight, 8388608u);
  EXPECT_EQ(c->verdict_cache_entries, 0u);
  EXPECT_EQ(c->scan_action, ScanAction::kQuarantine);
  EXPECT_EQ(c->unscannable_action, UnscannableAction::kPass);
  EXPECT_EQ(c->quarantine_dir, "/tmp/k/quarantine");
  EXPECT_EQ(c->scan_temp_dir, "/tmp/k/tmp");
  ConfigSubscriberPolicy p(*c);
  EXPECT_TRUE(p.Lookup("alice@example.test").inbound);
  EXPECT_TRUE(p.Lookup("alice+news@example.test").inbound) << "plus addressing";
  EXPECT_FALSE(p.Lookup("bob@example.test").inbound) << "a family member is not covered";
  EXPECT_FALSE(p.Lookup("alice@example.test").outbound);
  EXPECT_TRUE(p.Lookup("carol@isp.example").outbound);
  EXPECT_EQ(p.Lookup("carol@isp.example").action, ScanAction::kQuarantine);
  // The effective configuration round-trips.
  absl::StatusOr<KensaConfig> again = ParseConfig(DescribeConfig(*c), "described");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->inbound_addresses, c->inbound_addresses);
  EXPECT_EQ(again->scan_action, ScanAction::kQuarantine);
}

TEST(ScanConfigTest, KensaScanDoesNotNeedTheListenersCertificate) {
  const char* toml = "[[listener]]\naddress = \"127.0.0.1:25\"\ntls = \"starttls\"\n"
                     "[tls]\ncert_file = \"/nonexistent/cert.pem\"\n";
  EXPECT_FALSE(ParseConfig(toml, "t.toml").ok());
  EXPECT_TRUE(ParseConfig(toml, "t.toml", ConfigUse::kScanOnly).ok());
}

TEST(ScanConfigTest, BadValuesNameTheKey) {
  struct Case {
    const char* toml;
    const char* key;
  } cases[] = {
      {"[scan]\nmax_recursion = 0\n", "scan.max_recursion"},
      {"[scan]\nbogus = 1\n", "scan.bogus"},
      {"[scan]\nmax_scan_time = \"soon\"\n", "scan.max_scan_time"},
      {"[policy]\naction = \"delete\"\n", "policy.action"},
      {"[policy]\nunscannable = \"maybe\"\n", "policy.unscannable"},
      {"[policy]\ninbound_addresses = [\"no-at-sign\"]\n", "policy.inbound_addresses"},
      {"[policy]\ninbound_domains = [\"a b\"]\n", "policy.inbound_domains"},
  };
  for (const Case& k : cases) {
    absl::StatusOr<KensaConfig> c = ParseConfig(k.toml, "t.toml");
    ASSERT_FALSE(c.ok()) << k.toml;
    EXPECT_NE(c.status().message().find(k.key), std::string::npos) << c.status();
  }
}

}  // namespace
}  // namespace kensa
