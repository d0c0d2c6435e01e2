// SPDX-License-Identifier: GPL-2.0-or-later
// ConnectionEnvironment: everything a client connection uses of the reactor it runs on and of
// the process, as plain pointers, in place of the whole shard and runtime. The wiring
// (appliance/shard.cc) fills one per reactor; a test fills one with its own reactor, spool
// directory and stubs. Every object a pointer points to is either the reactor's own or safe to
// share across reactors. A connection holds its environment by shared_ptr, and so does every
// job it hands to a worker: the reactor's objects outlive them all, and the settings that a
// configuration reload replaces live in `settings_owner`, which the environment keeps alive.
#ifndef KENSA_SERVER_CONNECTION_ENVIRONMENT_H_
#define KENSA_SERVER_CONNECTION_ENVIRONMENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth/auth_backend.h"
#include "auth/auth_failure_limiter.h"
#include "core/counters.h"
#include "core/histograms.h"
#include "core/in_flight_bytes.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "net/tls_context.h"
#include "scan/message_scanner.h"
#include "scan/verdict_cache.h"
#include "server/connection_limiter.h"
#include "server/connection_settings.h"
#include "server/pop3_verdict_cache.h"
#include "server/server_counters.h"
#include "server/server_histograms.h"
#include "server/subscription.h"
#include "sigs/signature_set.h"
#include "spool/dir_syncer.h"
#include "spool/spool_shard.h"

namespace kensa {

struct ConnectionEnvironment {
  // The settings generation that smtp, pop3, server_tls, auth, policy and scan_settings point
  // into (null when they point to objects that outlive the connection, as in tests).
  std::shared_ptr<const void> settings_owner;
  Reactor* reactor = nullptr;
  // The reactor's spool shard and its group-commit syncer (SMTP only).
  spool::SpoolShard* spool = nullptr;
  spool::DirSyncer* syncer = nullptr;
  // Blocking file work (the quarantine copy, reading a cleaned POP3 copy).
  Worker* worker = nullptr;
  // libclamav scans; `verdict_cache` belongs to it (null: no cache).
  Worker* scan_worker = nullptr;
  scan::VerdictCache* verdict_cache = nullptr;
  // Message bytes handed to scan_worker and not yet scanned, all the reactor's sessions.
  InFlightBytes* scan_bytes_in_flight = nullptr;
  // SMTP AUTH backends block: their own thread. `auth` null: no AUTH anywhere.
  Worker* auth_worker = nullptr;
  auth::AuthBackend* auth = nullptr;
  auth::AuthFailureLimiter* auth_limiter = nullptr;  // set whenever `auth` is
  const net::TlsContext* server_tls = nullptr;       // null when no listener uses TLS
  const net::TlsContext* client_tls = nullptr;       // the POP3 backend side
  // Process-wide admission: a connection releases its client once, when it finishes.
  ConnectionLimiter* limiter = nullptr;
  const SubscriberPolicy* policy = nullptr;
  const sigs::SignatureHolder* signatures = nullptr;
  const scan::ScanSettings* scan_settings = nullptr;
  Pop3VerdictCache* pop3_cache = nullptr;  // the reactor's
  CounterSet* counters = nullptr;          // added to in row reactor->index()
  ServerCounters ids;
  HistogramSet* histograms = nullptr;  // observed in row reactor->index(); null: none kept
  ServerHistograms histogram_ids;
  const SmtpConnectionSettings* smtp = nullptr;
  const Pop3ConnectionSettings* pop3 = nullptr;
  // A committed queue file, handed to the queue manager (reactor thread).
  std::function<void(const std::string& path, const std::string& queue_id)> enqueue;
  // The connection with this id is over; its owner destroys it after the current batch
  // (never from inside this call). Called once per connection.
  std::function<void(uint64_t id)> connection_finished;

  void Count(int counter_id, uint64_t n = 1) const {
    counters->Add(reactor->index(), counter_id, n);
  }
  void Observe(int histogram_id, absl::Duration d) const {
    if (histograms != nullptr) histograms->Observe(reactor->index(), histogram_id, d);
  }
};

}  // namespace kensa

#endif  // KENSA_SERVER_CONNECTION_ENVIRONMENT_H_
