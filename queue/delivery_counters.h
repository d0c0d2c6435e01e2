// SPDX-License-Identifier: GPL-2.0-or-later
// DeliveryCounters: the ids of the counters the queue manager adds to (per recipient
// delivered, deferred or bounced, and per DSN created). Register() names them in a
// CounterSet once at start-up, before it is resized.
#ifndef KENSA_QUEUE_DELIVERY_COUNTERS_H_
#define KENSA_QUEUE_DELIVERY_COUNTERS_H_

#include "core/counters.h"

namespace kensa::queue {

struct DeliveryCounters {
  int deliveries_ok = 0, deliveries_deferred = 0, deliveries_bounced = 0, dsns_created = 0;

  static DeliveryCounters Register(CounterSet& counters);
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_DELIVERY_COUNTERS_H_
