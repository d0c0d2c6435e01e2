// SPDX-License-Identifier: GPL-2.0-or-later
// MimeParser on hand-written messages: every case checks exact raw offsets, the decoded
// bytes, and that feeding the same bytes one at a time or in random pieces reports the same.
#include "scan/mime_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "scan/mime_test_sink.h"

namespace kensa::scan {
namespace {

using ::testing::ElementsAre;

// Parses `raw` whole, then byte by byte and in random pieces; all must agree, and the
// events must be well formed. Returns the whole-input recording.
RecordingSink Parse(std::string_view raw, const MimeLimits& limits = {}) {
  RecordingSink whole;
  {
    MimeParser p(limits, &whole);
    p.Feed(raw);
    p.Finish();
    EXPECT_EQ(p.bytes_fed(), raw.size());
  }
  EXPECT_THAT(whole.problems, ::testing::IsEmpty());
  for (const RecordedLeaf& l : whole.leaves) {
    EXPECT_EQ(l.ends, 1) << "leaf " << l.begin.id;
    const MimePart& e = l.end;
    EXPECT_LE(e.header_begin, e.header_end);
    EXPECT_LE(e.header_end, e.body_begin);
    EXPECT_LE(e.body_begin, e.body_end);
    EXPECT_LE(e.body_end, raw.size());
    EXPECT_EQ(l.begin.body_begin, e.body_begin);
    EXPECT_EQ(l.begin.header_begin, e.header_begin);
    for (const MimeHeader& h : e.headers) {
      EXPECT_GE(h.begin, e.header_begin);
      EXPECT_LE(h.end, e.header_end);
    }
  }
  {
    RecordingSink bytewise;
    MimeParser p(limits, &bytewise);
    FeedInPieces(p, raw, {1});
    EXPECT_EQ(bytewise.Digest(), whole.Digest()) << "fed one byte at a time";
  }
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    RecordingSink random;
    MimeParser p(limits, &random);
    FeedRandomly(p, raw, seed, 1 + seed * 7);
    EXPECT_EQ(random.Digest(), whole.Digest()) << "random pieces, seed " << seed;
  }
  return whole;
}

std::string_view Body(std::string_view raw, const RecordedLeaf& l) {
  return raw.substr(l.end.body_begin, l.end.body_end - l.end.body_begin);
}
std::string_view Headers(std::string_view raw, const RecordedLeaf& l) {
  return raw.substr(l.end.header_begin, l.end.header_end - l.end.header_begin);
}

TEST(MimeParserTest, SinglePartWithFoldedHeadersCrlf) {
  const std::string raw =
      "From: a@example.org\r\n"
      "Subject: one\r\n two\r\n\tthree\r\n"
      "\r\n"
      "Hello\r\nWorld\r\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  const RecordedLeaf& l = s.leaves[0];
  EXPECT_EQ(l.end.role, PartRole::kMessageBody);
  EXPECT_EQ(l.end.parent, -1);
  EXPECT_EQ(l.end.media_type, "text/plain");
  EXPECT_TRUE(l.end.crlf);
  EXPECT_EQ(Headers(raw, l), "From: a@example.org\r\nSubject: one\r\n two\r\n\tthree\r\n");
  EXPECT_EQ(raw.substr(l.end.header_end, l.end.body_begin - l.end.header_end), "\r\n");
  EXPECT_EQ(Body(raw, l), "Hello\r\nWorld\r\n");
  EXPECT_EQ(l.data, "Hello\r\nWorld\r\n");
  ASSERT_EQ(l.end.headers.size(), 2u);
  EXPECT_EQ(l.end.headers[1].name, "Subject");
  EXPECT_EQ(l.end.headers[1].value, "one two\tthree");
  EXPECT_EQ(raw.substr(l.end.headers[1].begin, l.end.headers[1].end - l.end.headers[1].begin),
            "Subject: one\r\n two\r\n\tthree\r\n");
}

TEST(MimeParserTest, LfOnlyMessage) {
  const std::string raw = "Subject: x\n\nbody\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_FALSE(s.leaves[0].end.crlf);
  EXPECT_EQ(Body(raw, s.leaves[0]), "body\n");
}

TEST(MimeParserTest, LineThatIsNotAHeaderStartsTheBody) {
  const std::string raw = "Subject: x\nthis is not a header\nContent-Type: text/html\n\nmore\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  const RecordedLeaf& l = s.leaves[0];
  EXPECT_EQ(Headers(raw, l), "Subject: x\n");
  EXPECT_EQ(l.end.header_end, l.end.body_begin);
  EXPECT_EQ(Body(raw, l), "this is not a header\nContent-Type: text/html\n\nmore\n");
  EXPECT_EQ(l.end.media_type, "text/plain");  // the Content-Type is body text
}

TEST(MimeParserTest, ObsoleteSpaceBeforeColonIsAField) {
  const std::string raw = "Content-Type : text/html\n\n<p>\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.media_type, "text/html");
  EXPECT_EQ(s.leaves[0].end.headers[0].name, "Content-Type");
}

TEST(MimeParserTest, HeadersWithoutBodyOrBlankLine) {
  const std::string raw = "Subject: x\r\nX-Y: z";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.header_end, raw.size());
  EXPECT_EQ(s.leaves[0].end.body_end, raw.size());
  ASSERT_EQ(s.leaves[0].end.headers.size(), 2u);
  EXPECT_EQ(s.leaves[0].end.headers[1].value, "z");
  EXPECT_EQ(s.leaves[0].end.headers[1].end, raw.size());
}

