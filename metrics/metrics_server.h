// SPDX-License-Identifier: GPL-2.0-or-later
// MetricsServer: the Prometheus endpoint, GET /metrics on [metrics] address, served by
// prometheus-cpp's Exposer (civetweb) on its own threads: a scrape never runs on a reactor,
// and a slow scraper holds only those threads. Destroying it stops them; what the collectable
// reads must outlive it.
#ifndef KENSA_METRICS_METRICS_SERVER_H_
#define KENSA_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace kensa::metrics {

class MetricsServer {
 public:
  // Threads serving scrapes: Prometheus scrapes one at a time; a second one lets a person's
  // curl through while it does.
  static constexpr size_t kServerThreads = 2;

  // `address`: "127.0.0.1:9464" or "[::1]:9464" (port 0: any free one). An address that
  // cannot be bound is an error naming it. Call it with the signals kensad handles blocked:
  // the server's threads inherit the mask.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Collectable> collectable);
  ~MetricsServer();

  // The ports it listens on (the real one when `address` said 0).
  std::vector<int> ports() const;

 private:
  MetricsServer() = default;

  std::shared_ptr<prometheus::Collectable> collectable_;  // the Exposer keeps a weak_ptr
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace kensa::metrics

#endif  // KENSA_METRICS_METRICS_SERVER_H_
