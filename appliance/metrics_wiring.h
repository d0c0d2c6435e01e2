// SPDX-License-Identifier: GPL-2.0-or-later
// The metrics endpoint of kensad: what metrics/ reads of the runtime (its counters, histograms
// and gauges, the signature set in use, the start time), served on [metrics] address.
#ifndef KENSA_APPLIANCE_METRICS_WIRING_H_
#define KENSA_APPLIANCE_METRICS_WIRING_H_

#include <memory>

#include "absl/status/statusor.h"
#include "appliance/runtime.h"
#include "metrics/metrics_server.h"

namespace kensa {

// Null when [metrics] address is off. `rt` must outlive the server.
absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> StartMetrics(const Runtime& rt);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_METRICS_WIRING_H_
