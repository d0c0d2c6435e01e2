// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/hex_signature.h"

#include "gtest/gtest.h"

namespace kensa::sigs {
namespace {

std::vector<std::string> Bytes(const RequiredLiterals& r) {
  std::vector<std::string> out;
  for (const Literal& l : r.any_of) out.push_back(l.bytes);
  return out;
}

TEST(HexSignature, LongestExactRunWins) {
  auto r = ExtractRequiredLiterals("4142??434445*46{2-5}4748494a4b[1-2]4c");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(Bytes(**r), std::vector<std::string>{"GHIJK"});
}

TEST(HexSignature, NibbleWildcardsBreakRuns) {
  auto r = ExtractRequiredLiterals("41424?43444546a?4748");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(Bytes(**r), std::vector<std::string>{"CDEF"});
}

TEST(HexSignature, AllExactAlternativeIsALiteralSet) {
  auto r = ExtractRequiredLiterals("41??" "(6162636465|7778797a7b7c)??42");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(Bytes(**r), (std::vector<std::string>{"abcde", "wxyz{|"}));
}

TEST(HexSignature, ExactBytesAndAlternativesMakeOneSegment) {
  // "\nFrom: " or "\nfrom: ", then a gap: both spellings of the whole header name.
  auto r = ExtractRequiredLiterals("0a(46|66)726f6d3a20{-1024}0a(4d|6d)");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(Bytes(**r), (std::vector<std::string>{"\nFrom: ", "\nfrom: "}));
}

TEST(HexSignature, TooManySpellingsStartANewSegment) {
  // Seven two-way alternatives would be 128 spellings: a segment closes at 8 (three of them),
  // the next three make another, the seventh a third.
  auto r = ExtractRequiredLiterals("(41|61)(42|62)(43|63)(44|64)(45|65)(46|66)(47|67)");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((**r).any_of.size(), 8u);
  EXPECT_EQ((**r).shortest(), 3u);
}

TEST(HexSignature, NegatedAndWildcardAlternativesGiveNothing) {
  auto r = ExtractRequiredLiterals("41!(42|43)44(4?|46)(B)45");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((**r).shortest(), 1u);
}

TEST(HexSignature, NoExactByteMeansNoLiteral) {
  auto r = ExtractRequiredLiterals("????*a?{3}?b");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(HexSignature, MalformedPatternIsAnError) {
  EXPECT_FALSE(ExtractRequiredLiterals("414").ok());
  EXPECT_FALSE(ExtractRequiredLiterals("41(42|43").ok());
  EXPECT_FALSE(ExtractRequiredLiterals("41zz").ok());
}

TEST(HexSignature, SubsignatureModifiers) {
  auto wide = ExtractSubsignatureLiterals("EOF-20:414243::iw");
  ASSERT_TRUE(wide.ok() && wide->has_value());
  ASSERT_EQ((**wide).any_of.size(), 1u);
  EXPECT_EQ((**wide).any_of[0].bytes, std::string("A\0B\0C\0", 6));
  EXPECT_TRUE((**wide).any_of[0].caseless);
  auto both = ExtractSubsignatureLiterals("414243::wa");
  ASSERT_TRUE(both.ok() && both->has_value());
  EXPECT_EQ((**both).any_of.size(), 2u);
}

TEST(HexSignature, PcreByteCompareAndMacroSubsignaturesHaveNone) {
  for (const char* sub : {"0/evil[0-9]+/i", "0(>>5#hb2#=12)", "${6-7}0$"}) {
    auto r = ExtractSubsignatureLiterals(sub);
    ASSERT_TRUE(r.ok()) << sub;
    EXPECT_FALSE(r->has_value()) << sub;
  }
}

}  // namespace
}  // namespace kensa::sigs
