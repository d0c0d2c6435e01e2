// SPDX-License-Identifier: GPL-2.0-or-later
#include "metrics/metrics_server.h"

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace kensa::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Collectable> collectable) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collectable_ = std::move(collectable);
  // The Exposer reports a failed bind (address in use, not local) by throwing: the one place
  // kensa meets an exception from a library, turned into a value here.
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address, kServerThreads);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics.address: cannot listen on ", address, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(server->collectable_, "/metrics");
  return server;
}

MetricsServer::~MetricsServer() {
  // The Exposer's destructor stops civetweb and joins its threads before the collectable
  // (declared first) goes.
  exposer_.reset();
}

std::vector<int> MetricsServer::ports() const { return exposer_->GetListeningPorts(); }

}  // namespace kensa::metrics
