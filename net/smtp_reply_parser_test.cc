// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_reply_parser.h"

#include <string>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

using Result = SmtpReplyParser::Result;

TEST(SmtpReplyParserTest, SingleAndMultiLine) {
  SmtpReplyParser p(100, 10);
  p.Append("250 2.1.0 ok\r\n250-first\r\n250-SIZE 10\r\n250 last\r\n");
  ServerReply r;
  ASSERT_EQ(p.Next(&r), Result::kReply);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "2.1.0");
  EXPECT_EQ(r.text, "ok");
  ASSERT_EQ(p.Next(&r), Result::kReply);
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.text, "first; SIZE 10; last");
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[1], "SIZE 10");
  EXPECT_EQ(p.Next(&r), Result::kNeedMore);
}

TEST(SmtpReplyParserTest, BareCodeAndBareLf) {
  SmtpReplyParser p(100, 10);
  p.Append("354\n");
  ServerReply r;
  ASSERT_EQ(p.Next(&r), Result::kReply);
  EXPECT_EQ(r.code, 354);
  EXPECT_EQ(r.text, "");
}

TEST(SmtpReplyParserTest, PartialInput) {
  SmtpReplyParser p(100, 10);
  ServerReply r;
  p.Append("25");
  EXPECT_EQ(p.Next(&r), Result::kNeedMore);
  p.Append("0-a\r");
  EXPECT_EQ(p.Next(&r), Result::kNeedMore);
  p.Append("\n250 b\r\n");
  ASSERT_EQ(p.Next(&r), Result::kReply);
  EXPECT_EQ(r.text, "a; b");
}

TEST(SmtpReplyParserTest, EnhancedCodeMustMatchClass) {
  std::string e, t;
  SplitEnhancedCode(550, "5.1.1 no such user", &e, &t);
  EXPECT_EQ(e, "5.1.1");
  EXPECT_EQ(t, "no such user");
  SplitEnhancedCode(250, "5.1.1 odd", &e, &t);
  EXPECT_EQ(e, "");
  EXPECT_EQ(t, "5.1.1 odd");
  SplitEnhancedCode(250, "2.0.0", &e, &t);
  EXPECT_EQ(e, "2.0.0");
  EXPECT_EQ(t, "");
  SplitEnhancedCode(250, "2.0.0000 x", &e, &t);
  EXPECT_EQ(e, "");
  SplitEnhancedCode(250, "2.0 x", &e, &t);
  EXPECT_EQ(e, "");
  SplitEnhancedCode(451, "4.7.10x", &e, &t);
  EXPECT_EQ(e, "");
}

TEST(SmtpReplyParserTest, ErrorsAreSticky) {
  for (std::string bad : {"abc\r\n", "2500 x\r\n", "25\r\n", "650 x\r\n", "150 x\r\n",
                          "250-a\r\n251 b\r\n", "250_x\r\n"}) {
    SmtpReplyParser p(100, 10);
    p.Append(bad);
    ServerReply r;
    EXPECT_EQ(p.Next(&r), Result::kError) << bad;
    EXPECT_FALSE(p.error().empty());
    p.Append("250 ok\r\n");
    EXPECT_EQ(p.Next(&r), Result::kError);
  }
}

TEST(SmtpReplyParserTest, Bounds) {
  {
    SmtpReplyParser p(10, 10);
    p.Append("250 " + std::string(20, 'x'));  // no newline yet
    ServerReply r;
    EXPECT_EQ(p.Next(&r), Result::kError);
  }
  {
    SmtpReplyParser p(10, 10);
    p.Append("250 123456\r\n");  // exactly 10 bytes before CRLF
    ServerReply r;
    EXPECT_EQ(p.Next(&r), Result::kReply);
  }
  {
    SmtpReplyParser p(100, 3);
    p.Append("250-a\r\n250-b\r\n250-c\r\n250 d\r\n");
    ServerReply r;
    EXPECT_EQ(p.Next(&r), Result::kError);
  }
}

TEST(SmtpReplyParserTest, DiscardDropsBufferedBytes) {
  SmtpReplyParser p(100, 10);
  p.Append("220 go ahead\r\n250 injected\r\n250-part");
  ServerReply r;
  ASSERT_EQ(p.Next(&r), Result::kReply);
  p.Discard();
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_EQ(p.Next(&r), Result::kNeedMore);
  p.Append("250 real\r\n");
  ASSERT_EQ(p.Next(&r), Result::kReply);
  EXPECT_EQ(r.text, "real");
}

TEST(SmtpReplyParserTest, LongStreamCompacts) {
  SmtpReplyParser p(100, 10);
  ServerReply r;
  for (int i = 0; i < 10000; ++i) {
    p.Append("250 ok\r\n");
    ASSERT_EQ(p.Next(&r), Result::kReply);
  }
  EXPECT_EQ(p.buffered(), 0u);
}

}  // namespace
}  // namespace kensa::net
