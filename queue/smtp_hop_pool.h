// SPDX-License-Identifier: GPL-2.0-or-later
// SMTP/LMTP delivery to one next hop from one reactor: a pool of outbound connections with a
// concurrency limit, connection reuse (an idle connection takes the next job), and per-job
// per-recipient results. Transport failures become temporary results, never lost jobs.
// Lives on its reactor; destroying it closes its connections, and their jobs' `done` never run.
#ifndef KENSA_QUEUE_SMTP_HOP_POOL_H_
#define KENSA_QUEUE_SMTP_HOP_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "core/socket_address.h"
#include "net/next_hop.h"
#include "net/smtp_client_session.h"
#include "queue/delivery_settings.h"
#include "spool/copy_reader.h"

namespace kensa::queue {

class OutboundConnection;

struct DeliveryJob {
  net::OutboundMessage message;
  // Opens a reader of the copy to send (trace header + message, CRLF lines) over the queue
  // file; blocks, so it runs on the worker. A job waiting for a connection holds no message
  // bytes: the connection opens the copy when the next hop asks for the data and reads it in
  // bounded pieces as the socket drains.
  std::function<absl::StatusOr<std::unique_ptr<spool::CopyReader>>()> open_copy;
  absl::AnyInvocable<void(std::vector<net::RecipientResult>)> done;  // one per recipient
};

class SmtpHopPool {
 public:
  // `settings` and `env` must outlive the pool (the DeliveryAgent owns all three).
  SmtpHopPool(const DeliverySettings* settings, const DeliveryEnvironment* env, net::NextHop hop,
              size_t max_connections);
  ~SmtpHopPool();

  void Submit(DeliveryJob job);
  const net::NextHop& hop() const { return hop_; }
  size_t connections() const { return connections_.size(); }
  size_t max_connections() const { return max_connections_; }

  // Called by connections.
  void OnIdle(OutboundConnection* c);
  // Destroys the connection: called from a task it deferred, never from inside its calls.
  void OnClosed(OutboundConnection* c);

 private:
  void Pump();
  const DeliverySettings* settings_;
  const DeliveryEnvironment* env_;
  net::NextHop hop_;
  size_t max_connections_;
  std::deque<DeliveryJob> waiting_;
  absl::flat_hash_map<OutboundConnection*, std::unique_ptr<OutboundConnection>> connections_;
  std::vector<OutboundConnection*> idle_;
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_SMTP_HOP_POOL_H_
