// SPDX-License-Identifier: GPL-2.0-or-later
// What /metrics says, as Prometheus's text format, for rows filled in view: names, labels,
// values, histogram buckets, the age gauges, the signature info and the process.
#include "metrics/kensa_collector.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace kensa::metrics {
namespace {

using ::testing::HasSubstr;

std::string Text(const KensaCollector& c) {
  return prometheus::TextSerializer().Serialize(c.Collect());
}

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

MetricSources FixedClock() {
  MetricSources s;
  s.now = [] { return kNow; };
  s.resident_memory = []() -> absl::StatusOr<uint64_t> { return uint64_t{123456789}; };
  s.process_start = kNow - absl::Seconds(90);
  return s;
}

TEST(KensaCollectorTest, ExportsEachCounterPerReactorWithThePrefix) {
  CounterSet counters;
  const int queued = counters.Register("messages_queued_total", "messages spooled (250)");
  const int infected = counters.Register("messages_infected_total", "infected messages");
  counters.Resize(2);
  counters.Add(0, queued, 3);
  counters.Add(1, queued, 4);
  counters.Add(1, infected);
  MetricSources s = FixedClock();
  s.counters = &counters;
  const std::string text = Text(KensaCollector(s));
  EXPECT_THAT(text, HasSubstr("# HELP kensa_messages_queued_total messages spooled (250)\n"
                              "# TYPE kensa_messages_queued_total counter\n"
                              "kensa_messages_queued_total{reactor=\"0\"} 3"));
  EXPECT_THAT(text, HasSubstr("kensa_messages_queued_total{reactor=\"1\"} 4"));
  EXPECT_THAT(text, HasSubstr("kensa_messages_infected_total{reactor=\"0\"} 0"));
  EXPECT_THAT(text, HasSubstr("kensa_messages_infected_total{reactor=\"1\"} 1"));
}

TEST(KensaCollectorTest, ExportsHistogramsWithCumulativeBucketsAndPlusInf) {
  HistogramSet histograms;
  const int id = histograms.Register("delivery_latency_seconds", "arrival to delivery", {0.1, 1});
  histograms.Resize(1);
  histograms.Observe(0, id, absl::Milliseconds(50));
  histograms.Observe(0, id, absl::Milliseconds(500));
  histograms.Observe(0, id, absl::Seconds(5));
  MetricSources s = FixedClock();
  s.histograms = &histograms;
  const std::string text = Text(KensaCollector(s));
  EXPECT_THAT(text, HasSubstr("# TYPE kensa_delivery_latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("kensa_delivery_latency_seconds_count{reactor=\"0\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("kensa_delivery_latency_seconds_sum{reactor=\"0\"} 5.55"));
  EXPECT_THAT(text, HasSubstr("kensa_delivery_latency_seconds_bucket{reactor=\"0\",le=\"0.1"));
  // One +Inf bucket, holding every observation.
  EXPECT_THAT(text,
              HasSubstr("kensa_delivery_latency_seconds_bucket{reactor=\"0\",le=\"+Inf\"} 3\n"));
  size_t inf = 0;
  for (size_t at = text.find("le=\"+Inf\""); at != std::string::npos;
       at = text.find("le=\"+Inf\"", at + 1)) {
    ++inf;
  }
  EXPECT_EQ(inf, 1u);
  const std::vector<prometheus::MetricFamily> families = KensaCollector(s).Collect();
  ASSERT_EQ(families.size(), 3u);  // the histogram, the process's two
  const prometheus::ClientMetric::Histogram& h = families[0].metric[0].histogram;
  ASSERT_EQ(h.bucket.size(), 3u);
  EXPECT_EQ(h.bucket[0].cumulative_count, 1u);
  EXPECT_EQ(h.bucket[1].cumulative_count, 2u);
  EXPECT_EQ(h.bucket[2].cumulative_count, 3u);
  EXPECT_EQ(h.bucket[1].upper_bound, 1.0);
}

TEST(KensaCollectorTest, ExportsGaugesAndTurnsTimestampsIntoAges) {
  GaugeSet gauges;
  const int open = gauges.Register("connections_open", "client connections open");
  const int oldest = gauges.Register("queue_oldest_message_age_seconds", "oldest message",
                                     GaugeSet::Kind::kAgeOfTimestamp);
  gauges.Resize(2);
  gauges.Set(0, open, 5);
  gauges.Set(1, oldest, absl::ToUnixMicros(kNow - absl::Seconds(42)));
  MetricSources s = FixedClock();
  s.gauges = &gauges;
  const std::string text = Text(KensaCollector(s));
  EXPECT_THAT(text, HasSubstr("# TYPE kensa_connections_open gauge\n"
                              "kensa_connections_open{reactor=\"0\"} 5"));
  EXPECT_THAT(text, HasSubstr("kensa_connections_open{reactor=\"1\"} 0"));
  // An empty queue has no oldest message: age 0, not 56 years.
  EXPECT_THAT(text, HasSubstr("kensa_queue_oldest_message_age_seconds{reactor=\"0\"} 0"));
  EXPECT_THAT(text, HasSubstr("kensa_queue_oldest_message_age_seconds{reactor=\"1\"} 42"));
}

TEST(KensaCollectorTest, ExportsTheSignatureSetAndTheProcess) {
  MetricSources s = FixedClock();
  s.signatures = []() -> std::optional<SignatureSnapshot> {
    return SignatureSnapshot{"sha256-0123456789abcdef", kNow - absl::Seconds(600)};
  };
  const std::string text = Text(KensaCollector(s));
  EXPECT_THAT(text, HasSubstr("kensa_signature_info{version=\"sha256-0123456789abcdef\"} 1"));
  EXPECT_THAT(text, HasSubstr("kensa_signature_age_seconds 600"));
  EXPECT_THAT(text, HasSubstr("# TYPE kensa_process_resident_memory_bytes gauge\n"
                              "kensa_process_resident_memory_bytes 123456789"));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("kensa_process_start_time_seconds ",
                                           absl::ToUnixSeconds(kNow) - 90)));
}

TEST(KensaCollectorTest, LeavesOutWhatItCannotKnow) {
  MetricSources s = FixedClock();
  s.signatures = [] { return std::optional<SignatureSnapshot>(); };  // scanning off
  s.resident_memory = []() -> absl::StatusOr<uint64_t> {
    return absl::UnavailableError("no /proc");
  };
  const std::string text = Text(KensaCollector(s));
  EXPECT_FALSE(absl::StrContains(text, "kensa_signature_"));
  EXPECT_FALSE(absl::StrContains(text, "kensa_process_resident_memory_bytes"));
  EXPECT_THAT(text, HasSubstr("kensa_process_start_time_seconds "));
}

}  // namespace
}  // namespace kensa::metrics
