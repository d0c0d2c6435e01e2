// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/quoted_printable_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "scan/decoder_test_support.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

using testing::DecodeSplit;
using testing::DecodeWhole;
using testing::ReadCorpusFile;

TEST(QuotedPrintable, HexEscapesEitherCase) {
  // Python: binascii.a2b_qp(b"caf=C3=A9 =3d=3D") == b"caf\xc3\xa9 =="
  EXPECT_EQ(DecodeQuotedPrintable("caf=C3=A9 =3d=3D"), "caf\xc3\xa9 ==");
  EXPECT_EQ(DecodeQuotedPrintable("=00=ff=FF"), std::string("\0\xff\xff", 3));
}

TEST(QuotedPrintable, SoftLineBreaks) {
  EXPECT_EQ(DecodeQuotedPrintable("long =\r\nline=\nhere"), "long linehere");
  EXPECT_EQ(DecodeQuotedPrintable("pad= \t\r\nded=  \nx"), "paddedx");
  EXPECT_EQ(DecodeQuotedPrintable("end="), "end");            // At the very end.
  EXPECT_EQ(DecodeQuotedPrintable("end=  "), "end");
  EXPECT_EQ(DecodeQuotedPrintable("end=\r"), "end");
  EXPECT_EQ(DecodeQuotedPrintable("keep  =\r\nx"), "keep  x");  // Blanks before '=' are data.
}

TEST(QuotedPrintable, InvalidEscapesStayLiteral) {
  EXPECT_EQ(DecodeQuotedPrintable("=4G"), "=4G");
  EXPECT_EQ(DecodeQuotedPrintable("=G4"), "=G4");
  EXPECT_EQ(DecodeQuotedPrintable("==41"), "=A");
  EXPECT_EQ(DecodeQuotedPrintable("a=4"), "a=4");
  EXPECT_EQ(DecodeQuotedPrintable("= x"), "= x");
  EXPECT_EQ(DecodeQuotedPrintable("= \tx \r\n"), "= \tx\r\n");
  EXPECT_EQ(DecodeQuotedPrintable("=\rx"), "=\rx");
}

TEST(QuotedPrintable, TrailingWhitespaceRemovedLineBreaksKept) {
  EXPECT_EQ(DecodeQuotedPrintable("a \t \r\nb\t\nc  "), "a\r\nb\nc");
  EXPECT_EQ(DecodeQuotedPrintable("a b\r\n"), "a b\r\n");
  EXPECT_EQ(DecodeQuotedPrintable("a \rb"), "a \rb");  // A lone CR is data, not a line end.
  EXPECT_EQ(DecodeQuotedPrintable("a \r"), "a \r");
  EXPECT_EQ(DecodeQuotedPrintable("a=20\r\n"), "a \r\n");  // Encoded space is not trailing.
}

TEST(QuotedPrintable, HeldWhitespaceIsBounded) {
  quoted_printable::Limits limits;
  limits.max_held_whitespace = 4;
  auto d = quoted_printable::NewDecoder(limits);
  // The first 4 blanks of a run of 6 are let through when the 5th arrives; the last 2 are
  // trailing.
  EXPECT_EQ(DecodeWhole(*d, "a      \nb"), "a    \nb");
  auto e = quoted_printable::NewDecoder(limits);
  // After '=', a run longer than the limit makes the '=' literal.
  EXPECT_EQ(DecodeWhole(*e, "a=     x"), "a=     x");
}

TEST(QuotedPrintable, AnySplitGivesTheOneShotOutput) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab=3DdF \t\r\n\r\n=";
  for (int round = 0; round < 500; ++round) {
    std::string in(rng() % 400, ' ');
    for (char& c : in) c = alphabet[rng() % alphabet.size()];
    quoted_printable::Limits limits;
    limits.max_held_whitespace = 1 + rng() % 8;
    auto whole = quoted_printable::NewDecoder(limits);
    auto split = quoted_printable::NewDecoder(limits);
    EXPECT_EQ(DecodeSplit(*split, in, rng, round % 3 == 0 ? 1 : 1 + rng() % 30), DecodeWhole(*whole, in)) << in;
  }
}

TEST(QuotedPrintable, GmimeVector) {
  const auto qp = ReadCorpusFile("gmime/tests/data/encodings/wikipedia.qp");
  const auto txt = ReadCorpusFile("gmime/tests/data/encodings/wikipedia.txt");
  if (!qp || !txt) GTEST_SKIP() << "gmime corpus absent (../shared/corpora/gmime)";
  EXPECT_EQ(DecodeQuotedPrintable(*qp), *txt);
  std::mt19937 rng(8);
  auto d = NewStreamDecoder(TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(DecodeSplit(*d, *qp, rng, 1), *txt);
}

}  // namespace
}  // namespace kensa::scan
