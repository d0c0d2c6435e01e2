// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/connection_limiter.h"

namespace kensa {

ConnectionLimiter::ConnectionLimiter(size_t max_total, size_t max_per_client,
                                     std::vector<CidrBlock> exempt)
    : max_total_(max_total), max_per_client_(max_per_client), exempt_(std::move(exempt)) {}

ConnectionLimiter::Admit ConnectionLimiter::TryAdmit(const SocketAddress& client) {
  std::lock_guard<std::mutex> lock(mu_);
  bool exempt = false;
  for (const CidrBlock& b : exempt_) exempt = exempt || b.Contains(client);
  if (total_ >= max_total_) return Admit::kTotalLimit;
  size_t& n = per_client_[client.HostString()];
  if (!exempt && n >= max_per_client_) {
    if (n == 0) per_client_.erase(client.HostString());
    return Admit::kClientLimit;
  }
  ++n;
  ++total_;
  return Admit::kOk;
}

void ConnectionLimiter::Release(const SocketAddress& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_client_.find(client.HostString());
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  if (total_ > 0) --total_;
}

void ConnectionLimiter::SetLimits(size_t max_total, size_t max_per_client,
                                  std::vector<CidrBlock> exempt) {
  std::lock_guard<std::mutex> lock(mu_);
  max_total_ = max_total;
  max_per_client_ = max_per_client;
  exempt_ = std::move(exempt);
}

size_t ConnectionLimiter::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace kensa
