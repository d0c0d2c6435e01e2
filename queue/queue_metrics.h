// SPDX-License-Identifier: GPL-2.0-or-later
// QueueMetrics: the ids of what the queue manager reports besides its counters: the delivery
// latency histogram and the gauges of its queue (core/histograms.h, core/gauges.h). Register()
// names them once at start-up, before the sets are resized.
#ifndef KENSA_QUEUE_QUEUE_METRICS_H_
#define KENSA_QUEUE_QUEUE_METRICS_H_

#include "core/gauges.h"
#include "core/histograms.h"

namespace kensa::queue {

struct QueueMetrics {
  int delivery_latency = 0;                    // histogram
  int queue_messages = 0, oldest_arrival = 0;  // gauges

  static QueueMetrics Register(HistogramSet& histograms, GaugeSet& gauges);
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_QUEUE_METRICS_H_
