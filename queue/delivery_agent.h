// SPDX-License-Identifier: GPL-2.0-or-later
// DeliveryAgent: the queue manager of one reactor. Each queued message is attempted now and
// then with exponential backoff (retry_min doubling up to retry_max) until every recipient is
// delivered or has failed; failures past max_queue_lifetime or 5xx answers get a DSN to the
// sender (never to the null sender, never for a DSN). Per-recipient progress is appended to
// the queue file after END; the file is removed once every recipient is done. A crash between
// a delivery and its mark costs a duplicate, never a loss.
// Everything it reads of the outside comes in DeliverySettings and DeliveryEnvironment
// (queue/delivery_settings.h); it lives and is destroyed on the environment's reactor, and
// work it left on the worker comes back to nothing once it is gone.
#ifndef KENSA_QUEUE_DELIVERY_AGENT_H_
#define KENSA_QUEUE_DELIVERY_AGENT_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/lifetime.h"
#include "net/next_hop.h"
#include "queue/delivery_settings.h"
#include "queue/smtp_hop_pool.h"
#include "spool/queue_file.h"

namespace kensa::queue {

class DeliveryAgent {
 public:
  DeliveryAgent(DeliverySettings settings, DeliveryEnvironment env);
  ~DeliveryAgent();

  // A message just committed to the spool: attempt it now.
  void Enqueue(std::string path, std::string queue_id);
  // A message found at start-up: attempt it when its backoff says so.
  void EnqueueRecovered(std::string path, const spool::QueueFileInfo& info);
  // Stop starting attempts (shutdown); queue files stay for the next start.
  void Stop() { stopped_ = true; }
  size_t queue_length() const { return messages_.size(); }

  // The admin shell's view of this queue and its hands on it (kensad posts them here).
  struct QueuedMessage {
    std::string id, path;
    int attempts = 0;
    bool in_progress = false;
    bool held = false;
    absl::Time next_attempt = absl::InfinitePast();  // InfinitePast: none scheduled
    std::string last_result;  // of the last deferred recipient, "" before any attempt
  };
  std::vector<QueuedMessage> List() const;
  // Attempts now every message that is neither held nor being attempted; returns how many.
  size_t Flush();
  // A held message is not attempted until released; the hold is a status record of its queue
  // file (written on the worker before `done` runs), so it survives a restart. Releasing
  // attempts it now. NotFound when the id is not queued here.
  void SetHeld(const std::string& id, bool held, absl::AnyInvocable<void(absl::Status)> done);
  // Removes a message without delivery or DSN (the operator's decision). FailedPrecondition
  // while an attempt is running; NotFound when the id is not queued here.
  void Delete(const std::string& id, absl::AnyInvocable<void(absl::Status)> done);

  // A configuration reload (on this agent's reactor): timeouts, backoff and lifetime apply from
  // the next attempt, routes to the next message routed (a pool of connections to a hop no
  // longer routed to takes no more jobs). max_connections_per_hop stays as started.
  void Reconfigure(const DeliverySettings& settings, NextHopRoutes routes);

  // Backoff before attempt number `attempts + 1`.
  static absl::Duration RetryDelay(int attempts, absl::Duration min, absl::Duration max);

 private:
  struct Message;
  struct Outcome {
    size_t index;
    net::RecipientResult result;
    std::string relay;
  };
  void Schedule(const std::string& id, absl::Time when);
  void Attempt(const std::string& id);
  void OnLoaded(const std::string& id, absl::StatusOr<spool::QueueFileInfo> info);
  void OnGroupDone(const std::string& id, std::vector<Outcome> outcomes);
  void FinishAttempt(const std::string& id);
  // Every change to messages_ goes through these, which keep the queue's gauges current.
  void AddMessage(std::unique_ptr<Message> m, absl::Time arrival);
  void SetArrival(Message& m, absl::Time arrival);
  void RemoveMessage(const std::string& id);
  void PublishQueueGauges();
  const net::NextHop& HopFor(const spool::QueueEnvelope& envelope, std::string_view address) const;
  SmtpHopPool& PoolFor(const net::NextHop& hop);

  // Replaced in place by Reconfigure: the pools hold pointers to both.
  DeliverySettings settings_;
  DeliveryEnvironment env_;
  bool stopped_ = false;
  absl::flat_hash_map<std::string, std::unique_ptr<Message>> messages_;
  // The arrival times of messages_, so the oldest is known without a walk over the queue.
  std::multiset<absl::Time> arrivals_;
  absl::flat_hash_map<std::string, std::unique_ptr<SmtpHopPool>> pools_;
  Lifetime lifetime_;  // what worker jobs test before touching this (core/lifetime.h)
};

}  // namespace kensa::queue

#endif  // KENSA_QUEUE_DELIVERY_AGENT_H_
