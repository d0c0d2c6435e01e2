// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/base64_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "scan/decoder_test_support.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

using testing::DecodeSplit;
using testing::DecodeWhole;
using testing::ReadCorpusFile;

std::vector<const base64::Kernels*> AllKernels() {
  std::vector<const base64::Kernels*> k = {&base64::ScalarKernels()};
  if (base64::Avx2Kernels() != nullptr) k.push_back(base64::Avx2Kernels());
  return k;
}

std::string Decode(const base64::Kernels& k, std::string_view in) {
  auto d = base64::NewDecoder(k);
  return DecodeWhole(*d, in);
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Expected values from Python: base64.b64decode(s, validate=False).
TEST(Base64, MatchesPythonOnCleanAndJunkInput) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SGVsbG8sIHdvcmxkIQ==", "Hello, world!"},
      {"SGVs\r\nbG8s IHdv\tcmxk IQ==", "Hello, world!"},
      {"S*G!V-s#b$G%8", "Hello"},
      {std::string("\xffQU\x80JD", 6), "ABC"},
      {"/+/+", "\xff\xef\xfe"},
      {"YQ==\r\n", "a"},
      {"", ""},
      {"____", ""},
  };
  for (const auto* k : AllKernels()) {
    for (const auto& [in, want] : cases) EXPECT_EQ(Decode(*k, in), want) << k->name << " " << in;
  }
}

TEST(Base64, MissingPaddingStillDecodesTheLastQuantum) {
  EXPECT_EQ(DecodeBase64("QUJD" "QUI"), "ABCAB");
  EXPECT_EQ(DecodeBase64("QUJD" "QQ"), "ABCA");
  EXPECT_EQ(DecodeBase64("QUJD" "Q"), "ABC");  // One character is not a whole byte.
}

TEST(Base64, PaddingEndsAQuantumAndDecodingContinues) {
  // Concatenated blocks, as seen in the wild: both are decoded.
  EXPECT_EQ(DecodeBase64("QUI=\r\nQUJD\r\n"), "ABABC");
  EXPECT_EQ(DecodeBase64("QQ==QUJDRA=="), "AABCD");
  // A single '=' where two were due still ends the quantum; the next block stays aligned.
  EXPECT_EQ(DecodeBase64("QQ=QUJD"), "AABC");
  // '=' after zero or one characters pads nothing and is skipped, as Python skips it.
  EXPECT_EQ(DecodeBase64("=QUJD"), "ABC");
  EXPECT_EQ(DecodeBase64("Q=UJD"), "ABC");
  EXPECT_EQ(DecodeBase64("QUJD===="), "ABC");
}

TEST(Base64, EveryByteValueIsClassifiedAlikeByBothKernels) {
  for (int c = 0; c < 256; ++c) {
    // The character sits in the middle of a 32-byte vector block and in the scalar tail.
    std::string in = std::string(30, 'A') + static_cast<char>(c) + std::string(37, 'B');
    std::string want = Decode(base64::ScalarKernels(), in);
    for (const auto* k : AllKernels()) EXPECT_EQ(Decode(*k, in), want) << k->name << " byte " << c;
  }
}

TEST(Base64, KernelsAgreeOnRandomInputWithJunkAndPadding) {
  const auto kernels = AllKernels();
  if (kernels.size() < 2) GTEST_SKIP() << "this CPU has no AVX2: only the scalar kernel runs";
  std::mt19937 rng(1);
  const std::string junk = " \t\r\n=*-.!\x80\xff\0";
  for (int round = 0; round < 400; ++round) {
    std::string in = EncodeBase64(RandomBytes(rng, rng() % 3000), 4 + rng() % 100, round % 2 ? "\r\n" : "\n");
    // Sprinkle junk (and padding) at random positions, sometimes densely.
    const size_t sprinkles = rng() % (round % 5 == 0 ? in.size() + 1 : 20);
    for (size_t i = 0; i < sprinkles; ++i) in.insert(in.begin() + rng() % (in.size() + 1), junk[rng() % junk.size()]);
    EXPECT_EQ(Decode(*kernels[1], in), Decode(*kernels[0], in)) << "round " << round;
  }
}

TEST(Base64, AnySplitGivesTheOneShotOutput) {
  std::mt19937 rng(2);
  for (int round = 0; round < 200; ++round) {
    std::string in = EncodeBase64(RandomBytes(rng, rng() % 5000), 76, "\r\n");
    for (int i = 0; i < 5; ++i) in.insert(in.begin() + rng() % (in.size() + 1), "=*\n "[rng() % 4]);
    for (const auto* k : AllKernels()) {
      const std::string whole = Decode(*k, in);
      auto d = base64::NewDecoder(*k);
      EXPECT_EQ(DecodeSplit(*d, in, rng, round % 4 == 0 ? 1 : 1 + rng() % 100), whole) << k->name;
    }
  }
}

TEST(Base64, LongInputCrossesTheInternalChunk) {
  std::mt19937 rng(3);
  const std::string data = RandomBytes(rng, 200 * 1024);
  EXPECT_EQ(DecodeBase64(EncodeBase64(data)), data);
  auto d = NewStreamDecoder(TransferEncoding::kBase64);
  EXPECT_EQ(DecodeSplit(*d, EncodeBase64(data, 64, "\n"), rng, 40000), data);
}

TEST(Base64, GmimeVectors) {
  const auto b64 = ReadCorpusFile("gmime/tests/data/encodings/photo.b64");
  const auto jpg = ReadCorpusFile("gmime/tests/data/encodings/photo.jpg");
  if (!b64 || !jpg) GTEST_SKIP() << "gmime corpus absent (../shared/corpora/gmime)";
  for (const auto* k : AllKernels()) EXPECT_EQ(Decode(*k, *b64), *jpg) << k->name;

  const auto part = ReadCorpusFile("gmime/tests/data/mime-part/raptors.b64.txt");
  const auto png = ReadCorpusFile("gmime/tests/data/mime-part/raptors.png");
  ASSERT_TRUE(part && png);
  const size_t body = part->find("\n\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(DecodeBase64(std::string_view(*part).substr(body + 2)), *png);
}

TEST(EncodeBase64, LinesAndEol) {
  // Python: base64.b64encode(b"hello world, this is kensa").
  EXPECT_EQ(EncodeBase64("hello world, this is kensa", 0), "aGVsbG8gd29ybGQsIHRoaXMgaXMga2Vuc2E=");
  EXPECT_EQ(EncodeBase64("hello world, this is kensa", 16, "\n"),
            "aGVsbG8gd29ybGQs\nIHRoaXMgaXMga2Vu\nc2E=\n");
  EXPECT_EQ(EncodeBase64(""), "");
  EXPECT_EQ(EncodeBase64("a"), "YQ==\r\n");
  EXPECT_EQ(EncodeBase64("ab"), "YWI=\r\n");
  std::string bytes;
  for (int i = 0; i < 60; ++i) bytes.push_back(static_cast<char>(i));
  // Python: base64.b64encode(bytes(range(60))), cut at 76.
  EXPECT_EQ(EncodeBase64(bytes),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\nOTo7\r\n");
}

}  // namespace
}  // namespace kensa::scan
