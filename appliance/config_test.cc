// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/config.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

TEST(ConfigTest, EmbeddedDefaultIsLoopbackOnlyWithMaildirDelivery) {
  KensaConfig c = EmbeddedDefaultConfig();
  ASSERT_EQ(c.listeners.size(), 5u);
  EXPECT_EQ(c.listeners[3].address, "127.0.0.1:2110");
  EXPECT_EQ(c.listeners[3].protocol, ListenerProtocol::kPop3);
  EXPECT_EQ(c.listeners[3].tls, ListenerTls::kStartTls);
  EXPECT_EQ(c.listeners[4].address, "127.0.0.1:2995");
  EXPECT_EQ(c.listeners[4].tls, ListenerTls::kImplicit);
  EXPECT_EQ(c.pop3_backend, "127.0.0.1:2111");
  EXPECT_EQ(c.pop3_read_ahead_messages, 3u);  // read-ahead is on by default
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1:2525");
  EXPECT_EQ(c.listeners[0].tls, ListenerTls::kStartTls);
  EXPECT_EQ(c.listeners[0].auth, ListenerAuth::kOptional);
  EXPECT_EQ(c.listeners[1].address, "127.0.0.1:2587");
  EXPECT_EQ(c.listeners[1].tls, ListenerTls::kStartTls);
  EXPECT_EQ(c.listeners[1].auth, ListenerAuth::kRequired);
  EXPECT_EQ(c.listeners[2].address, "127.0.0.1:2465");
  EXPECT_EQ(c.listeners[2].tls, ListenerTls::kImplicit);
  EXPECT_EQ(c.listeners[2].auth, ListenerAuth::kRequired);
  EXPECT_EQ(c.auth_backend, "file");
  EXPECT_EQ(c.outbound_next_hop, "maildir:./kensa-data/maildir");
  EXPECT_EQ(c.subscriber_db, "./kensa-data/subscribers");
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
      {"[smtp]\nmax_data_line_bytes = 998\n", "smtp.max_data_line_bytes"},
      {"[smtp]\nmax_recipient = 5\n", "smtp.max_recipient: unknown setting"},
      {"[smtp]\ncommand_timeout = 30\n", "smtp.command_timeout"},
      {"[smtp]\ncommand_timeout = \"soon\"\n", "smtp.command_timeout"},
      {"[delivery]\nnext_hop = \"ftp://x\"\n", "delivery.next_hop"},
      {"[delivery]\ntls = \"maybe\"\n", "delivery.tls"},
      {"[[listener]]\naddress = \"localhost\"\ntls = \"none\"\n", "listener[0].address"},
      {"[[listener]]\naddress = \"127.0.0.1:25\"\ntls = \"yes\"\n", "listener[0].tls"},
      {"[smtp]\nconnection_limit_exempt = [\"banana\"]\n", "smtp.connection_limit_exempt"},
      {"log_level = \"loud\"\n", "log_level"},
      {"recv_buffers = 1000\n", "recv_buffers: must be a power of 2"},
      {"recv_buffers = 32\n", "recv_buffers"},
      {"[metrics]\naddress = \"localhost\"\n", "metrics.address"},
      {"[metrics]\nport = 9464\n", "metrics.port: unknown setting"},
      {"[smtp\n", "test.toml:"},
      {"[[listener]]\naddress = \"127.0.0.1:25\"\nproxy_protocol = true\n",
       "listener[0].trusted_proxies"},
      {"[[listener]]\naddress = \"127.0.0.1:25\"\ntrusted_proxies = [\"lb\"]\n",
       "listener[0].trusted_proxies: not a network"},
      {"[[listener]]\naddress = \"127.0.0.1:25\"\nproxy_header_max_bytes = 100\n",
       "listener[0].proxy_header_max_bytes"},
      {"[provisioning]\nsubscribers_url = \"ftp://x/s.csv\"\n", "provisioning.subscribers_url"},
      {"[provisioning]\nkeep_local_domains = [\"a@b\"]\n", "provisioning.keep_local_domains"},
      {"[provisioning]\npoll_interval = \"0s\"\n", "provisioning.poll_interval"},
  };
  for (const BadCase& bc : cases) {
    absl::StatusOr<KensaConfig> c = ParseConfig(bc.toml, "test.toml");
    ASSERT_FALSE(c.ok()) << bc.toml;
    EXPECT_NE(std::string(c.status().message()).find(bc.error_names), std::string::npos)
        << "for " << bc.toml << " got " << c.status();
  }
}