TEST(MimeParserTest, MboxFromLineBelongsToTheHeaderBlock) {
  const std::string raw = "From someone Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "body\n");
  ASSERT_EQ(s.leaves[0].end.headers.size(), 1u);
}

constexpr std::string_view kMixed =
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble text\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hello\r\n"
    "--XX\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "\r\n"
    "aGVsbG8g\r\nd29ybGQ=\r\n"
    "--XX--\r\n"
    "epilogue\r\n";

TEST(MimeParserTest, MultipartWithPreambleAndEpilogue) {
  std::string raw(kMixed);
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 4u);
  const RecordedLeaf& pre = s.leaves[0];
  EXPECT_EQ(pre.end.role, PartRole::kPreamble);
  EXPECT_EQ(Body(raw, pre), "preamble text");
  EXPECT_EQ(pre.data, "preamble text");
  EXPECT_EQ(pre.end.header_begin, pre.end.body_begin);

  const RecordedLeaf& text = s.leaves[1];
  EXPECT_EQ(text.end.role, PartRole::kMultipartChild);
  EXPECT_EQ(text.end.parent, 0);
  EXPECT_EQ(text.end.depth, 1u);
  EXPECT_EQ(Headers(raw, text), "Content-Type: text/plain\r\n");
  EXPECT_EQ(Body(raw, text), "hello");
  EXPECT_EQ(text.data, "hello");

  const RecordedLeaf& bin = s.leaves[2];
  EXPECT_EQ(bin.end.encoding, TransferEncoding::kBase64);
  EXPECT_EQ(bin.end.filename, "a.bin");
  EXPECT_EQ(bin.end.media_type, "application/octet-stream");
  EXPECT_EQ(Body(raw, bin), "aGVsbG8g\r\nd29ybGQ=");
  EXPECT_EQ(bin.data, "hello world");
  ASSERT_EQ(bin.end.headers.size(), 2u);
  EXPECT_EQ(raw.substr(bin.end.headers[1].begin, bin.end.headers[1].end - bin.end.headers[1].begin),
            "Content-Type: application/octet-stream; name=\"a.bin\"\r\n");

  const RecordedLeaf& epi = s.leaves[3];
  EXPECT_EQ(epi.end.role, PartRole::kEpilogue);
  EXPECT_EQ(Body(raw, epi), "epilogue\r\n");
  EXPECT_THAT(s.limits, ::testing::IsEmpty());
}

TEST(MimeParserTest, BlankPreambleAndEpilogueAreNotReported) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n\n  \n--b\n\nx\n--b--\n\n \n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "x");
}

TEST(MimeParserTest, DelimiterPaddingAndFirstDelimiterRightAfterHeaders) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b \t\n\none\n--b--   \nafter\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "one");
  EXPECT_EQ(s.leaves[0].end.header_begin, raw.find("--b \t\n") + 6);
  EXPECT_EQ(Body(raw, s.leaves[1]), "after\n");
}

TEST(MimeParserTest, LineWithTextAfterTheBoundaryIsNotADelimiter) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\n\none\n--bb\n--b x\n-\n--\n--b-\n--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_GE(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].data, "one\n--bb\n--b x\n-\n--\n--b-");
  for (size_t i = 1; i < s.leaves.size(); ++i) EXPECT_TRUE(s.leaves[i].end.alternate_view);
}

TEST(MimeParserTest, LineEndingAfterADashLineBelongsToTheNextDelimiter) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--c--\r\n--b--\r\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "--c--");
  EXPECT_EQ(s.leaves[0].data, "--c--");
}

