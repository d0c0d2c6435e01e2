// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/uuencode_extractor.h"

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

struct File {
  std::string name;
  std::string data;
  bool ended = false;
  bool operator==(const File&) const = default;
};

class Collector : public UuencodeExtractor::Sink {
 public:
  void OnFileBegin(std::string_view name) override { files.push_back({std::string(name), "", false}); }
  void OnFileData(std::string_view decoded) override {
    ASSERT_FALSE(files.empty());
    ASSERT_FALSE(files.back().ended);
    files.back().data.append(decoded);
  }
  void OnFileEnd() override {
    ASSERT_FALSE(files.empty());
    files.back().ended = true;
  }
  std::vector<File> files;
};

std::vector<File> Extract(std::string_view text, size_t max_piece = 0, size_t max_line = 4096) {
  Collector c;
  UuencodeExtractor x(&c, max_line);
  if (max_piece == 0) {
    x.Feed(text);
  } else {
    for (size_t i = 0; i < text.size(); i += max_piece) x.Feed(text.substr(i, max_piece));
  }
  x.Finish();
  return c.files;
}

// Python: binascii.b2a_uu(b"Cat") == b"#0V%T\n";
// binascii.b2a_uu(b"Hello, world!", backtick=True) == b"-2&5L;&\\L('=O<FQD(0``\n".
constexpr std::string_view kCat = "#0V%T";
constexpr std::string_view kHello = "-2&5L;&\\L('=O<FQD(0``";

TEST(Uuencode, LinesDecodeBothZeroFormsAndIgnoreExtra) {
  std::string out;
  EXPECT_TRUE(uuencode::DecodeLine(kCat, false, &out));
  EXPECT_EQ(out, "Cat");
  out.clear();
  EXPECT_TRUE(uuencode::DecodeLine(kHello, false, &out));
  EXPECT_EQ(out, "Hello, world!");
  out.clear();
  // '`' and ' ' are both zero; "!" + "````" is one zero byte.
  EXPECT_TRUE(uuencode::DecodeLine("!````", false, &out));
  EXPECT_TRUE(uuencode::DecodeLine("!    ", false, &out));
  EXPECT_EQ(out, std::string(2, '\0'));
  out.clear();
  EXPECT_TRUE(uuencode::DecodeLine(std::string(kCat) + "XYZ junk", false, &out));  // Extra ignored.
  EXPECT_EQ(out, "Cat");
  out.clear();
  // Python: binascii.b2a_uu(b"Ca\0") == b"#0V$ \n"; a transport stripped the trailing space.
  EXPECT_TRUE(uuencode::DecodeLine("#0V$", false, &out));
  EXPECT_EQ(out, std::string("Ca\0", 3));
  out.clear();
  EXPECT_FALSE(uuencode::DecodeLine("#0V$", true, &out));
  EXPECT_FALSE(uuencode::DecodeLine("hello", false, &out));
  EXPECT_TRUE(out.empty());
}

TEST(Uuencode, BeginAndEndLines) {
  EXPECT_EQ(uuencode::ParseBeginLine("begin 644 photo.jpg"), "photo.jpg");
  EXPECT_EQ(uuencode::ParseBeginLine("begin 0755 my file.exe  "), "my file.exe");
  EXPECT_FALSE(uuencode::ParseBeginLine("begin 64 x"));
  EXPECT_FALSE(uuencode::ParseBeginLine("begin 64444 x"));
  EXPECT_FALSE(uuencode::ParseBeginLine("begin 648 x"));
  EXPECT_FALSE(uuencode::ParseBeginLine("begin 644"));
  EXPECT_FALSE(uuencode::ParseBeginLine("begin-base64 644 x"));
  EXPECT_TRUE(uuencode::IsEndLine("end"));
  EXPECT_TRUE(uuencode::IsEndLine("end  "));
  EXPECT_FALSE(uuencode::IsEndLine("ending"));
}

TEST(UuencodeExtractor, SeveralFilesCrlfAndLf) {
  const std::string text = "Hi,\r\ntwo files:\r\n\r\nbegin 644 cat.txt\r\n" + std::string(kCat) +
                           "\r\n`\r\nend\r\ntext between\nbegin 600 hello\n" + std::string(kHello) + "\n \nend\nbye\n";
  const std::vector<File> want = {{"cat.txt", "Cat", true}, {"hello", "Hello, world!", true}};
  EXPECT_EQ(Extract(text), want);
  for (size_t piece : {1, 2, 3, 7, 64}) EXPECT_EQ(Extract(text, piece), want) << piece;
}

