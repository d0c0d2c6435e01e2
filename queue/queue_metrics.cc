// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/queue_metrics.h"

namespace kensa::queue {

QueueMetrics QueueMetrics::Register(HistogramSet& histograms, GaugeSet& gauges) {
  QueueMetrics ids;
  // From a second (the next hop answers at once) to days (retries until max_queue_lifetime).
  ids.delivery_latency = histograms.Register("delivery_latency_seconds",
                                             "arrival to delivery, per recipient delivered",
                                             {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                              60, 300, 900, 3600, 14400, 86400, 432000});
  ids.queue_messages =
      gauges.Register("queue_messages", "messages in the queue (waiting or being delivered)");
  ids.oldest_arrival =
      gauges.Register("queue_oldest_message_age_seconds",
                      "age of the oldest message in the queue (0 when it is empty)",
                      GaugeSet::Kind::kAgeOfTimestamp);
  return ids;
}

}  // namespace kensa::queue
