// SPDX-License-Identifier: GPL-2.0-or-later
// The queue manager's view of kensad (queue/delivery_settings.h): its [delivery] settings
// from the configuration, and one shard's reactor, worker, spool shard, next hops and counters.
#ifndef KENSA_APPLIANCE_QUEUE_WIRING_H_
#define KENSA_APPLIANCE_QUEUE_WIRING_H_

#include "appliance/runtime.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "queue/delivery_settings.h"
#include "spool/spool_shard.h"

namespace kensa {

// max_connections_per_next_hop is shared among the reactors (at least one each).
queue::DeliverySettings DeliverySettingsFor(const Runtime& runtime);

// `runtime`, `reactor`, `worker` and `spool` must outlive the agent built on the result.
queue::DeliveryEnvironment DeliveryEnvironmentFor(Runtime& runtime, Reactor* reactor,
                                                  Worker* worker, spool::SpoolShard* spool);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_QUEUE_WIRING_H_
