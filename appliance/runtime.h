// SPDX-License-Identifier: GPL-2.0-or-later
// Runtime: what every reactor of kensad shares read-only (configuration, TLS contexts, next
// hops) plus the few process-wide objects that are safe to share (admission limiter, counters).
#ifndef KENSA_APPLIANCE_RUNTIME_H_
#define KENSA_APPLIANCE_RUNTIME_H_

#include <memory>
#include <string>

#include "appliance/config.h"
#include "appliance/connection_limiter.h"
#include "core/counters.h"
#include "net/next_hop.h"
#include "net/tls_context.h"

namespace kensa {

struct CounterIds {
  int connections = 0, connections_refused = 0, messages_queued = 0, messages_rejected = 0,
      bytes_received = 0, deliveries_ok = 0, deliveries_deferred = 0, deliveries_bounced = 0,
      dsns_created = 0;
};

struct Runtime {
  KensaConfig config;
  std::shared_ptr<net::TlsContext> server_tls;  // null when no listener uses TLS
  std::shared_ptr<net::TlsContext> client_tls;
  net::NextHop local_hop;
  net::NextHop relay_hop;
  std::unique_ptr<ConnectionLimiter> limiter;
  CounterSet counters;
  CounterIds ids;
  int reactors = 1;

  bool IsLocalDomain(std::string_view domain) const;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_RUNTIME_H_
