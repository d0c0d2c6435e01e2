// SPDX-License-Identifier: GPL-2.0-or-later
// What the metrics endpoint reports of the process itself, read from /proc at scrape time.
#ifndef KENSA_METRICS_PROCESS_STATS_H_
#define KENSA_METRICS_PROCESS_STATS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kensa::metrics {

// Resident set size in bytes: the second field of /proc/self/statm, in pages.
absl::StatusOr<uint64_t> ReadResidentMemoryBytes(const std::string& statm = "/proc/self/statm");

}  // namespace kensa::metrics

#endif  // KENSA_METRICS_PROCESS_STATS_H_