TEST(MimeParserTest, BoundaryFollowedByTextIsADelimiterInASecondReading) {
  // mime4j and RFC 2046's note to implementors: a line that starts with the boundary is a
  // delimiter whatever follows. Python and Thunderbird: body text. Both readings are scanned.
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\n\none\n"
      "--b junk\nContent-Transfer-Encoding: base64\n\naGk=\n"
      "--bX\n\nthree\n"
      "--b--\n";
  RecordingSink s = Parse(raw);
  std::vector<std::string> primary, alternate;
  for (const RecordedLeaf& l : s.leaves) {
    (l.end.alternate_view ? alternate : primary).push_back(l.data);
    if (l.end.alternate_view && l.data == "hi") {
      EXPECT_EQ(Body(raw, l), "aGk=");
      EXPECT_EQ(l.end.header_begin, raw.find("Content-Transfer-Encoding"));
    }
  }
  EXPECT_THAT(primary, ElementsAre("one\n--b junk\nContent-Transfer-Encoding: base64\n\naGk=\n"
                                   "--bX\n\nthree"));
  EXPECT_THAT(alternate, ElementsAre("hi", "three"));
}

TEST(MimeParserTest, MissingFinalBoundaryEndsAtEndOfMessage) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "one");
  EXPECT_EQ(Body(raw, s.leaves[1]), "two\r\n");
  EXPECT_EQ(s.leaves[1].end.body_end, raw.size());
}

TEST(MimeParserTest, CloseDelimiterWithoutLineEndingAtEndOfMessage) {
  const std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "one");
}

TEST(MimeParserTest, NestedMultipartAndOuterDelimiterClosesInner) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\n"
      "Content-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\n\nA\n"
      "--inner\nContent-Type: text/html\n\n<b>B</b>\n"
      "--outer\n\nC\n"
      "--outer--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 3u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "A");
  EXPECT_EQ(s.leaves[0].end.depth, 2u);
  EXPECT_EQ(s.leaves[0].end.parent, 1);  // the inner multipart (blank preambles get no id)
  EXPECT_EQ(Body(raw, s.leaves[1]), "<b>B</b>");
  EXPECT_EQ(s.leaves[1].end.media_type, "text/html");
  EXPECT_EQ(Body(raw, s.leaves[2]), "C");
  EXPECT_EQ(s.leaves[2].end.depth, 1u);
  EXPECT_EQ(s.leaves[2].end.parent, 0);
}

TEST(MimeParserTest, InnerBoundaryIsCheckedBeforeOuterWhenOneIsAPrefix) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=ab\n\n"
      "--ab\nContent-Type: multipart/mixed; boundary=abc\n\n"
      "--abc\n\nin\n--abc--\n"
      "--ab\n\nout\n--ab--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(s.leaves[0].data, "in");
  EXPECT_EQ(s.leaves[1].data, "out");
}

TEST(MimeParserTest, HeadersEndingAtADelimiterGiveAnEmptyBody) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/html\n--b\n--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(s.leaves[0].end.media_type, "text/html");
  EXPECT_EQ(Headers(raw, s.leaves[0]), "Content-Type: text/html\n");
  EXPECT_EQ(s.leaves[0].end.body_begin, s.leaves[0].end.body_end);
  EXPECT_EQ(s.leaves[1].end.headers.size(), 0u);
  EXPECT_EQ(s.leaves[1].data, "");
}

TEST(MimeParserTest, FoldedUnquotedBoundaryAndMissingSubtype) {
  const std::string raw =
      "content-type: MULTIPART;\r\n\tBoundary = zz  \r\n\r\n--zz\r\n\r\nx\r\n--zz--\r\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(Body(raw, s.leaves[0]), "x");
}

TEST(MimeParserTest, MultipartWithoutBoundaryIsALeaf) {
  const std::string raw = "Content-Type: multipart/mixed\n\n--b\n\nx\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.media_type, "multipart/mixed");
  EXPECT_EQ(s.leaves[0].data, "--b\n\nx\n");
}

TEST(MimeParserTest, DuplicateContentTypeLeavesAreBothReported) {
  const std::string raw =
      "Content-Type: text/plain\nContent-Type: application/x-msdownload\n\nMZ\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_FALSE(s.leaves[0].end.alternate_view);
  EXPECT_TRUE(s.leaves[1].end.alternate_view);
  EXPECT_EQ(s.leaves[1].end.media_type, "application/x-msdownload");
  EXPECT_EQ(s.leaves[0].data, "MZ\n");
  EXPECT_EQ(s.leaves[1].data, "MZ\n");
  EXPECT_EQ(s.leaves[1].end.body_begin, s.leaves[0].end.body_begin);
  EXPECT_EQ(s.leaves[1].end.body_end, s.leaves[0].end.body_end);
}

