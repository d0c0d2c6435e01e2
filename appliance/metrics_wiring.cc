// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/metrics_wiring.h"

#include "metrics/kensa_collector.h"

namespace kensa {

absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> StartMetrics(const Runtime& rt) {
  if (rt.config.metrics_address.empty()) return std::unique_ptr<metrics::MetricsServer>();
  metrics::MetricSources s;
  s.counters = &rt.counters;
  s.histograms = &rt.histograms;
  s.gauges = &rt.gauges;
  s.process_start = rt.started_at;
  // The holder's pointer is atomic: safe from the server's threads, and the snapshot it
  // returns keeps the set alive while it is read.
  const sigs::SignatureHolder* holder = &rt.signatures;
  s.signatures = [holder]() -> std::optional<metrics::SignatureSnapshot> {
    std::shared_ptr<const sigs::SignatureSet> set = holder->Current();
    if (set == nullptr) return std::nullopt;
    return metrics::SignatureSnapshot{set->version(), set->info().loaded_at};
  };
  return metrics::MetricsServer::Start(rt.config.metrics_address,
                                       std::make_shared<metrics::KensaCollector>(std::move(s)));
}

}  // namespace kensa
