// SPDX-License-Identifier: GPL-2.0-or-later
// What the load generators (kensa-bench, kensa-pop3-bench) share: the --server flag's
// "a.b.c.d:port" and the latency percentiles they print.
#ifndef KENSA_BENCH_LOAD_TOOL_H_
#define KENSA_BENCH_LOAD_TOOL_H_

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"

namespace kensa::bench {

// The q-quantile (0..1) of microsecond samples, in milliseconds; reorders `v`.
inline double PercentileMs(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

// "127.0.0.1:2525" (IPv4 literal and port) -> *out; false when it is not that.
inline bool ParseServer(const std::string& text, sockaddr_in* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 || port > 65535) return false;
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

}  // namespace kensa::bench

#endif  // KENSA_BENCH_LOAD_TOOL_H_
