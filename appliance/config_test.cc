// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/config.h"

#include "gtest/gtest.h"

namespace kensa {
namespace {

TEST(ConfigTest, EmbeddedDefaultIsLoopbackOnlyWithMaildirDelivery) {
  KensaConfig c = EmbeddedDefaultConfig();
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1:2525");
  EXPECT_EQ(c.listeners[0].tls, ListenerTls::kStartTls);
  EXPECT_EQ(c.local_domains, std::vector<std::string>{"example.test"});
  EXPECT_EQ(c.next_hop, "maildir:./kensa-data/maildir");
  EXPECT_EQ(c.spool_dir, "./kensa-data/spool");
  EXPECT_TRUE(c.tls_self_signed);
}

TEST(ConfigTest, ReadsEverySectionAndDerivesPaths) {
  absl::StatusOr<KensaConfig> c = ParseConfig(R"(
hostname = "mx1.isp.example"
state_dir = "/tmp/k"
reactors = 2
[[listener]]
name = "mx"
address = "127.0.0.1:2525"
tls = "none"
[[listener]]
name = "mx6"
address = "[::1]:2525"
tls = "none"
[smtp]
local_domains = ["Example.Test", "isp.example"]
max_recipients = 50
command_timeout = "2s"
[delivery]
next_hop = "smtp://127.0.0.1:2626"
retry_min = "1s"
retry_max = "2m"
max_queue_lifetime = "5d"
)", "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hostname, "mx1.isp.example");
  EXPECT_EQ(c->reactors, 2);
  ASSERT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listeners[1].address, "[::1]:2525");
  EXPECT_EQ(c->local_domains[0], "example.test");
  EXPECT_EQ(c->max_recipients, 50u);
  EXPECT_EQ(c->command_timeout, absl::Seconds(2));
  EXPECT_EQ(c->retry_max, absl::Minutes(2));
  EXPECT_EQ(c->max_queue_lifetime, absl::Hours(120));
  EXPECT_EQ(c->spool_dir, "/tmp/k/spool");
}

struct BadCase {
  const char* toml;
  const char* error_names;
};

TEST(ConfigTest, ErrorsNameTheKey) {
  const BadCase cases[] = {
      {"colour = 1\n", "colour: unknown setting"},
      {"[smtp]\nmax_recipients = 0\n", "smtp.max_recipients"},
      {"[smtp]\nmax_recipient = 5\n", "smtp.max_recipient: unknown setting"},
      {"[smtp]\ncommand_timeout = 30\n", "smtp.command_timeout"},
      {"[smtp]\ncommand_timeout = \"soon\"\n", "smtp.command_timeout"},
      {"[delivery]\nnext_hop = \"ftp://x\"\n", "delivery.next_hop"},
      {"[delivery]\ntls = \"maybe\"\n", "delivery.tls"},
      {"[[listener]]\naddress = \"localhost\"\ntls = \"none\"\n", "listener[0].address"},
      {"[[listener]]\naddress = \"127.0.0.1:25\"\ntls = \"yes\"\n", "listener[0].tls"},
      {"[smtp]\nconnection_limit_exempt = [\"banana\"]\n", "smtp.connection_limit_exempt"},
      {"log_level = \"loud\"\n", "log_level"},
      {"[smtp\n", "test.toml:"},
  };
  for (const BadCase& bc : cases) {
    absl::StatusOr<KensaConfig> c = ParseConfig(bc.toml, "test.toml");
    ASSERT_FALSE(c.ok()) << bc.toml;
    EXPECT_NE(std::string(c.status().message()).find(bc.error_names), std::string::npos)
        << "for " << bc.toml << " got " << c.status();
  }
}

TEST(ConfigTest, DescribedConfigParsesBackToTheSameSettings) {
  KensaConfig c = EmbeddedDefaultConfig();
  absl::StatusOr<KensaConfig> back = ParseConfig(DescribeConfig(c), "described");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << DescribeConfig(c);
  EXPECT_EQ(DescribeConfig(*back), DescribeConfig(c));
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(*ParseConfigDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseConfigDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseConfigDuration("2d"), absl::Hours(48));
  EXPECT_FALSE(ParseConfigDuration("-1s").ok());
  EXPECT_FALSE(ParseConfigDuration("10").ok());
  EXPECT_FALSE(ParseConfigDuration("").ok());
}

}  // namespace
}  // namespace kensa
