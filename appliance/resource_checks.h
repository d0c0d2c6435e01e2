// SPDX-License-Identifier: GPL-2.0-or-later
// What the configuration parser cannot know: whether the machine can honour a setting. Checked
// at start (and by --check-config where the answer does not depend on the service's limits).
//
// Descriptors: every client connection holds a socket, and one more descriptor while it
// receives a message (the queue file) or, for POP3, talks to its backend. kensad also needs
// descriptors of its own: a fixed share for the process (log, signals, the subscriber store,
// libclamav while it loads a database), a share per reactor (its ring, wake-up eventfd,
// listeners, spool directory, scan temporary files) and two per delivery connection (socket and
// queue file). max_connections is clamped so that the client sockets alone can never reach
// RLIMIT_NOFILE; a shortage beyond that is a temporary failure and a short pause in accepting.
#ifndef KENSA_APPLIANCE_RESOURCE_CHECKS_H_
#define KENSA_APPLIANCE_RESOURCE_CHECKS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "appliance/config.h"

namespace kensa {

struct DescriptorBudget {
  uint64_t limit = 0;            // RLIMIT_NOFILE that kensad runs with
  uint64_t reserved = 0;         // descriptors kensad needs besides its client sockets
  uint64_t max_connections = 0;  // client connections that fit: limit - reserved (0 if none)
};

// `reactors` is the effective count (the config's 0 resolved); `nofile` the soft limit after
// kensad raised it to the hard one.
DescriptorBudget PlanDescriptors(const KensaConfig& config, int reactors, uint64_t nofile);

// Set when [spool] min_free_bytes is not below the size of the filesystem that holds the spool
// (the nearest existing ancestor when the directory does not exist yet): then every message
// would get 452. The text names the key and both numbers.
std::optional<std::string> CheckSpoolMinFree(const KensaConfig& config);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_RESOURCE_CHECKS_H_
