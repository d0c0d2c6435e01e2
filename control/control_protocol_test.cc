// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/control_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace kensa::control {
namespace {

TEST(ControlProtocolTest, EncodesHeadBodyAndEndMarkerWithDotStuffing) {
  EXPECT_EQ(EncodeFrame("OK", {"a", ".hidden", ""}), "KENSA/1 OK\na\n..hidden\n\n.\n");
  EXPECT_EQ(EncodeFrameText("show status", ""), "KENSA/1 show status\n.\n");
  EXPECT_EQ(EncodeFrameText("x", "one\ntwo\n"), "KENSA/1 x\none\ntwo\n.\n");
}

TEST(ControlProtocolTest, ReadsWhatItEncodesWhateverTheCuts) {
  const std::vector<std::string> body = {"a,1", ".", "..x", ""};
  const std::string bytes = EncodeFrame("subscriber import", body);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    FrameReader r(1 << 20);
    r.Append(std::string_view(bytes).substr(0, cut));
    FrameReader::Result first = r.Next();
    r.Append(std::string_view(bytes).substr(cut));
    FrameReader::Result second = first == FrameReader::Result::kDone ? first : r.Next();
    ASSERT_EQ(second, FrameReader::Result::kDone) << cut;
    EXPECT_EQ(r.frame().head, "subscriber import");
    EXPECT_EQ(r.frame().body, body);
  }
}

TEST(ControlProtocolTest, AcceptsCrLf) {
  FrameReader r(1024);
  r.Append("KENSA/1 show queue\r\n.\r\n");
  ASSERT_EQ(r.Next(), FrameReader::Result::kDone);
  EXPECT_EQ(r.frame().head, "show queue");
  EXPECT_TRUE(r.frame().body.empty());
}

TEST(ControlProtocolTest, RefusesAnotherProtocolOrVersion) {
  for (const char* in : {"GET / HTTP/1.0\n", "KENSA/2 show status\n", "KENSA/10\n"}) {
    FrameReader r(1024);
    r.Append(in);
    EXPECT_EQ(r.Next(), FrameReader::Result::kError) << in;
    EXPECT_FALSE(r.error().empty());
  }
}

TEST(ControlProtocolTest, RefusesAnOverlongLineBeforeItsEnd) {
  FrameReader r(kMaxRequestBytes);
  r.Append("KENSA/1 ");
  r.Append(std::string(kMaxLineBytes + 10, 'x'));
  EXPECT_EQ(r.Next(), FrameReader::Result::kError);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(ControlProtocolTest, RefusesMoreThanItsTotal) {
  FrameReader r(100);
  r.Append("KENSA/1 x\n");
  for (int i = 0; i < 20; ++i) r.Append("0123456789\n");
  EXPECT_EQ(r.Next(), FrameReader::Result::kError);
  // Sticky, and it holds nothing more.
  r.Append(".\n");
  EXPECT_EQ(r.Next(), FrameReader::Result::kError);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(ControlProtocolTest, RefusesBytesAfterTheEndAndNul) {
  FrameReader a(1024);
  a.Append("KENSA/1 x\n.\nmore\n");
  EXPECT_EQ(a.Next(), FrameReader::Result::kError);
  FrameReader b(1024);
  b.Append(std::string("KENSA/1 x\0y\n.\n", 14));
  EXPECT_EQ(b.Next(), FrameReader::Result::kError);
}

TEST(ControlProtocolTest, ParsesResponseHeads) {
  ResponseHead h;
  ASSERT_TRUE(ParseResponseHead("OK", &h));
  EXPECT_TRUE(h.ok);
  ASSERT_TRUE(ParseResponseHead("OK held X", &h));
  EXPECT_EQ(h.text, "held X");
  ASSERT_TRUE(ParseResponseHead("ERR no queued message X", &h));
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.text, "no queued message X");
  EXPECT_FALSE(ParseResponseHead("ERR", &h));
  EXPECT_FALSE(ParseResponseHead("MAYBE", &h));
}

}  // namespace
}  // namespace kensa::control
