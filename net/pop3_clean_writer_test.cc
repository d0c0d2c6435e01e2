// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/pop3_clean_writer.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "net/pop3_dot_codec.h"
#include "spool/queue_file.h"

namespace kensa::net {
namespace {

using spool::ContentEdit;

// What the client got before streaming: the whole copy built in memory, then stuffed.
std::string Whole(const std::string& headers, const std::string& original,
                  const std::vector<ContentEdit>& edits) {
  absl::StatusOr<std::string> edited = spool::ApplyEdits(original, edits);
  EXPECT_TRUE(edited.ok()) << edited.status();
  return Pop3DotStuff(headers + *edited);
}

// The writer fed `original` in pieces of `piece` bytes.
std::string Streamed(const std::string& headers, const std::string& original,
                     const std::vector<ContentEdit>& edits, size_t piece) {
  Pop3CleanWriter w(headers, edits);
  EXPECT_TRUE(w.Check(original.size()).ok());
  std::string out;
  for (size_t at = 0; at < original.size(); at += piece) {
    w.Feed(std::string_view(original).substr(at, piece), &out);
  }
  EXPECT_EQ(w.consumed(), original.size());
  w.Finish(&out);
  return out;
}

TEST(Pop3DotStufferTest, PiecesCutAnywhereStuffAsTheWhole) {
  const std::string message = ".a\r\n..b\r\nc.\r\n.\r\n\r\n.\n.x";
  for (size_t piece = 1; piece <= message.size(); ++piece) {
    Pop3DotStuffer s;
    std::string out;
    for (size_t at = 0; at < message.size(); at += piece) {
      s.Append(std::string_view(message).substr(at, piece), &out);
    }
    s.Finish(&out);
    EXPECT_EQ(out, Pop3DotStuff(message)) << piece;
  }
  std::string out;
  Pop3DotStuffer().Finish(&out);
  EXPECT_EQ(out, ".\r\n");
}

TEST(Pop3CleanWriterTest, EditsAcrossPieceBoundariesGiveTheWholeCopy) {
  const std::string headers = "X-Virus-Status: Infected\r\n.X-Dot: y\r\n";
  const std::string original =
      "Subject: x\r\n\r\n--b\r\nbody\r\n.line\r\n--b\r\nEICAR-LIKE-PART-BYTES\r\n--b--\r\n"
      "tail without newline.";
  const uint64_t n = original.size();
  const std::vector<std::vector<ContentEdit>> cases = {
      {},
      {{0, 0, ".inserted at the start\r\n"}},
      {{n, n, "\r\n.appended"}},
      {{20, 40, "[removed]\r\n.dot"}},
      {{20, 20, "ins"}, {20, 30, "rep"}, {30, 45, ""}, {45, 45, ".\r\n"}},
      {{0, n, "all of it\r\n"}},
      {{5, 6, "."}, {n - 1, n, ""}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string want = Whole(headers, original, cases[c]);
    for (size_t piece = 1; piece <= original.size() + 1; ++piece) {
      ASSERT_EQ(Streamed(headers, original, cases[c], piece), want)
          << "case " << c << " piece " << piece;
    }
  }
}

TEST(Pop3CleanWriterTest, RandomEditsAndCutsMatchTheWholeCopy) {
  std::mt19937 rng(17);
  const std::string alphabet = ".\r\nab";
  for (int round = 0; round < 300; ++round) {
    std::string original(rng() % 200, 'x');
    for (char& ch : original) ch = alphabet[rng() % alphabet.size()];
    std::vector<uint64_t> points;
    for (int i = rng() % 6; i > 0; --i) points.push_back(rng() % (original.size() + 1));
    std::sort(points.begin(), points.end());
    if (points.size() % 2 == 1) points.push_back(original.size());
    std::vector<ContentEdit> edits;
    for (size_t i = 0; i < points.size(); i += 2) {
      edits.push_back({points[i], points[i + 1], std::string(rng() % 4, '.') + "\r\nr"});
    }
    const std::string want = Whole("H: v\r\n", original, edits);
    const size_t piece = 1 + rng() % 40;
    ASSERT_EQ(Streamed("H: v\r\n", original, edits, piece), want) << round;
  }
}

TEST(Pop3CleanWriterTest, EditsThatDoNotFitAreRefused) {
  Pop3CleanWriter w("", {{5, 20, ""}});
  EXPECT_FALSE(w.Check(10).ok());
  EXPECT_TRUE(w.Check(20).ok());
  Pop3CleanWriter overlapping("", {{5, 10, ""}, {8, 12, ""}});
  EXPECT_FALSE(overlapping.Check(20).ok());
}

TEST(Pop3CleanWriterTest, EmptyMessageIsTheHeadersAndTheEnd) {
  EXPECT_EQ(Streamed("X: y\r\n", "", {}, 1), "X: y\r\n.\r\n");
  EXPECT_EQ(Streamed("", "", {}, 1), ".\r\n");
}

}  // namespace
}  // namespace kensa::net