TEST(ConfigTest, RecvBuffersDefaultsTo1024AndTakesAPowerOfTwo) {
  const std::string base = "[tls]\nself_signed = true\n";
  absl::StatusOr<KensaConfig> d = ParseConfig(base, "test.toml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->recv_buffers, 1024);
  absl::StatusOr<KensaConfig> c = ParseConfig("recv_buffers = 256\n" + base, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->recv_buffers, 256);
  absl::StatusOr<KensaConfig> back = ParseConfig(DescribeConfig(*c), "test.toml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->recv_buffers, 256);
}

TEST(ConfigTest, DescribedConfigParsesBackToTheSameSettings) {
  KensaConfig c = EmbeddedDefaultConfig();
  absl::StatusOr<KensaConfig> back = ParseConfig(DescribeConfig(c), "described");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << DescribeConfig(c);
  EXPECT_EQ(DescribeConfig(*back), DescribeConfig(c));
}

TEST(ConfigTest, MetricsAddressIsLoopbackByDefaultAndOffTurnsItOff) {
  const std::string base = "[tls]\nself_signed = true\n";
  absl::StatusOr<KensaConfig> c = ParseConfig(base, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(EmbeddedDefaultConfig().metrics_address, "127.0.0.1:9464");
  for (const char* off : {"off", ""}) {
    c = ParseConfig(absl::StrCat(base, "[metrics]\naddress = \"", off, "\"\n"), "test.toml");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->metrics_address, "");
    absl::StatusOr<KensaConfig> back = ParseConfig(DescribeConfig(*c), "described");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->metrics_address, "");
  }
  c = ParseConfig(absl::StrCat(base, "[metrics]\naddress = \"[::1]:9100\"\n"), "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_address, "[::1]:9100");
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(*ParseConfigDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseConfigDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseConfigDuration("2d"), absl::Hours(48));
  EXPECT_FALSE(ParseConfigDuration("-1s").ok());
  EXPECT_FALSE(ParseConfigDuration("10").ok());
  EXPECT_FALSE(ParseConfigDuration("").ok());
}

TEST(ConfigTest, AuthAndSubmissionSettings) {
  absl::StatusOr<KensaConfig> c = ParseConfig(R"(
[[listener]]
name = "submission"
address = "127.0.0.1:2587"
tls = "starttls"
auth = "required"
[auth]
backend = "dovecot"
dovecot_socket = "unix:/run/dovecot/auth-client"
sender_rule = "domain"
max_failures = 5
failure_delay = "2s"
max_failure_delay = "1m"
[delivery]
outbound_next_hop = "smtp://relay.isp.example:25"
outbound_tls = "opportunistic"
[policy]
subscriber_db = "/var/lib/kensa/subs"
[pop3]
backend = "[::1]:110"
backend_tls = "starttls"
plaintext_auth = true
read_ahead_messages = 0
read_ahead_max_bytes = 65536
)", "test.toml", ConfigUse::kScanOnly);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listeners[0].auth, ListenerAuth::kRequired);
  EXPECT_EQ(c->auth_backend, "dovecot");
  EXPECT_EQ(c->auth_sender_rule, SenderRule::kDomain);
  EXPECT_EQ(c->auth_max_failures, 5u);
  EXPECT_EQ(c->auth_max_failure_delay, absl::Minutes(1));
  EXPECT_EQ(c->outbound_next_hop, "smtp://relay.isp.example:25");
  EXPECT_EQ(c->outbound_tls, "opportunistic");
  EXPECT_EQ(c->subscriber_db, "/var/lib/kensa/subs");
  EXPECT_EQ(c->pop3_backend, "[::1]:110");
  EXPECT_EQ(c->pop3_backend_tls, "starttls");
  EXPECT_TRUE(c->pop3_plaintext_auth);
  EXPECT_EQ(c->pop3_read_ahead_messages, 0u);
  EXPECT_EQ(c->pop3_read_ahead_max_bytes, 65536u);
  // The description round-trips.
  absl::StatusOr<KensaConfig> again = ParseConfig(DescribeConfig(*c), "again", ConfigUse::kScanOnly);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(DescribeConfig(*again), DescribeConfig(*c));
}

TEST(ConfigTest, AuthSettingsAreChecked) {
  struct Case {
    const char* toml;
    const char* error;
  };
  for (const Case& k : {
           Case{"[auth]\nbackend = \"ldap\"\n", "auth.backend"},
           Case{"[auth]\nbackend = \"file\"\n", "auth.passwd_file"},
           Case{"[auth]\nbackend = \"dovecot\"\ndovecot_socket = \"/run/x\"\n",
                "auth.dovecot_socket"},
           Case{"[auth]\nsender_rule = \"mine\"\n", "auth.sender_rule"},
           Case{"[auth]\nfailure_delay = \"10s\"\nmax_failure_delay = \"1s\"\n",
                "auth.max_failure_delay"},
           Case{"[auth]\nbogus = 1\n", "auth.bogus: unknown setting"},
           Case{"[[listener]]\naddress = \"127.0.0.1:1\"\nauth = \"maybe\"\n", "listener[0].auth"},
           Case{"[[listener]]\naddress = \"127.0.0.1:1\"\ntls = \"none\"\nauth = \"required\"\n",
                "listener[0].auth"},
           Case{"[[listener]]\naddress = \"127.0.0.1:1\"\nauth = \"required\"\n",
                "needs an [auth] backend"},
           Case{"[delivery]\noutbound_next_hop = \"ftp://x\"\n", "delivery.outbound_next_hop"},
           Case{"[delivery]\noutbound_tls = \"always\"\n", "delivery.outbound_tls"},
           Case{"[pop3]\nbackend = \"pop.isp.example\"\n", "pop3.backend"},
           Case{"[pop3]\nbackend_tls = \"yes\"\n", "pop3.backend_tls"},
           Case{"[pop3]\nread_ahead_messages = 17\n", "pop3.read_ahead_messages"},
           Case{"[pop3]\nread_ahead_max_bytes = -1\n", "pop3.read_ahead_max_bytes"},
           Case{"[[listener]]\naddress = \"127.0.0.1:1\"\nprotocol = \"imap\"\n",
                "listener[0].protocol"},
       }) {
    absl::StatusOr<KensaConfig> c = ParseConfig(k.toml, "t.toml", ConfigUse::kScanOnly);
    ASSERT_FALSE(c.ok()) << k.toml;
    EXPECT_NE(std::string(c.status().message()).find(k.error), std::string::npos)
        << k.toml << " -> " << c.status();
  }
}

TEST(ConfigTest, SignaturesHaveNoFeedByDefaultAndAStoreUnderStateDir) {
  absl::StatusOr<KensaConfig> c = ParseConfig("state_dir = \"/tmp/k\"\n", "t.toml",
                                              ConfigUse::kScanOnly);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->signatures.feeds.empty());
  EXPECT_EQ(c->signatures.store_dir, "/tmp/k/signature-store");
  EXPECT_EQ(c->signatures.poll_interval, absl::Hours(1));
  EXPECT_EQ(c->signatures.keep_sets, 3);
}

TEST(ConfigTest, ReadsSignatureFeeds) {
  absl::StatusOr<KensaConfig> c = ParseConfig(R"(
[signatures]
poll_interval = "10m"
poll_jitter = "30s"
transfer_timeout = "2m"
max_download_bytes = 1048576
retry_min = "10s"
retry_max = "5m"
keep_sets = 5
max_age_warning = "2d"
[[signatures.feed]]
name = "main"
url = "https://sigs.example.net/b.tar.gz"
public_keys = ["/etc/kensa/a.pub", "/etc/kensa/b.pub"]
[[signatures.feed]]
name = "local"
url = "http://127.0.0.1:8080/b.tar.gz"
kind = "bundle"
public_keys = ["/etc/kensa/c.pub"]
[[signatures.feed]]
name = "isp"
url = "http://mirror.isp.example/clamav/"
kind = "clamav-mirror"
[[signatures.feed]]
name = "isp-daily"
url = "http://mirror.isp.example/clamav"
kind = "clamav-mirror"
databases = ["daily"]
)",
                                              "t.toml", ConfigUse::kScanOnly);
  ASSERT_TRUE(c.ok()) << c.status();
  const feed::UpdaterSettings& u = c->signatures;
  ASSERT_EQ(u.feeds.size(), 4u);
  EXPECT_EQ(u.feeds[0].name, "main");
  EXPECT_EQ(u.feeds[0].kind, feed::FeedKind::kBundle);
  EXPECT_EQ(u.feeds[2].kind, feed::FeedKind::kClamavMirror);
  EXPECT_EQ(u.feeds[2].databases, (std::vector<std::string>{"main", "daily", "bytecode"}));
  EXPECT_EQ(u.feeds[3].databases, std::vector<std::string>{"daily"});
  EXPECT_EQ(u.feeds[0].public_keys.size(), 2u);
  EXPECT_EQ(u.feeds[1].url, "http://127.0.0.1:8080/b.tar.gz");
  EXPECT_EQ(u.poll_interval, absl::Minutes(10));
  EXPECT_EQ(u.poll_jitter, absl::Seconds(30));
  EXPECT_EQ(u.transfer_timeout, absl::Minutes(2));
  EXPECT_EQ(u.max_download_bytes, 1048576u);
  EXPECT_EQ(u.retry_max, absl::Minutes(5));
  EXPECT_EQ(u.keep_sets, 5);
  EXPECT_EQ(u.max_age_warning, absl::Hours(48));
  // What --check-config prints parses back to the same feeds.
  absl::StatusOr<KensaConfig> again =
      ParseConfig(DescribeConfig(*c), "d.toml", ConfigUse::kScanOnly);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->signatures.feeds.size(), 4u);
  EXPECT_EQ(again->signatures.feeds[1].public_keys[0], "/etc/kensa/c.pub");
  EXPECT_EQ(again->signatures.feeds[3].kind, feed::FeedKind::kClamavMirror);
  EXPECT_EQ(again->signatures.feeds[3].databases, std::vector<std::string>{"daily"});
}

