// SPDX-License-Identifier: GPL-2.0-or-later
// Runtime: what every reactor of kensad shares: the configuration it started with (what only a
// restart changes), the live settings a reload replaces (appliance/live_settings.h), and the
// few process-wide objects that are safe to share (admission limiter, counters).
#ifndef KENSA_APPLIANCE_RUNTIME_H_
#define KENSA_APPLIANCE_RUNTIME_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "appliance/config.h"
#include "appliance/live_settings.h"
#include "appliance/subscriber_provisioner.h"
#include "auth/auth_backend.h"
#include "auth/auth_failure_limiter.h"
#include "core/counters.h"
#include "feed/signature_updater.h"
#include "core/gauges.h"
#include "core/histograms.h"
#include "net/next_hop.h"
#include "net/tls_context.h"
#include "queue/delivery_counters.h"
#include "queue/queue_metrics.h"
#include "scan/message_scanner.h"
#include "server/connection_limiter.h"
#include "server/server_counters.h"
#include "server/server_histograms.h"
#include "sigs/signature_set.h"

namespace kensa {

// The counters the wiring and the queue manager add to; the connections' own are
// ServerCounters (server/server_counters.h).
struct CounterIds {
  int connections = 0, connections_refused = 0, signature_reloads = 0,
      signature_reload_failures = 0, accept_failures = 0;
};

struct Runtime {
  // As started (max_connections fitted to the descriptor limit); the settings a reload cannot
  // change are read here, the others from `live`.
  KensaConfig config;
  // As the file said at start: a reload names the restart-only settings that differ from it.
  KensaConfig loaded_config;
  LiveSettingsHolder live;
  std::shared_ptr<net::TlsContext> client_tls;
  std::unique_ptr<auth::AuthFailureLimiter> auth_limiter;
  std::unique_ptr<ConnectionLimiter> limiter;
  CounterSet counters;
  CounterIds ids;
  queue::DeliveryCounters delivery_ids;  // registered by queue/ itself
  ServerCounters server_ids;
  // Latencies and per-reactor gauges, read by the metrics endpoint (metrics/).
  HistogramSet histograms;
  GaugeSet gauges;
  ServerHistograms server_histogram_ids;
  queue::QueueMetrics queue_metric_ids;
  int connections_open_gauge = 0;
  absl::Time started_at;
  int reactors = 1;
  // The LMDB subscriber store, opened once: every generation's policy reads it, and the admin
  // shell's subscriber commands write it.
  std::shared_ptr<subscribers::SubscriberStore> subscribers;
  sigs::SignatureHolder signatures;  // the current set; swapped on reload
  scan::ClamLimits clam_limits;
  // Null unless [[signatures.feed]] is configured. Last, so it stops before what it publishes
  // into is destroyed.
  std::unique_ptr<feed::SignatureUpdater> updater;
  // [provisioning] subscribers_url: pulls the subscriber list (null when not configured).
  std::unique_ptr<SubscriberProvisioner> provisioner;
  // False after the shell's "service drain" until "service resume".
  std::atomic<bool> accepting{true};
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_RUNTIME_H_
