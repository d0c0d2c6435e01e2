// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/server_counters.h"

namespace kensa {

ServerCounters ServerCounters::Register(CounterSet& c) {
  ServerCounters ids;
  ids.messages_queued = c.Register("messages_queued_total", "messages spooled (250)");
  ids.messages_rejected =
      c.Register("messages_failed_total", "messages whose spooling failed (4xx)");
  ids.bytes_received = c.Register("smtp_bytes_received_total", "bytes from clients");
  ids.messages_clean = c.Register("messages_clean_total", "scanned messages found clean");
  ids.messages_infected =
      c.Register("messages_infected_total", "scanned messages with an infected part");
  ids.messages_unscannable = c.Register("messages_unscannable_total",
                                        "scanned messages with a part that could not be scanned");
  ids.messages_unscanned =
      c.Register("messages_unscanned_total", "messages no subscription asked to scan");
  ids.messages_virus_rejected =
      c.Register("messages_virus_rejected_total", "infected messages refused with 554");
  ids.parts_scanned = c.Register("scan_parts_total", "MIME leaf parts scanned");
  ids.engine_scans = c.Register("scan_engine_scans_total", "objects libclamav scanned");
  ids.fast_path = c.Register("scan_prefilter_fast_path_total",
                             "parts the prefilter proved clean without libclamav");
  ids.verdict_cache_hits =
      c.Register("scan_verdict_cache_hits_total", "parts answered by the verdict cache");
  ids.second_opinion_only =
      c.Register("scan_second_opinion_only_total",
                 "messages only the whole-message reading found infected (no part's reading did)");
  ids.second_reading_predicted =
      c.Register("scan_second_reading_predicted_total",
                 "messages whose whole-message reading was predicted from the parts' (plain "
                 "messages) instead of run by libclamav");
  ids.scanned_on_reactor =
      c.Register("scan_on_reactor_total",
                 "messages (SMTP and POP3) scanned whole on their reactor, small and needing no "
                 "libclamav call, without the scan worker's thread hops");
  ids.auth_ok = c.Register("smtp_auth_total", "successful SMTP AUTH exchanges");
  ids.auth_failed = c.Register("smtp_auth_failed_total", "SMTP AUTH attempts with bad credentials");
  ids.pop3_logins = c.Register("pop3_logins_total", "POP3 logins through the proxy");
  ids.pop3_scanned =
      c.Register("pop3_messages_scanned_total", "RETR/TOP responses scanned at retrieval");
  ids.pop3_read_ahead = c.Register(
      "pop3_read_ahead_total",
      "POP3 messages read ahead (fetched and scanned before the client's RETR) that a RETR took");
  ids.pop3_read_ahead_dropped = c.Register(
      "pop3_read_ahead_dropped_total",
      "POP3 messages read ahead that no RETR took (another command came, or a local failure): "
      "fetched from the backend for nothing");
  ids.auth_tempfail = c.Register("smtp_auth_tempfail_total",
                                 "SMTP AUTH attempts refused for now (backend down, blocked)");
  return ids;
}

}  // namespace kensa
