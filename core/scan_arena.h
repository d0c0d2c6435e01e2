// SPDX-License-Identifier: GPL-2.0-or-later
// The jemalloc arena of the threads that run libclamav scans.
//
// libclamav callocs megabytes of matcher state for every layer it scans (cli_ac_initdata: 256
// bytes per logical signature, three times over) and frees it when the layer ends. jemalloc
// zeroes a recycled extent for calloc by purging it (MADV_DONTNEED) when the arena has its
// default extent hooks, so each scan faulted those pages in again: 659k page faults and 2 s of
// system time for 300 mails with a 560k-signature set, kensa-scan slower than clamscan. An
// arena whose hooks are jemalloc's own functions under another table is zeroed by memset
// instead (jemalloc's ehooks_zero), so the pages stay: 70k faults. Purging by decay works as
// everywhere else. jemalloc's thp:always does the same for the whole process but makes every
// arena huge-page backed (+57 MB peak with 64 POP3 clients fetching 5 MB messages).
#ifndef KENSA_CORE_SCAN_ARENA_H_
#define KENSA_CORE_SCAN_ARENA_H_

#include "absl/status/status.h"

namespace kensa {

// Makes the calling thread allocate from the scan arena (created at the first call). A process
// without jemalloc (sanitizer builds) has nothing to do: OK.
absl::Status UseScanArena();

}  // namespace kensa

#endif  // KENSA_CORE_SCAN_ARENA_H_