TEST(MimeParserTest, MultipartAndLeafReadingsOfOneBody) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n"
      "Content-Type: text/plain\n\n"
      "--b\n\nx\n--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  // The whole body as one leaf (what a client that takes the second header shows) ...
  const RecordedLeaf& whole = s.leaves[0];
  EXPECT_TRUE(whole.end.alternate_view);
  EXPECT_EQ(whole.end.media_type, "text/plain");
  EXPECT_EQ(Body(raw, whole), "--b\n\nx\n--b--\n");
  EXPECT_EQ(whole.data, "--b\n\nx\n--b--\n");
  // ... and the split.
  EXPECT_FALSE(s.leaves[1].end.alternate_view);
  EXPECT_EQ(s.leaves[1].data, "x");
}

TEST(MimeParserTest, LeafFirstThenMultipartReading) {
  const std::string raw =
      "Content-Type: text/plain\n"
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Transfer-Encoding: base64\n\naGk=\n--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_FALSE(s.leaves[0].end.alternate_view);
  EXPECT_EQ(s.leaves[0].data, "--b\nContent-Transfer-Encoding: base64\n\naGk=\n--b--\n");
  EXPECT_TRUE(s.leaves[1].end.alternate_view);
  EXPECT_EQ(s.leaves[1].data, "hi");
  EXPECT_EQ(Body(raw, s.leaves[1]), "aGk=");
}

TEST(MimeParserTest, TwoBoundariesAreTwoSplits) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=one\n"
      "Content-Type: multipart/mixed; boundary=two\n\n"
      "--one\n\nA\n--two\n\nB\n--one--\n--two--\n";
  RecordingSink s = Parse(raw);
  std::vector<std::string> primary, alternate;
  for (const RecordedLeaf& l : s.leaves) {
    (l.end.alternate_view ? alternate : primary).push_back(l.data);
  }
  EXPECT_THAT(primary, ElementsAre("A\n--two\n\nB", "--two--\n"));
  EXPECT_THAT(alternate, ElementsAre("--one\n\nA", "B\n--one--"));
}

TEST(MimeParserTest, DuplicateBoundaryParameterIsTwoSplits) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=one; boundary=two\n\n"
      "--two\n\nB\n--two--\n";
  RecordingSink s = Parse(raw);
  bool saw_b = false;
  for (const RecordedLeaf& l : s.leaves) saw_b |= l.data == "B" && l.end.alternate_view;
  EXPECT_TRUE(saw_b);
}

TEST(MimeParserTest, ConflictingTransferEncodingsGiveALeafEach) {
  const std::string raw =
      "Content-Transfer-Encoding: base64\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "TVo=3D\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(s.leaves[0].end.encoding, TransferEncoding::kBase64);
  EXPECT_EQ(s.leaves[0].data, DecodeBase64("TVo=3D\n"));
  EXPECT_EQ(s.leaves[1].end.encoding, TransferEncoding::kQuotedPrintable);
  EXPECT_TRUE(s.leaves[1].end.alternate_view);
  EXPECT_EQ(s.leaves[1].data, "TVo=\n");
}

TEST(MimeParserTest, MessageRfc822IsParsedRecursively) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nContent-Type: text/html\r\n\r\n<p>in</p>\r\n"
      "--b--\r\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  const RecordedLeaf& l = s.leaves[0];
  EXPECT_EQ(l.end.role, PartRole::kMessageBody);
  EXPECT_EQ(l.end.depth, 2u);
  EXPECT_EQ(l.end.media_type, "text/html");
  EXPECT_EQ(Headers(raw, l), "Subject: inner\r\nContent-Type: text/html\r\n");
  EXPECT_EQ(l.end.header_begin, raw.find("Subject: inner"));
  EXPECT_EQ(Body(raw, l), "<p>in</p>");
}

TEST(MimeParserTest, Base64MessageRfc822IsADecodedLeaf) {
  const std::string inner = "Subject: x\r\n\r\nhi\r\n";
  const std::string raw = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                          EncodeBase64(inner);
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.media_type, "message/rfc822");
  EXPECT_EQ(s.leaves[0].data, inner);
}

