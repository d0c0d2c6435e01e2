// SPDX-License-Identifier: GPL-2.0-or-later
// What the queue manager of one reactor is given: DeliverySettings (the configured limits and
// names it reads) and DeliveryEnvironment (the reactor, threads, spool shard, next hops and
// counters it works with). Both are plain values built by whoever runs the queue (kensad's
// shard, or a test), so queue/ knows nothing of the configuration file or the shard.
#ifndef KENSA_QUEUE_DELIVERY_SETTINGS_H_
#define KENSA_QUEUE_DELIVERY_SETTINGS_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "net/next_hop.h"
#include "net/tls_context.h"
#include "queue/delivery_counters.h"
#include "queue/queue_metrics.h"
#include "spool/spool_shard.h"

namespace kensa::queue {

// The [delivery] settings (and the host name) as one reactor applies them.
struct DeliverySettings {
  // EHLO/LHLO name, the DSN's Reporting-MTA and the host in its trace header.
  std::string hostname;
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration reply_timeout = absl::Minutes(5);
  // Backoff between attempts: retry_min, doubling up to retry_max.
  absl::Duration retry_min = absl::Minutes(1);
  absl::Duration retry_max = absl::Hours(1);
  // A recipient still undelivered this long after arrival is bounced.
  absl::Duration max_queue_lifetime = absl::Hours(24 * 5);
  // Connections this reactor opens to one next hop at most (the configured total divided
  // among the reactors).
  size_t max_connections_per_hop = 20;
};

// Where each recipient goes.
struct NextHopRoutes {
  net::NextHop local;     // local domains, and addresses without a domain
  net::NextHop relay;     // every other domain
  net::NextHop outbound;  // every recipient of a sender who authenticated (submission)
  std::function<bool(std::string_view domain)> is_local_domain;
};

// Borrowed pointers: each must outlive the DeliveryAgent built on it.
struct DeliveryEnvironment {
  Reactor* reactor = nullptr;  // the agent, its pools and connections live on its thread
  // Blocking file work (reading queue files, Maildir writes, DSNs) and name resolution.
  Worker* worker = nullptr;
  // This reactor's spool shard: DSNs are written there and take its index in their ids.
  spool::SpoolShard* spool = nullptr;
  NextHopRoutes routes;
  // STARTTLS to next hops; null: never offered (a hop with tls=required then fails).
  std::shared_ptr<net::TlsContext> client_tls;
  // Where the delivery counters are added (row `counter_row`); null counts nothing.
  CounterSet* counters = nullptr;
  int counter_row = 0;
  DeliveryCounters counter_ids;

  // The delivery latency and the queue's gauges, in the same row; null keeps none.
  HistogramSet* histograms = nullptr;
  GaugeSet* gauges = nullptr;
  QueueMetrics metric_ids;

  void Count(int id) const {
    if (counters != nullptr) counters->Add(counter_row, id);
  }
  void Observe(int id, absl::Duration d) const {
    if (histograms != nullptr) histograms->Observe(counter_row, id, d);
  }
  void SetGauge(int id, int64_t value) const {
    if (gauges != nullptr) gauges->Set(counter_row, id, value);
  }
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_DELIVERY_SETTINGS_H_
