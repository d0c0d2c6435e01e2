// SPDX-License-Identifier: GPL-2.0-or-later
// Process-wide connection admission: a total limit and a per-client-address limit (with exempt
// networks). Touched only when a connection opens or closes, never on the data path, so one
// small lock is the simple, exact answer across reactors.
#ifndef KENSA_SERVER_CONNECTION_LIMITER_H_
#define KENSA_SERVER_CONNECTION_LIMITER_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/socket_address.h"

namespace kensa {

class ConnectionLimiter {
 public:
  enum class Admit { kOk, kTotalLimit, kClientLimit };
  ConnectionLimiter(size_t max_total, size_t max_per_client, std::vector<CidrBlock> exempt);
  // On kOk the caller must Release() the same client when the connection ends.
  Admit TryAdmit(const SocketAddress& client);
  void Release(const SocketAddress& client);
  size_t total() const;
  // A configuration reload: the new limits decide the next admissions; connections already
  // open stay (the counts may exceed a lowered limit until they end).
  void SetLimits(size_t max_total, size_t max_per_client, std::vector<CidrBlock> exempt);

 private:
  mutable std::mutex mu_;
  size_t max_total_;
  size_t max_per_client_;
  std::vector<CidrBlock> exempt_;
  size_t total_ = 0;
  absl::flat_hash_map<std::string, size_t> per_client_;
};

}  // namespace kensa

#endif  // KENSA_SERVER_CONNECTION_LIMITER_H_
