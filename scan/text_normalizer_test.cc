// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/text_normalizer.h"

#include "gtest/gtest.h"

namespace kensa::scan {
namespace {

TEST(TextNormalizer, LikeLibclamav) {
  TextNormalizer n;
  std::string out;
  EXPECT_EQ(n.Normalize("Hello,\r\n \tWORLD\x01 caf\xc3\xa9!", &out), "hello, world caf!");
}

TEST(TextNormalizer, WhitespaceRunSpansChunks) {
  TextNormalizer n;
  std::string a, b;
  EXPECT_EQ(n.Normalize("one  ", &a), "one ");
  EXPECT_EQ(n.Normalize("\n\ntwo", &b), "two");
}

}  // namespace
}  // namespace kensa::scan
