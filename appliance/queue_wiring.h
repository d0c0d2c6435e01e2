// SPDX-License-Identifier: GPL-2.0-or-later
// What a reactor's DeliveryAgent is built from: the configuration's [delivery] settings, the
// next hops of the live settings, and the reactor's own thread, worker and spool shard.
#ifndef KENSA_APPLIANCE_QUEUE_WIRING_H_
#define KENSA_APPLIANCE_QUEUE_WIRING_H_

#include <memory>

#include "appliance/config.h"
#include "appliance/live_settings.h"
#include "appliance/runtime.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "queue/delivery_settings.h"
#include "spool/spool_shard.h"

namespace kensa {

// max_connections_per_next_hop is the whole process's: each reactor gets its share.
queue::DeliverySettings DeliverySettingsFrom(const KensaConfig& config, int reactors);

// The next hops, and which domains are local, of one generation of the live settings (the
// routes keep it alive: their domain check reads its configuration).
queue::NextHopRoutes RoutesFrom(std::shared_ptr<const LiveSettings> live);

queue::DeliveryEnvironment DeliveryEnvironmentFor(Runtime& runtime,
                                                  std::shared_ptr<const LiveSettings> live,
                                                  Reactor* reactor, Worker* worker,
                                                  spool::SpoolShard* spool);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_QUEUE_WIRING_H_
