// SPDX-License-Identifier: GPL-2.0-or-later
// Queue files are read back after crashes and by hand-edited recoveries: the parser must
// reject any byte string with a status, never crash or allocate beyond the input's size.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spool/queue_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kensa::spool::QueueFileInfo> info = kensa::spool::ParseQueueFile(bytes);
  if (info.ok()) {
    // What the delivery agent relies on: chunks lie inside the file and add up.
    uint64_t total = 0;
    for (const auto& [offset, len] : info->content_chunks) {
      if (offset > size || len > size - offset) __builtin_trap();
      total += len;
    }
    if (total != info->content_bytes) __builtin_trap();
    if (info->recipient_done.size() != info->envelope.recipients.size()) __builtin_trap();
  }
  return 0;
}
