// SPDX-License-Identifier: GPL-2.0-or-later
// Queue ids: short, unique across reactors and restarts, usable as file names, sortable by
// creation time. Every log line about a message carries its id.
#ifndef KENSA_SPOOL_QUEUE_ID_H_
#define KENSA_SPOOL_QUEUE_ID_H_

#include <string>
#include <string_view>

namespace kensa::spool {

// Thread-safe. Encodes the time in microseconds, the shard and a per-process counter, in
// [0-9A-Za-z] only (e.g. "4kQ2bX9z0A1c"); unique even when the clock steps back.
std::string NewQueueId(int shard);

// Whether `name` has the shape NewQueueId produces; recovery only touches such names.
bool IsQueueIdShaped(std::string_view name);

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_QUEUE_ID_H_
