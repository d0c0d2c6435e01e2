// SPDX-License-Identifier: GPL-2.0-or-later
#include "queue/smtp_hop_pool.h"

#include <algorithm>

#include "queue/outbound_connection.h"

namespace kensa::queue {

SmtpHopPool::SmtpHopPool(const DeliverySettings* settings, const DeliveryEnvironment* env,
                         net::NextHop hop, size_t max_connections)
    : settings_(settings),
      env_(env),
      hop_(std::move(hop)),
      max_connections_(std::max<size_t>(1, max_connections)) {}

SmtpHopPool::~SmtpHopPool() = default;

void SmtpHopPool::Submit(DeliveryJob job) {
  waiting_.push_back(std::move(job));
  Pump();
}

void SmtpHopPool::Pump() {
  while (!waiting_.empty()) {
    if (!idle_.empty()) {
      OutboundConnection* c = idle_.back();
      idle_.pop_back();
      if (c->quitting()) continue;  // closing; a fresh connection takes the job
      DeliveryJob job = std::move(waiting_.front());
      waiting_.pop_front();
      c->Deliver(std::move(job));
      continue;
    }
    if (connections_.size() >= max_connections_) return;  // waits for a connection to free up
    auto c = std::make_unique<OutboundConnection>(settings_, env_, this, hop_);
    OutboundConnection* raw = c.get();
    connections_[raw] = std::move(c);
    DeliveryJob job = std::move(waiting_.front());
    waiting_.pop_front();
    raw->Start(std::move(job));
  }
}

void SmtpHopPool::OnIdle(OutboundConnection* c) {
  idle_.push_back(c);
  Pump();
}

void SmtpHopPool::OnClosed(OutboundConnection* c) {
  idle_.erase(std::remove(idle_.begin(), idle_.end(), c), idle_.end());
  connections_.erase(c);
  Pump();
}

}  // namespace kensa::queue
