// SPDX-License-Identifier: GPL-2.0-or-later
// MimeParser under hostile sizes: many parts, deep nesting, huge headers and bodies. Memory
// and time must stay bounded, and everything must still reach the scanner as leaf bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "scan/mime_parser.h"
#include "scan/mime_test_sink.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

// Counts instead of keeping: a 100 MB message must not be held by the test either.
class CountingSink : public MimeSink {
 public:
  void OnLeafBegin(const MimePart& part) override {
    ++begins;
    max_depth = std::max<size_t>(max_depth, part.depth);
  }
  void OnLeafData(uint32_t, std::string_view d) override { bytes += d.size(); }
  void OnLeafEnd(const MimePart&) override { ++ends; }
  void OnLimitExceeded(std::string_view) override { ++limits; }
  size_t begins = 0, ends = 0, bytes = 0, limits = 0, max_depth = 0;
};

std::string ManyParts(size_t n) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (size_t i = 0; i < n; ++i) raw += "--b\r\nContent-Type: text/plain\r\n\r\npart\r\n";
  return raw + "--b--\r\n";
}

TEST(MimeLimitsTest, TenThousandPartsWithinTheLimit) {
  MimeLimits limits;
  limits.max_parts = 20000;
  std::string raw = ManyParts(10000);
  CountingSink sink;
  auto start = std::chrono::steady_clock::now();
  MimeParser p(limits, &sink);
  FeedInPieces(p, raw, {4096});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(sink.begins, 10000u);
  EXPECT_EQ(sink.ends, 10000u);
  EXPECT_EQ(sink.bytes, 4u * 10000);
  EXPECT_EQ(sink.limits, 0u);
}

TEST(MimeLimitsTest, TenThousandPartsBeyondTheDefaultLimitBecomeOneLeaf) {
  std::string raw = ManyParts(10000);
  RecordingSink sink;
  MimeParser p(MimeLimits{}, &sink);
  FeedInPieces(p, raw, {777});
  ASSERT_EQ(sink.leaves.size(), MimeLimits{}.max_parts);  // 1999 parts and the rest
  const RecordedLeaf& rest = sink.leaves.back();
  EXPECT_EQ(rest.end.body_end, raw.size() - std::string("\r\n--b--\r\n").size());
  EXPECT_EQ(rest.data, raw.substr(rest.end.body_begin, rest.end.body_end - rest.end.body_begin));
  EXPECT_EQ(sink.limits, std::vector<std::string>{"MIME part count"});
}

std::string NestedMultiparts(int levels, std::string (*boundary)(int)) {
  std::string raw = "Content-Type: multipart/mixed; boundary=" + boundary(0) + "\r\n\r\n";
  for (int i = 1; i < levels; ++i) {
    raw += "--" + boundary(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=" + boundary(i) +
           "\r\n\r\n";
  }
  raw += "--" + boundary(levels - 1) + "\r\n\r\ninnermost\r\n";
  for (int i = levels - 1; i >= 0; --i) raw += "--" + boundary(i) + "--\r\n";
  return raw;
}

TEST(MimeLimitsTest, ThousandNestedMultipartsStayBounded) {
  std::string raw =
      NestedMultiparts(1000, [](int i) { return "=_" + std::to_string(i) + "_="; });
  RecordingSink sink;
  auto start = std::chrono::steady_clock::now();
  MimeParser p(MimeLimits{}, &sink);
  FeedInPieces(p, raw, {1});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_EQ(sink.leaves.size(), 1u);
  const RecordedLeaf& l = sink.leaves[0];
  EXPECT_EQ(l.end.depth, MimeLimits{}.max_depth);
  EXPECT_NE(l.data.find("innermost"), std::string::npos);
  EXPECT_EQ(sink.limits, std::vector<std::string>{"MIME nesting depth"});
}

TEST(MimeLimitsTest, ThousandNestedBoundariesThatArePrefixesOfEachOtherStayBounded) {
  // "--b3" starts "--b30" ... "--b399": by the prefix rule every deeper delimiter line is
  // also one of an open multipart, so second readings start; they stay within the limits.
  std::string raw = NestedMultiparts(1000, [](int i) { return "b" + std::to_string(i); });
  CountingSink sink;
  auto start = std::chrono::steady_clock::now();
  MimeParser p(MimeLimits{}, &sink);
  FeedInPieces(p, raw, {1});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(sink.begins, sink.ends);
  EXPECT_LE(sink.begins, MimeLimits{}.max_parts);
  EXPECT_LE(sink.max_depth, MimeLimits{}.max_depth + 1);
}

TEST(MimeLimitsTest, ThousandNestedMessagesStayBounded) {
  std::string raw;
  for (int i = 0; i < 1000; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  raw += "Subject: last\r\n\r\nbody\r\n";
  RecordingSink sink;
  MimeParser p(MimeLimits{}, &sink);
  FeedInPieces(p, raw, {3});
  ASSERT_EQ(sink.leaves.size(), 1u);
  EXPECT_EQ(sink.leaves[0].end.media_type, "message/rfc822");
  EXPECT_EQ(sink.leaves[0].data, raw.substr(sink.leaves[0].end.body_begin));
}

TEST(MimeLimitsTest, EndlessHeaderLineIsCutAndScannedAsBody) {
  MimeLimits limits;
  limits.max_header_bytes = 4096;
  std::string raw = "Subject: " + std::string(1 << 20, 'x');
  CountingSink sink;
  MimeParser p(limits, &sink);
  FeedInPieces(p, raw, {1000});
  EXPECT_EQ(sink.begins, 1u);
  EXPECT_EQ(sink.limits, 1u);
  EXPECT_EQ(sink.bytes, raw.size() - 4096);
}

TEST(MimeLimitsTest, ParsesLargeBase64AttachmentsFast) {
  std::string payload(8 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 2654435761u >> 24);
  std::string b64 = EncodeBase64(payload);
  std::string raw = "Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n";
  for (int i = 0; i < 4; ++i) {
    raw += "--=_b\r\nContent-Type: application/octet-stream\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + b64;
  }
  raw += "--=_b--\r\n";
  // Parsing only (identity leaves: the decoders are measured on their own): the parser's
  // share of the work on every message.
  std::string as_identity = raw;
  for (size_t at; (at = as_identity.find("base64\r\n\r\n")) != std::string::npos;) {
    as_identity.replace(at, 6, "binary");
  }
  CountingSink sink;
  MimeParser p(MimeLimits{}, &sink);
  auto start = std::chrono::steady_clock::now();
  FeedInPieces(p, as_identity, {64 << 10});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double mb_per_s = as_identity.size() / seconds / 1e6;
  std::printf("parsed %zu MB at %.0f MB/s\n", as_identity.size() >> 20, mb_per_s);
  EXPECT_EQ(sink.begins, 4u);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_GT(mb_per_s, 500.0);
#endif
  CountingSink decoded;
  MimeParser q(MimeLimits{}, &decoded);
  FeedInPieces(q, raw, {64 << 10});
  EXPECT_EQ(decoded.bytes, 4 * payload.size());
}

}  // namespace
}  // namespace kensa::scan
