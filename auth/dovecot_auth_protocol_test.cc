// SPDX-License-Identifier: GPL-2.0-or-later
// The Dovecot auth protocol's encoding rules, without a server.
#include "auth/dovecot_auth_protocol.h"

#include "absl/strings/escaping.h"
#include "auth/dovecot_connection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = AuthOutcome::Kind;

TEST(DovecotProtocolTest, TabEscapingRoundTripsAndLeavesNoSeparators) {
  std::string nasty("a\tb\nc\rd\001e\0f", 11);
  std::string escaped = DovecotTabEscape(nasty);
  EXPECT_EQ(escaped, std::string("a\001tb\001nc\001rd\0011e\0010f"));
  EXPECT_EQ(escaped.find('\t'), std::string::npos);
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(DovecotTabUnescape(escaped), nasty);
  EXPECT_EQ(DovecotTabUnescape("x\001zy\001"), "xzy\001");
}

TEST(DovecotProtocolTest, HandshakeNeedsVersionOneAndPlain) {
  EXPECT_EQ(DovecotClientHandshake(42), "VERSION\t1\t2\nCPID\t42\n");
  DovecotHandshake ok;
  for (const char* line : {"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext",
                           "SPID\t11154", "CUID\t1", "COOKIE\t8ad774cc", "DONE"}) {
    ASSERT_TRUE(ok.Consume(line).ok()) << line;
  }
  EXPECT_TRUE(ok.done());

  DovecotHandshake v2;
  EXPECT_FALSE(v2.Consume("VERSION\t2\t0").ok());
  DovecotHandshake no_version;
  EXPECT_FALSE(no_version.Consume("MECH\tPLAIN").ok());
  DovecotHandshake no_plain;
  ASSERT_TRUE(no_plain.Consume("VERSION\t1\t3").ok());
  ASSERT_TRUE(no_plain.Consume("MECH\tCRAM-MD5").ok());
  absl::Status st = no_plain.Consume("DONE");
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("PLAIN"));
}

TEST(DovecotProtocolTest, AuthLineCarriesEscapedFieldsAndBase64Credentials) {
  AuthRequest r;
  r.authzid = "";
  r.user = "alice@example.test";
  r.password = "pw\tinjected=1";
  r.client_address = "192.0.2.1\tuser=evil";  // never legitimate; must stay one field
  r.local_address = "::1";
  r.secured = true;
  std::string line = DovecotAuthLine(7, r);
  std::string resp = absl::Base64Escape(std::string("\0alice@example.test\0pw\tinjected=1", 33));
  EXPECT_EQ(line, "AUTH\t7\tPLAIN\tservice=smtp\tnologin\tno-penalty\tsecured\t"
                  "rip=192.0.2.1\001tuser=evil\tlip=::1\tresp=" + resp + "\n");
  EXPECT_THAT(line, Not(HasSubstr("pw")));
  r.secured = false;
  r.local_address.clear();
  DovecotAuthLineOptions penalty;
  penalty.penalty = true;
  EXPECT_EQ(DovecotAuthLine(8, r, penalty),
            "AUTH\t8\tPLAIN\tservice=smtp\tnologin\trip=192.0.2.1\001tuser=evil\tresp=" + resp + "\n");
}

TEST(DovecotProtocolTest, RepliesMapToOutcomes) {
  AuthRequest r;
  r.user = "Alice@Example.Test";
  auto ok = ParseDovecotReply("OK\t3\tuser=alice@example.test\toriginal_user=Alice@Example.Test");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->id, 3u);
  AuthOutcome o = DovecotOutcome(*ok, r);
  EXPECT_EQ(o.kind, Kind::kOk);
  EXPECT_EQ(o.user, "alice@example.test");
  EXPECT_EQ(o.addresses, std::vector<std::string>{"alice@example.test"});

  auto bare_ok = ParseDovecotReply("OK\t4");
  ASSERT_TRUE(bare_ok.ok());
  EXPECT_EQ(DovecotOutcome(*bare_ok, r).user, "alice@example.test");
  r.user = "bob";
  EXPECT_TRUE(DovecotOutcome(*bare_ok, r).addresses.empty());

  auto fail = ParseDovecotReply("FAIL\t5\tuser=bob\treason=Password expired");
  ASSERT_TRUE(fail.ok());
  AuthOutcome f = DovecotOutcome(*fail, r);
  EXPECT_EQ(f.kind, Kind::kFailed);
  EXPECT_THAT(f.reason, HasSubstr("Password expired"));
  for (const char* temp : {"FAIL\t6\tuser=bob\tcode=temp_fail", "FAIL\t6\ttemp"}) {
    auto t = ParseDovecotReply(temp);
    ASSERT_TRUE(t.ok()) << temp;
    EXPECT_EQ(DovecotOutcome(*t, r).kind, Kind::kTempFail) << temp;
  }
  auto cont = ParseDovecotReply("CONT\t9\t");
  ASSERT_TRUE(cont.ok());
  EXPECT_EQ(DovecotOutcome(*cont, r).kind, Kind::kTempFail);

  auto escaped = ParseDovecotReply("FAIL\t1\tuser=al\001tice");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(*escaped->Find("user"), "al\tice");

  EXPECT_FALSE(ParseDovecotReply("MECH\tPLAIN").ok());
  EXPECT_FALSE(ParseDovecotReply("OK").ok());
  EXPECT_FALSE(ParseDovecotReply("OK\tx").ok());
  EXPECT_FALSE(ParseDovecotReply("").ok());
}

TEST(DovecotProtocolTest, Endpoints) {
  auto u = ParseDovecotEndpoint("unix:/run/dovecot/auth-client");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, DovecotEndpoint::Kind::kUnix);
  EXPECT_EQ(u->ToString(), "unix:/run/dovecot/auth-client");
  auto v4 = ParseDovecotEndpoint("inet:127.0.0.1:12345");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 12345);
  auto v6 = ParseDovecotEndpoint("inet:[::1]:12345");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "inet:[::1]:12345");
  auto name = ParseDovecotEndpoint("inet:auth.example.net:4000");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "auth.example.net");
  for (const char* bad : {"", "unix:", "unix:relative", "tcp:1.2.3.4:5", "inet:1.2.3.4",
                          "inet:::1:5", "inet:[::1]5", "inet:1.2.3.4:0", "inet:1.2.3.4:70000",
                          "inet::5"}) {
    EXPECT_FALSE(ParseDovecotEndpoint(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace kensa::auth
