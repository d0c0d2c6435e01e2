// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/message_spool.h"

#include <string>

#include "gtest/gtest.h"

namespace kensa::scan {
namespace {

std::string ReadAll(const MessageSpool& s, size_t piece) {
  std::string all, chunk;
  for (uint64_t at = 0;; at += chunk.size()) {
    EXPECT_TRUE(s.ReadAt(at, piece, &chunk).ok());
    if (chunk.empty()) return all;
    all += chunk;
  }
}

TEST(MessageSpoolTest, SmallMessageStaysInMemory) {
  MessageSpool s(64, ::testing::TempDir());
  s.Append("hello ");
  s.Append("world");
  EXPECT_TRUE(s.in_memory());
  EXPECT_EQ(s.memory(), "hello world");
  EXPECT_EQ(ReadAll(s, 4), "hello world");
}

TEST(MessageSpoolTest, LargeMessageGoesToAnUnlinkedFileAndReadsBackInPieces) {
  MessageSpool s(64, ::testing::TempDir());
  std::string want;
  for (int i = 0; i < 100; ++i) {
    const std::string line = "line " + std::to_string(i) + "\r\n";
    s.Append(line);
    want += line;
  }
  EXPECT_FALSE(s.in_memory());
  EXPECT_TRUE(s.error().ok());
  EXPECT_EQ(s.size(), want.size());
  EXPECT_EQ(ReadAll(s, 7), want);
  std::string tail;
  ASSERT_TRUE(s.ReadAt(want.size() - 3, 100, &tail).ok());
  EXPECT_EQ(tail, want.substr(want.size() - 3));
}

TEST(MessageSpoolTest, NoTemporaryFileIsAnError) {
  MessageSpool s(4, "/nonexistent/kensa-spool-dir");
  s.Append("abc");
  EXPECT_TRUE(s.error().ok());
  s.Append("defgh");
  EXPECT_FALSE(s.error().ok());
  EXPECT_EQ(s.size(), 8u);
  std::string out;
  EXPECT_FALSE(s.ReadAt(0, 10, &out).ok());
}

}  // namespace
}  // namespace kensa::scan