TEST(ConfigTest, BadSignatureSettingsNameTheKey) {
  const std::string feed = "[[signatures.feed]]\nname = \"f\"\nurl = \"http://x/b\"\n"
                           "public_keys = [\"k.pub\"]\n";
  struct Case {
    std::string toml, error;
  };
  for (const Case& k : {
           Case{"[signatures]\nkeep_sets = 1\n", "signatures.keep_sets"},
           Case{"[signatures]\nretry_min = \"5m\"\nretry_max = \"1m\"\n",
                "signatures.retry_max"},
           Case{"[signatures]\nconnect_timeout = \"1m\"\ntransfer_timeout = \"10s\"\n",
                "signatures.transfer_timeout"},
           Case{"[signatures]\nmax_download_bytes = 10\n", "signatures.max_download_bytes"},
           Case{"[signatures]\npoll = \"1h\"\n", "signatures.poll: unknown setting"},
           Case{"[[signatures.feed]]\nname = \"f\"\nurl = \"ftp://x/b\"\npublic_keys = [\"k\"]\n",
                "signatures.feed[0].url"},
           Case{"[[signatures.feed]]\nname = \"f\"\nurl = \"http://x/b\"\n",
                "signatures.feed[0].public_keys"},
           Case{"[[signatures.feed]]\nname = \"a/b\"\nurl = \"http://x/b\"\n"
                "public_keys = [\"k\"]\n",
                "signatures.feed[0].name"},
           Case{"[[signatures.feed]]\nname = \"f\"\nurl = \"http://x/b\"\nkind = \"cvd\"\n"
                "public_keys = [\"k\"]\n",
                "signatures.feed[0].kind"},
           Case{feed + "key = 1\n", "signatures.feed[0].key: unknown setting"},
           Case{feed + "databases = [\"daily\"]\n",
                "signatures.feed[0].databases: unknown setting"},
           Case{"[[signatures.feed]]\nname = \"m\"\nurl = \"http://x/\"\n"
                "kind = \"clamav-mirror\"\npublic_keys = [\"k\"]\n",
                "signatures.feed[0].public_keys"},
           Case{"[[signatures.feed]]\nname = \"m\"\nurl = \"http://x/\"\n"
                "kind = \"clamav-mirror\"\ndatabases = []\n",
                "signatures.feed[0].databases"},
           Case{"[[signatures.feed]]\nname = \"m\"\nurl = \"http://x/\"\n"
                "kind = \"clamav-mirror\"\ndatabases = [\"../daily\"]\n",
                "signatures.feed[0].databases"},
           Case{"[[signatures.feed]]\nname = \"m\"\nurl = \"http://x/\"\n"
                "kind = \"clamav-mirror\"\ndatabases = [\"daily\", \"daily\"]\n",
                "signatures.feed[0].databases: duplicate"},
           Case{feed + feed, "signatures.feed[1].name: duplicate feed name"},
       }) {
    absl::StatusOr<KensaConfig> c = ParseConfig(k.toml, "t.toml", ConfigUse::kScanOnly);
    ASSERT_FALSE(c.ok()) << k.toml;
    EXPECT_NE(std::string(c.status().message()).find(k.error), std::string::npos)
        << k.toml << " -> " << c.status();
  }
}

}  // namespace
}  // namespace kensa
