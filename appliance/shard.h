// SPDX-License-Identifier: GPL-2.0-or-later
// Shard: everything one reactor owns — its listeners, client connections, spool shard (with
// its group-commit syncer), blocking-work thread and delivery agent. Only the reactor's own
// thread touches a Shard; other threads reach it by Reactor::Post.
#ifndef KENSA_APPLIANCE_SHARD_H_
#define KENSA_APPLIANCE_SHARD_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "appliance/live_settings.h"
#include "appliance/runtime.h"
#include "core/in_flight_bytes.h"
#include "core/reactor.h"
#include "core/worker.h"
#include "scan/verdict_cache.h"
#include "server/connection_environment.h"
#include "server/pop3_verdict_cache.h"
#include "server/proxy_header_reader.h"
#include "spool/dir_syncer.h"
#include "spool/spool_shard.h"

namespace kensa {
namespace queue {
class DeliveryAgent;
}  // namespace queue

class ClientConnection;

class Shard {
 public:
  // `live`: the settings generation current when the reactor starts.
  Shard(Reactor* reactor, Runtime* runtime, spool::SpoolShard spool,
        std::shared_ptr<const LiveSettings> live);
  ~Shard();

  // Opens this reactor's listeners and starts accepting; recovers the spool shards it owns.
  absl::Status Start();
  // SIGTERM: stop accepting; sessions get until `deadline` to finish, then 421. `done` runs
  // (on this reactor) when no session is left.
  void BeginDrain(absl::Time deadline, absl::AnyInvocable<void()> done);
  // The operator's drain for maintenance (kensa-shell "service drain"): a balancer's health
  // checks fail at once (FailHealthChecks), and after `grace` the listeners close, so new
  // sessions go to other nodes; each session here ends once it has sent its mail. Returns
  // the sessions open now. StartListening undoes it (an error when kensad is stopping or a
  // port cannot be bound).
  size_t StopListening(absl::Duration grace);
  absl::Status StartListening();
  // The first step of a drain behind a balancer: its health checks (PROXY LOCAL connections)
  // get 421 while real sessions are still taken. StartListening ends it.
  void FailHealthChecks() { failing_health_checks_ = true; }
  // A configuration reload: sessions accepted from now on, and the next deliveries, follow
  // `live`; sessions already open keep the generation they started with.
  void ApplyLiveSettings(std::shared_ptr<const LiveSettings> live);
  uint64_t settings_generation() const { return live_->generation; }

  Reactor* reactor() { return reactor_; }
  Runtime& runtime() { return *runtime_; }
  const KensaConfig& config() const { return runtime_->config; }
  int index() const { return reactor_->index(); }
  spool::SpoolShard& spool() { return spool_; }
  spool::DirSyncer& syncer() { return syncer_; }
  Worker& worker() { return worker_; }
  // libclamav scans run here, so a long scan never delays the file work on worker().
  Worker& scan_worker() { return scan_worker_; }
  // SMTP AUTH backends block (password hashing, the Dovecot socket): their own thread, so a
  // slow backend delays neither file work nor scans.
  Worker& auth_worker() { return auth_worker_; }
  // Only scan_worker()'s thread touches it.
  scan::VerdictCache* verdict_cache() { return cache_.get(); }
  // Message bytes handed to the scan worker and not yet scanned, all sessions together. A
  // connection paused because it is above [scan] max_bytes_in_flight waits on it (keyed by
  // its connection id) and is woken when the scans of any session drain.
  InFlightBytes* scan_bytes_in_flight() { return &scan_bytes_in_flight_; }
  queue::DeliveryAgent& delivery() { return *delivery_; }
  Pop3VerdictCache& pop3_cache() { return pop3_cache_; }
  void Count(int counter_id, uint64_t n = 1) { runtime_->counters.Add(index(), counter_id, n); }

  // Called by a connection when it is over; the object is destroyed after the current batch.
  void ConnectionFinished(uint64_t id);

  // The admin shell's view of this reactor's connections (called on this reactor).
  struct ConnectionView {
    uint64_t id = 0;
    std::string peer, listener, state;
    absl::Duration age;
  };
  std::vector<ConnectionView> DescribeConnections() const;
  size_t connection_count() const { return connections_.size(); }

 private:
  void OnAccept(size_t listener_index, int fd);
  // Behind a load balancer: the PROXY header first, then StartConnection with its client.
  void ReadProxyHeader(size_t listener_index, int fd, const SocketAddress& balancer);
  // Admits `peer` (the connection limits) and starts its session on `stream`.
  void StartConnection(size_t listener_index, std::shared_ptr<SocketStream> stream,
                       const SocketAddress& peer);
  // An accept that failed (EMFILE at the descriptor limit) is paused by the reactor; these
  // resume it after a short delay or as soon as a connection of this shard frees a descriptor.
  void OnAcceptFailed(int error);
  void ResumeAccepting();
  // The open-connections gauge of this reactor's row (metrics), after each change.
  void PublishConnections();
  void CheckDrained();
  // The environment of the connections accepted under `live_`.
  std::shared_ptr<const ConnectionEnvironment> MakeConnectionEnvironment();

  Reactor* reactor_;
  Runtime* runtime_;
  spool::SpoolShard spool_;
  spool::DirSyncer syncer_;
  Worker worker_;
  std::unique_ptr<scan::VerdictCache> cache_;  // declared before the scan worker: outlives it
  InFlightBytes scan_bytes_in_flight_;
  Worker scan_worker_;
  Worker auth_worker_;
  std::unique_ptr<queue::DeliveryAgent> delivery_;
  Pop3VerdictCache pop3_cache_;
  std::shared_ptr<const LiveSettings> live_;
  // What new connections see of this shard, the runtime and live_ (declared after what it
  // points to); each connection holds the one it was accepted with.
  std::shared_ptr<const ConnectionEnvironment> connection_env_;
  struct Listener {
    ListenerConfig config;
    int fd = -1;
    uint64_t accept_id = 0;
    std::vector<CidrBlock> trusted_proxies;  // config.trusted_proxies, parsed
  };
  std::vector<Listener> listeners_;
  uint64_t next_connection_id_ = 1;
  Reactor::TimerId accept_retry_timer_ = 0;  // set while the listeners' accepts are paused
  uint64_t accept_failures_unlogged_ = 0;     // since the last accept_failed line
  absl::Time accept_failure_logged_ = absl::InfinitePast();
  absl::flat_hash_map<uint64_t, std::unique_ptr<ClientConnection>> connections_;
  struct ConnectionOrigin {
    std::string peer, listener;
    absl::Time started;
  };
  absl::flat_hash_map<uint64_t, ConnectionOrigin> origins_;  // same keys as connections_
  // Connections from a balancer whose PROXY header is still being read.
  absl::flat_hash_map<uint64_t, std::unique_ptr<ProxyHeaderReader>> proxy_readers_;
  uint64_t next_proxy_reader_id_ = 1;
  bool draining_ = false;
  bool listening_ = true;  // false between StopListening and StartListening
  bool failing_health_checks_ = false;
  Reactor::TimerId stop_listening_timer_ = 0;  // StopListening's grace
  absl::AnyInvocable<void()> drained_;
  uint64_t drain_timer_ = 0;
};

}  // namespace kensa

#endif  // KENSA_APPLIANCE_SHARD_H_
