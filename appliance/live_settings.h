// SPDX-License-Identifier: GPL-2.0-or-later
// LiveSettings: what a configuration reload can change in a running kensad, built whole from
// a validated configuration before anything switches to it (an error leaves the running
// generation as it is). Immutable once built; Runtime::live holds the current generation, each
// reactor gets it by message, and a connection keeps the generation it started with until it
// ends, so a reload never changes the rules in the middle of a session.
#ifndef KENSA_APPLIANCE_LIVE_SETTINGS_H_
#define KENSA_APPLIANCE_LIVE_SETTINGS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/config.h"
#include "auth/auth_backend.h"
#include "core/published.h"
#include "net/next_hop.h"
#include "net/tls_context.h"
#include "queue/delivery_settings.h"
#include "scan/message_scanner.h"
#include "server/connection_settings.h"
#include "server/subscription.h"
#include "subscribers/subscriber_store.h"

namespace kensa {

struct LiveSettings {
  uint64_t generation = 0;  // 1 at start, +1 per reload that applied
  KensaConfig config;       // as the file said (show config; the next reload compares with it)
  SmtpConnectionSettings smtp;
  Pop3ConnectionSettings pop3;
  std::shared_ptr<const net::TlsContext> server_tls;  // null when no listener uses TLS
  std::shared_ptr<auth::AuthBackend> auth;            // null: no AUTH anywhere
  std::shared_ptr<const SubscriberPolicy> policy;
  scan::ScanSettings scan;
  queue::DeliverySettings delivery;  // per reactor (max_connections_per_hop divided)
  net::NextHop local_hop, relay_hop, outbound_hop;
};

// What building a generation needs beyond the configuration.
struct LiveSettingsInputs {
  int reactors = 1;
  std::shared_ptr<subscribers::SubscriberStore> subscribers;  // the one open store
  // The running generation: an unchanged [auth] keeps its backend (and its connections).
  const LiveSettings* previous = nullptr;
};

// Reads the certificate files, makes the next hops' Maildir directories and the quarantine
// directory, opens the auth backend: every error names the key it comes from.
absl::StatusOr<std::shared_ptr<const LiveSettings>> BuildLiveSettings(
    const KensaConfig& config, const LiveSettingsInputs& inputs);

using LiveSettingsHolder = Published<LiveSettings>;

}  // namespace kensa

#endif  // KENSA_APPLIANCE_LIVE_SETTINGS_H_
