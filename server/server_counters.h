// SPDX-License-Identifier: GPL-2.0-or-later
// ServerCounters: the ids of the counters the client connections add to. server/ registers
// them itself, so their names and help texts live beside the code that counts.
#ifndef KENSA_SERVER_SERVER_COUNTERS_H_
#define KENSA_SERVER_SERVER_COUNTERS_H_

#include "core/counters.h"

namespace kensa {

struct ServerCounters {
  int messages_queued = 0, messages_rejected = 0, bytes_received = 0, messages_clean = 0,
      messages_infected = 0, messages_unscannable = 0, messages_unscanned = 0,
      messages_virus_rejected = 0, parts_scanned = 0, engine_scans = 0, fast_path = 0,
      verdict_cache_hits = 0, second_opinion_only = 0, second_reading_predicted = 0, scanned_on_reactor = 0, auth_ok = 0,
      auth_failed = 0, auth_tempfail = 0, pop3_logins = 0, pop3_scanned = 0, pop3_read_ahead = 0,
      pop3_read_ahead_dropped = 0;

  // Start-up, before counters.Resize().
  static ServerCounters Register(CounterSet& counters);
};

}  // namespace kensa

#endif  // KENSA_SERVER_SERVER_COUNTERS_H_
