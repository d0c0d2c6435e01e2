// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/delivery_counters.h"

namespace kensa::queue {

DeliveryCounters DeliveryCounters::Register(CounterSet& counters) {
  DeliveryCounters ids;
  ids.deliveries_ok = counters.Register("deliveries_total", "recipients delivered");
  ids.deliveries_deferred =
      counters.Register("deliveries_deferred_total", "recipient attempts deferred");
  ids.deliveries_bounced = counters.Register("deliveries_bounced_total", "recipients bounced");
  ids.dsns_created = counters.Register("dsns_total", "delivery status notifications created");
  return ids;
}

}  // namespace kensa::queue
