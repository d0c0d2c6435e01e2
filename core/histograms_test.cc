// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/histograms.h"

#include "core/gauges.h"
#include "gtest/gtest.h"

namespace kensa {
namespace {

TEST(HistogramSetTest, CountsEachObservationInTheFirstBucketAtOrAboveIt) {
  HistogramSet h;
  const int id = h.Register("latency_seconds", "a latency", {0.001, 0.01, 0.1});
  h.Resize(1);
  h.Observe(0, id, absl::Microseconds(500));  // <= 0.001
  h.Observe(0, id, absl::Milliseconds(1));    // exactly on a bound: that bucket ("le")
  h.Observe(0, id, absl::Milliseconds(50));   // <= 0.1
  h.Observe(0, id, absl::Seconds(3));         // +Inf only
  HistogramSet::Reading r = h.Read(0, id);
  EXPECT_EQ(r.cumulative, (std::vector<uint64_t>{2, 2, 3, 4}));
  EXPECT_EQ(r.count(), 4u);
  EXPECT_NEAR(r.sum_seconds, 0.0005 + 0.001 + 0.05 + 3, 1e-9);
}

TEST(HistogramSetTest, KeepsReactorsAndHistogramsApart) {
  HistogramSet h;
  const int a = h.Register("a_seconds", "a", {1});
  const int b = h.Register("b_seconds", "b", {0.5, 2});
  h.Resize(2);
  h.Observe(0, a, absl::Milliseconds(10));
  h.Observe(1, b, absl::Seconds(1));
  h.Observe(1, b, absl::Seconds(1));
  EXPECT_EQ(h.Read(0, a).cumulative, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(h.Read(1, a).cumulative, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(h.Read(0, b).cumulative, (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(h.Read(1, b).cumulative, (std::vector<uint64_t>{0, 2, 2}));
  EXPECT_NEAR(h.Read(1, b).sum_seconds, 2.0, 1e-9);
  EXPECT_EQ(h.reactors(), 2);
  EXPECT_EQ(h.bounds(b), (std::vector<double>{0.5, 2}));
}

TEST(HistogramSetTest, ANegativeDurationCountsAsZero) {
  HistogramSet h;
  const int id = h.Register("x_seconds", "x", {0.001});
  h.Resize(1);
  h.Observe(0, id, -absl::Seconds(5));
  EXPECT_EQ(h.Read(0, id).cumulative, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(h.Read(0, id).sum_seconds, 0.0);
}

TEST(GaugeSetTest, EachReactorHasItsOwnSlot) {
  GaugeSet g;
  const int open = g.Register("connections_open", "open connections");
  const int oldest = g.Register("oldest", "oldest", GaugeSet::Kind::kAgeOfTimestamp);
  g.Resize(2);
  g.Set(0, open, 3);
  g.Set(1, open, 7);
  g.Set(1, oldest, 1700000000000000);
  EXPECT_EQ(g.Get(0, open), 3);
  EXPECT_EQ(g.Get(1, open), 7);
  EXPECT_EQ(g.Get(0, oldest), 0);
  EXPECT_EQ(g.kind(oldest), GaugeSet::Kind::kAgeOfTimestamp);
  EXPECT_EQ(g.kind(open), GaugeSet::Kind::kValue);
}

}  // namespace
}  // namespace kensa
