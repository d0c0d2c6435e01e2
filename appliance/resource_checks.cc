// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/resource_checks.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"

namespace kensa {
namespace {

// The process's own files: std streams, log, signalfd, the subscriber store (LMDB), TLS
// files, /proc reads, libclamav's database files while a reload builds a new set.
constexpr uint64_t kProcessDescriptors = 64;
// Per reactor, besides its listeners: the io_uring ring, the wake-up eventfd, the spool
// directory and the directories it recovers, a scan's spill file and libclamav's temporary
// files (an archive nested a few levels deep keeps one open per level).
constexpr uint64_t kReactorDescriptors = 16;
// A delivery connection holds its socket and the queue file it sends.
constexpr uint64_t kDeliveryDescriptors = 2;

}  // namespace

DescriptorBudget PlanDescriptors(const KensaConfig& c, int reactors, uint64_t nofile) {
  const uint64_t n = static_cast<uint64_t>(std::max(1, reactors));
  // Every reactor opens each listener (SO_REUSEPORT).
  uint64_t reserved = kProcessDescriptors + n * (kReactorDescriptors + c.listeners.size());
  // Each distinct next hop gets max_connections_per_next_hop, split over the reactors with at
  // least one each (DeliverySettingsFrom, appliance/queue_wiring.cc).
  std::set<std::string> hops = {c.next_hop};
  hops.insert(c.relay_next_hop.empty() ? c.next_hop : c.relay_next_hop);
  hops.insert(c.outbound_next_hop.empty()
                  ? (c.relay_next_hop.empty() ? c.next_hop : c.relay_next_hop)
                  : c.outbound_next_hop);
  const uint64_t per_hop = std::max<uint64_t>(c.max_connections_per_next_hop, n);
  reserved += hops.size() * per_hop * kDeliveryDescriptors;
  DescriptorBudget b;
  b.limit = nofile;
  b.reserved = reserved;
  b.max_connections = nofile > reserved ? nofile - reserved : 0;
  return b;
}

std::optional<std::string> CheckSpoolMinFree(const KensaConfig& c) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(c.spool_dir, ec);
  if (ec) return std::nullopt;
  // --check-config runs before kensad made the directory: its filesystem is its ancestor's.
  while (!std::filesystem::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
  }
  struct statvfs vfs {};
  if (statvfs(p.c_str(), &vfs) != 0) return std::nullopt;
  const uint64_t size = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  if (c.spool_min_free_bytes < size) return std::nullopt;
  return absl::StrCat("spool.min_free_bytes = ", c.spool_min_free_bytes,
                      " is not below the size of the spool filesystem (", size, " bytes at ",
                      p.string(), "): every message would be refused with 452");
}

}  // namespace kensa