TEST(UuencodeExtractor, FileClosedByNonUuencodeLineOrEndOfStream) {
  const std::string text = "begin 644 a\n" + std::string(kCat) + "\nthis is text\nbegin 644 b\n" + std::string(kCat);
  const std::vector<File> want = {{"a", "Cat", true}, {"b", "Cat", true}};
  EXPECT_EQ(Extract(text), want);
  EXPECT_EQ(Extract(text, 1), want);
  // A line running straight into the next begin.
  EXPECT_EQ(Extract("begin 644 a\n#0V%T\nbegin 644 b\n#0V%T\nend\n"), want);
}

TEST(UuencodeExtractor, OverlongLinesAreSkippedAndCloseAFile) {
  const std::string longline(100, 'M');
  const std::string text = longline + "\nbegin 644 a\n" + std::string(kCat) + "\n" + longline + "\n#0V%T\nend\n";
  const std::vector<File> want = {{"a", "Cat", true}};
  EXPECT_EQ(Extract(text, 0, 64), want);
  EXPECT_EQ(Extract(text, 1, 64), want);
}

TEST(UuencodeStreamDecoder, BeginEndBlocksOrBareLines) {
  auto d = NewStreamDecoder(TransferEncoding::kUuencode);
  EXPECT_EQ(DecodeWhole(*d, "begin 644 a\n#0V%T\nend\nnot encoded\nbegin 644 b\n#0V%T\nend\n#0V%T\n"), "CatCat");
  auto bare = NewStreamDecoder(TransferEncoding::kUuencode);
  // No begin line: complete uuencode lines decode directly; text lines are skipped.
  EXPECT_EQ(DecodeWhole(*bare, "hello there\r\n#0V%T\r\n" + std::string(kHello) + "\r\n`\r\nend\r\n"), "CatHello, world!");
}

TEST(UuencodeStreamDecoder, AnySplitGivesTheOneShotOutput) {
  std::mt19937 rng(11);
  const std::vector<std::string> lines = {"begin 644 x", "end", "#0V%T", "#0V", std::string(kHello), "", "`",
                                          "text", "M" + std::string(60, '0'), "begin 64 y", "\r"};
  for (int round = 0; round < 300; ++round) {
    std::string in;
    for (int i = rng() % 20; i > 0; --i) in += lines[rng() % lines.size()] + (rng() % 2 ? "\n" : "\r\n");
    if (rng() % 2) in += lines[rng() % lines.size()];
    auto whole = uuencode::NewDecoder({.max_line_bytes = 40});
    auto split = uuencode::NewDecoder({.max_line_bytes = 40});
    const std::string want = DecodeWhole(*whole, in);
    EXPECT_EQ(DecodeSplit(*split, in, rng, round % 3 == 0 ? 1 : 1 + rng() % 20), want) << in;
    const std::vector<File> files = Extract(in, 0, 40);
    EXPECT_EQ(Extract(in, 1 + rng() % 5, 40), files) << in;
    for (const File& f : files) EXPECT_TRUE(f.ended);
    if (in.starts_with("begin 644 x")) {  // No bare lines before the first block.
      std::string extracted;
      for (const File& f : files) extracted += f.data;
      EXPECT_EQ(extracted, want) << in;
    }
  }
}

TEST(UuencodeExtractor, GmimeVectors) {
  const auto uu = ReadCorpusFile("gmime/tests/data/encodings/photo.uu");
  const auto jpg = ReadCorpusFile("gmime/tests/data/encodings/photo.jpg");
  if (!uu || !jpg) GTEST_SKIP() << "gmime corpus absent (../shared/corpora/gmime)";
  const std::vector<File> want = {{"photo.jpg", *jpg, true}};
  EXPECT_EQ(Extract(*uu), want);
  EXPECT_EQ(Extract(*uu, 13), want);
  auto d = NewStreamDecoder(TransferEncoding::kUuencode);
  EXPECT_EQ(DecodeWhole(*d, *uu), *jpg);

  const auto part = ReadCorpusFile("gmime/tests/data/mime-part/raptors.uu.txt");
  const auto png = ReadCorpusFile("gmime/tests/data/mime-part/raptors.png");
  ASSERT_TRUE(part && png);
  const std::vector<File> raptors = {{"raptors.png", *png, true}};
  EXPECT_EQ(Extract(*part), raptors);
}

}  // namespace
}  // namespace kensa::scan
