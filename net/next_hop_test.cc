// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/next_hop.h"

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

using Kind = NextHop::Kind;

TEST(NextHopTest, SmtpWithAndWithoutPort) {
  absl::StatusOr<NextHop> h = ParseNextHop("smtp://mx.example.org:2525");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->kind, Kind::kSmtp);
  EXPECT_EQ(h->host, "mx.example.org");
  EXPECT_EQ(h->port, 2525);
  EXPECT_EQ(h->tls, TlsPolicy::kOpportunistic);

  h = ParseNextHop("smtp://mx.example.org");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->port, 25);
  h = ParseNextHop("smtp://127.0.0.1:2626/");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->host, "127.0.0.1");
  EXPECT_EQ(h->port, 2626);
}

TEST(NextHopTest, LmtpWithAndWithoutPort) {
  absl::StatusOr<NextHop> h = ParseNextHop("lmtp://dovecot:2424");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->kind, Kind::kLmtp);
  EXPECT_EQ(h->host, "dovecot");
  EXPECT_EQ(h->port, 2424);
  h = ParseNextHop("lmtp://dovecot");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->port, 24);
}

TEST(NextHopTest, BracketedIpv6) {
  absl::StatusOr<NextHop> h = ParseNextHop("lmtp://[::1]:24");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->kind, Kind::kLmtp);
  EXPECT_EQ(h->host, "::1");
  EXPECT_EQ(h->port, 24);
  EXPECT_EQ(h->ToString(), "lmtp://[::1]:24");
  // Without a port the scheme's default applies, as for names (the literal's colons are not
  // a port separator).
  h = ParseNextHop("smtp://[2001:db8::5]");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->host, "2001:db8::5");
  EXPECT_EQ(h->port, 25);
}

TEST(NextHopTest, TlsOptions) {
  absl::StatusOr<NextHop> h = ParseNextHop("smtp://relay:587?tls=required");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->tls, TlsPolicy::kRequired);
  EXPECT_EQ(h->port, 587);
  h = ParseNextHop("smtp://relay?tls=none");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->tls, TlsPolicy::kNone);
  EXPECT_EQ(h->port, 25);
  h = ParseNextHop("lmtp://[::1]:24?tls=opportunistic");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->tls, TlsPolicy::kOpportunistic);
}

TEST(NextHopTest, Maildir) {
  absl::StatusOr<NextHop> h = ParseNextHop("maildir:/var/mail");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->kind, Kind::kMaildir);
  EXPECT_EQ(h->path, "/var/mail");
  h = ParseNextHop("maildir://var/mail");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->path, "/var/mail");
  // Relative roots are accepted (the embedded default is "maildir:./kensa-data/maildir").
  h = ParseNextHop("maildir:./kensa-data/maildir");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->path, "./kensa-data/maildir");
  EXPECT_FALSE(ParseNextHop("maildir:").ok());
}

TEST(NextHopTest, Errors) {
  for (const char* bad : {
           "smtp://",                 // no host
           "smtp://:25",              // no host
           "lmtp://[]:24",            // no host
           "smtp://host:",            // bad port
           "smtp://host:0",           // bad port
           "smtp://host:65536",       // bad port
           "smtp://host:25x",         // bad port
           "smtp://host:+25",         // bad port
           "smtp://[::1]:",           // bad port
           "smtp://[::1]x",           // junk after ]
           "smtp://[::1",             // unterminated
           "http://host:25",          // unknown scheme
           "host:25",                 // unknown scheme
           "",                        // unknown scheme
           "smtp://::1",              // IPv6 needs brackets
           "smtp://2001:db8::5:25",   // IPv6 needs brackets
           "smtp://host?tls=maybe",   // unknown option
           "smtp://host?foo=bar",     // unknown option
           "smtp://user@host",        // bad host
           "smtp://ho st",            // bad host
       }) {
    absl::StatusOr<NextHop> h = ParseNextHop(bad);
    EXPECT_FALSE(h.ok()) << bad << " parsed as " << h->ToString();
    if (!h.ok()) {
      EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(NextHopTest, ErrorsNameTheProblem) {
  EXPECT_NE(ParseNextHop("smtp://").status().message().find("no host"), std::string::npos);
  EXPECT_NE(ParseNextHop("smtp://h:x").status().message().find("bad port"), std::string::npos);
  EXPECT_NE(ParseNextHop("ftp://h").status().message().find("unknown scheme"),
            std::string::npos);
  EXPECT_NE(ParseNextHop("smtp://::1").status().message().find("brackets"), std::string::npos);
  EXPECT_NE(ParseNextHop("smtp://h?x=y").status().message().find("unknown option"),
            std::string::npos);
}

TEST(NextHopTest, ToStringRoundTrips) {
  for (const char* uri : {"smtp://127.0.0.1:2626", "lmtp://[::1]:24", "maildir:/var/mail",
                          "smtp://mx.example.org:25?tls=none", "lmtp://lmtp:24?tls=required",
                          "smtp://[2001:db8::1]:587?tls=required", "maildir:./rel/dir"}) {
    absl::StatusOr<NextHop> h = ParseNextHop(uri);
    ASSERT_TRUE(h.ok()) << uri << ": " << h.status();
    EXPECT_EQ(h->ToString(), uri);
    absl::StatusOr<NextHop> again = ParseNextHop(h->ToString());
    ASSERT_TRUE(again.ok()) << h->ToString();
    EXPECT_EQ(again->ToString(), h->ToString());
  }
  // Defaults are made explicit.
  EXPECT_EQ(ParseNextHop("smtp://mx")->ToString(), "smtp://mx:25");
  EXPECT_EQ(ParseNextHop("lmtp://mx?tls=opportunistic")->ToString(), "lmtp://mx:24");
}


TEST(NextHopTest, BracketsHoldOnlyIpv6) {
  for (const char* bad : {"smtp://[mx.example]:25", "smtp://[]:25", "lmtp://[::1%eth0]:24",
                          "smtp://[::1]x"}) {
    absl::StatusOr<NextHop> h = ParseNextHop(bad);
    EXPECT_FALSE(h.ok()) << bad;
    if (!h.ok()) EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  absl::StatusOr<NextHop> h = ParseNextHop("smtp://[2001:db8::1]:2525?tls=required");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->host, "2001:db8::1");
  EXPECT_EQ(h->ToString(), "smtp://[2001:db8::1]:2525?tls=required");
}

}  // namespace
}  // namespace kensa::net
