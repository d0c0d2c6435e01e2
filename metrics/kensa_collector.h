// SPDX-License-Identifier: GPL-2.0-or-later
// KensaCollector: what /metrics shows, built at each scrape from the per-reactor rows that the
// reactors keep anyway (core/counters.h, core/histograms.h, core/gauges.h), so the data path
// does nothing for the metrics beyond writing its own row. Names follow Prometheus's
// conventions: a kensa_ prefix, counters end in _total (the CounterSet names already do),
// durations in _seconds, sizes in _bytes; every per-reactor series has a `reactor` label.
// Besides the rows: the signature set in use (an info gauge with its version, and its age)
// and the process (resident memory, start time).
//
// Collect() runs on the HTTP server's threads: everything it reads must be safe to read from
// there (the rows' relaxed atomics; the sources' functions say so themselves).
#ifndef KENSA_METRICS_KENSA_COLLECTOR_H_
#define KENSA_METRICS_KENSA_COLLECTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/gauges.h"
#include "core/histograms.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace kensa::metrics {

struct SignatureSnapshot {
  std::string version;
  absl::Time loaded_at;
};

struct MetricSources {
  // Each may be null (nothing of that kind is shown); they must outlive the collector.
  const CounterSet* counters = nullptr;
  const HistogramSet* histograms = nullptr;
  const GaugeSet* gauges = nullptr;
  // The signature set in use, or nullopt when none is loaded (scanning off). Called on the
  // HTTP server's threads.
  std::function<std::optional<SignatureSnapshot>()> signatures;
  absl::Time process_start;
  // For tests; default: absl::Now and ReadResidentMemoryBytes.
  std::function<absl::Time()> now;
  std::function<absl::StatusOr<uint64_t>()> resident_memory;
};

class KensaCollector : public prometheus::Collectable {
 public:
  explicit KensaCollector(MetricSources sources);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void AddCounters(std::vector<prometheus::MetricFamily>& out) const;
  void AddHistograms(std::vector<prometheus::MetricFamily>& out) const;
  void AddGauges(std::vector<prometheus::MetricFamily>& out, absl::Time now) const;
  void AddSignatures(std::vector<prometheus::MetricFamily>& out, absl::Time now) const;
  void AddProcess(std::vector<prometheus::MetricFamily>& out) const;

  MetricSources sources_;
  // /proc unreadable is logged once, not at every scrape.
  mutable std::atomic<bool> memory_error_logged_{false};
};

}  // namespace kensa::metrics

#endif  // KENSA_METRICS_KENSA_COLLECTOR_H_
