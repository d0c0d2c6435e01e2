// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/proxy_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

using State = ProxyParse::State;
constexpr size_t kMax = 536;  // what kensad allows by default (proxy_header_max_bytes)

std::string V2(unsigned char ver_cmd, unsigned char fam, std::string body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(ver_cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(body.size() >> 8));
  h.push_back(static_cast<char>(body.size() & 0xff));
  return h + body;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(ProxyProtocolTest, V1Tcp4) {
  const std::string h = "PROXY TCP4 192.0.2.7 198.51.100.1 40001 25\r\n";
  ProxyParse p = ParseProxyHeader(h + "EHLO x\r\n", kMax);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.header.version, 1);
  EXPECT_FALSE(p.header.local);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source.ToString(), "192.0.2.7:40001");
  EXPECT_EQ(p.header.destination.ToString(), "198.51.100.1:25");
}

TEST(ProxyProtocolTest, V1Tcp6AndUnknown) {
  ProxyParse p = ParseProxyHeader("PROXY TCP6 2001:db8::7 2001:db8::1 65535 587\r\n", kMax);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.header.source.ToString(), "[2001:db8::7]:65535");
  p = ParseProxyHeader("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", kMax);
  ASSERT_EQ(p.state, State::kDone);
  EXPECT_TRUE(p.header.local);
  p = ParseProxyHeader("PROXY UNKNOWN\r\n", kMax);
  ASSERT_EQ(p.state, State::kDone);
  EXPECT_TRUE(p.header.local);
}

TEST(ProxyProtocolTest, V1EveryPrefixNeedsMore) {
  const std::string h = "PROXY TCP4 192.0.2.7 198.51.100.1 40001 25\r\n";
  for (size_t n = 0; n < h.size(); ++n) {
    EXPECT_EQ(ParseProxyHeader(h.substr(0, n), kMax).state, State::kNeedMore) << n;
  }
}

TEST(ProxyProtocolTest, V1Refusals) {
  for (const char* bad : {
           "PROXY TCP4 192.0.2.7 198.51.100.1 40001\r\n",          // a field missing
           "PROXY TCP4 192.0.2.7 198.51.100.1 40001 25 x\r\n",     // one too many
           "PROXY TCP4 2001:db8::7 198.51.100.1 40001 25\r\n",     // family mismatch
           "PROXY TCP4 192.0.2.256 198.51.100.1 40001 25\r\n",     // not an address
           "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",       // port too big
           "PROXY TCP4 192.0.2.7 198.51.100.1 040001 25\r\n",      // leading zero
           "PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n",          // sign
           "PROXY UDP4 192.0.2.7 198.51.100.1 1 25\r\n",           // not TCP
           "PROXY TCP4  192.0.2.7 198.51.100.1 1 25\r\n",          // two spaces
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 25\n",             // bare LF
           "PROXZ TCP4",                                           // not the prefix
           "EHLO client.example\r\n",                              // no header at all
           "\x16\x03\x01\x02\x00",                                 // a TLS ClientHello
       }) {
    EXPECT_EQ(ParseProxyHeader(bad, kMax).state, State::kError) << bad;
  }
  // A NUL would cut the address short for inet_pton (found by proxy_header_fuzz).
  static constexpr char kNul[] = "PROXY TCP6 20::7\0\0 ::1 35 5\r\n";
  const std::string nul(kNul, sizeof(kNul) - 1);
  EXPECT_EQ(ParseProxyHeader(nul, kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(nul.substr(0, 18), kMax).state, State::kError);
}

TEST(ProxyProtocolTest, V1OverlongIsRefusedAtTheBound) {
  std::string h = "PROXY UNKNOWN " + std::string(200, 'a');
  ProxyParse p = ParseProxyHeader(h, kMax);
  EXPECT_EQ(p.state, State::kError);
  EXPECT_EQ(ParseProxyHeader(h.substr(0, kProxyV1MaxBytes - 1), kMax).state, State::kNeedMore);
  EXPECT_EQ(ParseProxyHeader(h.substr(0, kProxyV1MaxBytes), kMax).state, State::kError);
}

TEST(ProxyProtocolTest, V2Tcp4) {
  const std::string h = V2(0x21, 0x11, Bytes({192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x41, 0, 25}));
  ProxyParse p = ParseProxyHeader(h + "x", kMax);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.header.version, 2);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source.ToString(), "192.0.2.7:40001");
  EXPECT_EQ(p.header.destination.ToString(), "198.51.100.1:25");
  for (size_t n = 0; n < h.size(); ++n) {
    EXPECT_EQ(ParseProxyHeader(h.substr(0, n), kMax).state, State::kNeedMore) << n;
  }
}

TEST(ProxyProtocolTest, V2Tcp6WithTlvs) {
  std::string body(36, '\0');
  body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = static_cast<char>(0xb8), body[15] = 7;
  body[16] = 0x20, body[17] = 0x01, body[18] = 0x0d, body[19] = static_cast<char>(0xb8);
  body[31] = 1, body[32] = 0x01, body[33] = 0x02, body[35] = 110;
  body += Bytes({0x04, 0, 3, 'a', 'b', 'c'});  // a TLV (PP2_TYPE_NOOP), skipped
  ProxyParse p = ParseProxyHeader(V2(0x21, 0x21, body), kMax);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.header.source.ToString(), "[2001:db8::7]:258");
  EXPECT_EQ(p.header.destination.ToString(), "[2001:db8::1]:110");
}

TEST(ProxyProtocolTest, V2LocalUnspecAndUnixKeepTheSocket) {
  ProxyParse p = ParseProxyHeader(V2(0x20, 0x00, ""), kMax);
  ASSERT_EQ(p.state, State::kDone);
  EXPECT_TRUE(p.header.local);
  p = ParseProxyHeader(V2(0x20, 0x11, Bytes({1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2})), kMax);
  ASSERT_EQ(p.state, State::kDone);  // LOCAL ignores whatever addresses follow
  EXPECT_TRUE(p.header.local);
  p = ParseProxyHeader(V2(0x21, 0x31, std::string(216, '\0')), kMax);
  ASSERT_EQ(p.state, State::kDone);
  EXPECT_TRUE(p.header.local);
}

TEST(ProxyProtocolTest, V2Refusals) {
  EXPECT_EQ(ParseProxyHeader(V2(0x11, 0x11, std::string(12, '\0')), kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(V2(0x22, 0x11, std::string(12, '\0')), kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x12, std::string(12, '\0')), kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x11, std::string(11, '\0')), kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x21, std::string(12, '\0')), kMax).state, State::kError);
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x41, std::string(12, '\0')), kMax).state, State::kError);
  // A damaged signature.
  std::string h = V2(0x21, 0x11, std::string(12, '\0'));
  h[5] = 'x';
  EXPECT_EQ(ParseProxyHeader(h, kMax).state, State::kError);
  // A declared length over the bound is refused from the fixed part alone.
  std::string big = V2(0x21, 0x11, std::string(12, '\0'));
  big[14] = static_cast<char>(0xff);
  EXPECT_EQ(ParseProxyHeader(big.substr(0, 16), kMax).state, State::kError);
}

}  // namespace
}  // namespace kensa::net
