// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/delivery_agent.h"

#include "gtest/gtest.h"

namespace kensa::queue {
namespace {

TEST(RetryDelayTest, DoublesFromMinimumAndStopsAtMaximum) {
  const absl::Duration min = absl::Seconds(60), max = absl::Hours(1);
  EXPECT_EQ(DeliveryAgent::RetryDelay(1, min, max), absl::Seconds(60));
  EXPECT_EQ(DeliveryAgent::RetryDelay(2, min, max), absl::Seconds(120));
  EXPECT_EQ(DeliveryAgent::RetryDelay(4, min, max), absl::Seconds(480));
  EXPECT_EQ(DeliveryAgent::RetryDelay(7, min, max), absl::Hours(1));
  EXPECT_EQ(DeliveryAgent::RetryDelay(1000, min, max), absl::Hours(1));
}

}  // namespace
}  // namespace kensa::queue
