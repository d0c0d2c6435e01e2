// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/logical_expression.h"

#include "gtest/gtest.h"

namespace kensa::sigs {
namespace {

bool Can(const char* e, std::vector<bool> zero) {
  absl::StatusOr<bool> r = ExpressionCanBeTrue(e, zero);
  EXPECT_TRUE(r.ok()) << e << ": " << r.status();
  return r.value_or(true);
}

TEST(LogicalExpression, ConjunctionNeedsEveryOperand) {
  EXPECT_FALSE(Can("0&1", {true, false}));   // 0 is absent: never true
  EXPECT_TRUE(Can("0&1", {false, false}));
}

TEST(LogicalExpression, DisjunctionNeedsEveryOperandAbsent) {
  EXPECT_TRUE(Can("0|1", {true, false}));
  EXPECT_FALSE(Can("0|1", {true, true}));
}

TEST(LogicalExpression, CountsAndNegation) {
  EXPECT_TRUE(Can("0=0", {true}));           // "0 does not match" is true when 0 is absent
  EXPECT_FALSE(Can("0&1=0", {true, true}));
  EXPECT_FALSE(Can("(0|1)>2,1", {true, true}));
  EXPECT_TRUE(Can("(0|1)>2,1", {true, false}));
  EXPECT_TRUE(Can("0<1", {true}));
}

TEST(LogicalExpression, MixedLevelIsReadAsOr) {
  // (0|1)&2 and 0|(1&2) differ; with 0 unknown only the reading as '|' is safe.
  EXPECT_TRUE(Can("0|1&2", {false, true, true}));
  EXPECT_FALSE(Can("0|1&2", {true, true, true}));
}

TEST(LogicalExpression, UnknownIndexMayMatch) { EXPECT_TRUE(Can("0&5", {false})); }

TEST(LogicalExpression, Malformed) {
  for (const char* e : {"", "0&", "(0|1", "0&&1", "a", "0)"}) {
    EXPECT_FALSE(ExpressionCanBeTrue(e, {}).ok()) << e;
  }
}

}  // namespace
}  // namespace kensa::sigs
