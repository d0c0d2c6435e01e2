// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_command.h"

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

TEST(SmtpCommandTest, Verbs) {
  EXPECT_EQ(ParseCommandLine("EHLO client.example").verb, SmtpVerb::kEhlo);
  EXPECT_EQ(ParseCommandLine("EHLO client.example").arg, "client.example");
  EXPECT_EQ(ParseCommandLine("ehlo   x  ").arg, "x");
  EXPECT_EQ(ParseCommandLine("mAiL FROM:<>").verb, SmtpVerb::kMail);
  EXPECT_EQ(ParseCommandLine("mAiL FROM:<>").arg, "FROM:<>");
  EXPECT_EQ(ParseCommandLine("StartTLS").verb, SmtpVerb::kStartTls);
  EXPECT_EQ(ParseCommandLine("QUIT").verb, SmtpVerb::kQuit);
  EXPECT_EQ(ParseCommandLine("QUITX").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseCommandLine("").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseCommandLine(" NOOP").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseCommandLine("BDAT 10 LAST").arg, "10 LAST");
}

TEST(SmtpCommandTest, Keyword) {
  EXPECT_EQ(StripKeyword("from:<a@b>", "FROM:").value_or("?"), "<a@b>");
  EXPECT_EQ(StripKeyword("FROM: <a@b>", "FROM:").value_or("?"), " <a@b>");
  EXPECT_FALSE(StripKeyword("FROM <a@b>", "FROM:"));
  EXPECT_FALSE(StripKeyword("TO:<a@b>", "FROM:"));
}

TEST(SmtpCommandTest, EsmtpParams) {
  auto p = ParseEsmtpParams("size=100  BODY=8BITMIME SMTPUTF8");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].keyword, "SIZE");
  EXPECT_EQ((*p)[0].value, "100");
  EXPECT_TRUE((*p)[0].has_value);
  EXPECT_EQ((*p)[2].keyword, "SMTPUTF8");
  EXPECT_FALSE((*p)[2].has_value);
  EXPECT_TRUE(ParseEsmtpParams("")->empty());
  EXPECT_FALSE(ParseEsmtpParams("=x"));
  EXPECT_FALSE(ParseEsmtpParams("SIZE="));
  EXPECT_FALSE(ParseEsmtpParams("-X=1"));
  EXPECT_FALSE(ParseEsmtpParams("X_Y=1"));
  EXPECT_FALSE(ParseEsmtpParams("X=a=b"));
  EXPECT_FALSE(ParseEsmtpParams(std::string("X=a\x01", 4)));
}

TEST(SmtpCommandTest, Xtext) {
  EXPECT_EQ(DecodeXtext("abc").value_or("?"), "abc");
  EXPECT_EQ(DecodeXtext("a+2Bb+3D").value_or("?"), "a+b=");
  EXPECT_EQ(DecodeXtext("").value_or("?"), "");
  EXPECT_FALSE(DecodeXtext("a+2"));
  EXPECT_FALSE(DecodeXtext("a+"));
  EXPECT_FALSE(DecodeXtext("a+2b"));  // hex must be uppercase
  EXPECT_FALSE(DecodeXtext("a=b"));
  EXPECT_FALSE(DecodeXtext("a b"));
}

TEST(SmtpCommandTest, Decimal) {
  EXPECT_EQ(ParseDecimal("0").value_or(1), 0u);
  EXPECT_EQ(ParseDecimal("18446744073709551615").value_or(0), UINT64_MAX);
  EXPECT_FALSE(ParseDecimal("18446744073709551616"));
  EXPECT_FALSE(ParseDecimal(""));
  EXPECT_FALSE(ParseDecimal("-1"));
  EXPECT_FALSE(ParseDecimal("1x"));
  EXPECT_FALSE(ParseDecimal("+1"));
}

TEST(SmtpCommandTest, AsciiHelpers) {
  EXPECT_TRUE(EqualsNoCase("LaSt", "last"));
  EXPECT_FALSE(EqualsNoCase("last", "lasts"));
  EXPECT_TRUE(StartsWithNoCase("rcpt to:", "RCPT"));
  EXPECT_EQ(ToUpperAscii("a\xc3\xa9z"), "A\xc3\xa9Z");
  EXPECT_EQ(TrimSpaces(" \t x y \t"), "x y");
}

}  // namespace
}  // namespace kensa::net
