// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/queue_wiring.h"

#include <algorithm>

namespace kensa {

queue::DeliverySettings DeliverySettingsFor(const Runtime& runtime) {
  const KensaConfig& c = runtime.config;
  queue::DeliverySettings s;
  s.hostname = c.hostname;
  s.connect_timeout = c.connect_timeout;
  s.reply_timeout = c.reply_timeout;
  s.retry_min = c.retry_min;
  s.retry_max = c.retry_max;
  s.max_queue_lifetime = c.max_queue_lifetime;
  s.max_connections_per_hop =
      std::max<size_t>(1, c.max_connections_per_next_hop / std::max(1, runtime.reactors));
  return s;
}

queue::DeliveryEnvironment DeliveryEnvironmentFor(Runtime& runtime, Reactor* reactor,
                                                  Worker* worker, spool::SpoolShard* spool) {
  queue::DeliveryEnvironment env;
  env.reactor = reactor;
  env.worker = worker;
  env.spool = spool;
  env.routes.local = runtime.local_hop;
  env.routes.relay = runtime.relay_hop;
  env.routes.outbound = runtime.outbound_hop;
  const Runtime* rt = &runtime;
  env.routes.is_local_domain = [rt](std::string_view domain) { return rt->IsLocalDomain(domain); };
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
