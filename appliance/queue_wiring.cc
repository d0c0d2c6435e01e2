// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/queue_wiring.h"

#include <algorithm>

#include "server/connection_settings.h"

namespace kensa {

queue::DeliverySettings DeliverySettingsFrom(const KensaConfig& c, int reactors) {
  queue::DeliverySettings s;
  s.hostname = c.hostname;
  s.connect_timeout = c.connect_timeout;
  s.reply_timeout = c.reply_timeout;
  s.retry_min = c.retry_min;
  s.retry_max = c.retry_max;
  s.max_queue_lifetime = c.max_queue_lifetime;
  s.max_connections_per_hop =
      std::max<size_t>(1, c.max_connections_per_next_hop / std::max(1, reactors));
  return s;
}

queue::NextHopRoutes RoutesFrom(std::shared_ptr<const LiveSettings> live) {
  queue::NextHopRoutes routes;
  routes.local = live->local_hop;
  routes.relay = live->relay_hop;
  routes.outbound = live->outbound_hop;
  routes.is_local_domain = [live = std::move(live)](std::string_view domain) {
    return IsLocalDomain(live->config.local_domains, domain);
  };
  return routes;
}

queue::DeliveryEnvironment DeliveryEnvironmentFor(Runtime& runtime,
                                                  std::shared_ptr<const LiveSettings> live,
                                                  Reactor* reactor, Worker* worker,
                                                  spool::SpoolShard* spool) {
  queue::DeliveryEnvironment env;
  env.reactor = reactor;
  env.worker = worker;
  env.spool = spool;
  env.routes = RoutesFrom(std::move(live));
  env.client_tls = runtime.client_tls;
  env.counters = &runtime.counters;
  env.counter_row = reactor->index();
  env.counter_ids = runtime.delivery_ids;
  env.histograms = &runtime.histograms;
  env.gauges = &runtime.gauges;
  env.metric_ids = runtime.queue_metric_ids;
  return env;
}

}  // namespace kensa