TEST(MimeParserTest, DigestChildrenDefaultToMessages) {
  const std::string raw =
      "Content-Type: multipart/digest; boundary=d\n\n"
      "--d\n\nSubject: one\n\nbody one\n--d--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.role, PartRole::kMessageBody);
  EXPECT_EQ(s.leaves[0].data, "body one");
}

TEST(MimeParserTest, UuencodedPart) {
  const std::string raw =
      "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a.txt\n#:&D*\n`\nend\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.encoding, TransferEncoding::kUuencode);
  EXPECT_EQ(s.leaves[0].data, "hi\n");
}

TEST(MimeParserTest, FilenamesFromDispositionAndEncodedWords) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream; name=\"=?UTF-8?B?w6kuZXhl?=\"\n\nx\n"
      "--b\nContent-Disposition: attachment;\n filename*0*=utf-8''%E2%82%AC; filename*1=\".zip\"\n\ny\n"
      "--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 2u);
  EXPECT_EQ(s.leaves[0].end.filename, "\xC3\xA9.exe");
  EXPECT_EQ(s.leaves[1].end.filename, "\xE2\x82\xAC.zip");
}

TEST(MimeParserTest, ContentTypeAfterManyHeadersIsStillRead) {
  MimeLimits limits;
  limits.max_headers_kept = 3;
  std::string raw;
  for (int i = 0; i < 10; ++i) raw += "X-H" + std::to_string(i) + ": v\n";
  raw += "Content-Type: text/html\n\n<p>\n";
  RecordingSink s = Parse(raw, limits);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.headers.size(), 3u);
  EXPECT_EQ(s.leaves[0].end.media_type, "text/html");
}

TEST(MimeParserTest, HeaderBlockOverTheLimitBecomesBody) {
  MimeLimits limits;
  limits.max_header_bytes = 40;
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n"
      "--b\n\nx\n";
  RecordingSink s = Parse(raw, limits);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_THAT(s.limits, ElementsAre("header block size"));
  EXPECT_EQ(s.leaves[0].end.header_end, 40u);
  EXPECT_EQ(s.leaves[0].end.body_begin, 40u);
  EXPECT_EQ(s.leaves[0].data, raw.substr(40));
}

TEST(MimeParserTest, NestingBeyondMaxDepthIsAnOpaqueLeaf) {
  MimeLimits limits;
  limits.max_depth = 2;
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=a\n\n"
      "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
      "--c\n\ndeep\n--c--\n"
      "--b--\n"
      "--a--\n";
  RecordingSink s = Parse(raw, limits);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].end.media_type, "multipart/mixed");
  EXPECT_EQ(s.leaves[0].data, "--c\n\ndeep\n--c--");
  EXPECT_THAT(s.limits, ElementsAre("MIME nesting depth"));
}

TEST(MimeParserTest, PartsBeyondMaxPartsAreOneLeaf) {
  MimeLimits limits;
  limits.max_parts = 3;  // the message, two children
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\n\none\n--b\n\ntwo\n--b\nContent-Type: text/html\n\nthree\n--b\n\nfour\n--b--\nepi\n";
  RecordingSink s = Parse(raw, limits);
  ASSERT_EQ(s.leaves.size(), 4u);
  EXPECT_EQ(s.leaves[0].data, "one");
  EXPECT_EQ(s.leaves[1].data, "two");
  EXPECT_EQ(s.leaves[2].data, "Content-Type: text/html\n\nthree\n--b\n\nfour");
  EXPECT_EQ(s.leaves[2].end.headers.size(), 0u);
  EXPECT_EQ(s.leaves[3].end.role, PartRole::kEpilogue);
  EXPECT_THAT(s.limits, ElementsAre("MIME part count"));
}

TEST(MimeParserTest, LongPaddingAfterABoundaryStillDelimits) {
  MimeLimits limits;
  limits.max_delimiter_padding = 8;
  const std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n--b" +
                          std::string(100, ' ') + "\n\nx\n--b--\n";
  RecordingSink s = Parse(raw, limits);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].data, "x");
  EXPECT_EQ(s.leaves[0].end.header_begin, raw.find("\n\nx") + 1);
}

TEST(MimeParserTest, LongLinesAreStreamedNotBuffered) {
  const std::string line(1 << 20, 'a');
  const std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + line +
                          "\n-" + line + "\n--b--\n";
  RecordingSink s = Parse(raw);
  ASSERT_EQ(s.leaves.size(), 1u);
  EXPECT_EQ(s.leaves[0].data, line + "\n-" + line);
}

}  // namespace
}  // namespace kensa::scan
