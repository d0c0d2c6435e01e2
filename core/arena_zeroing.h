// SPDX-License-Identifier: GPL-2.0-or-later
// How jemalloc zeroes memory for calloc: by memset, in every arena.
//
// libclamav callocs megabytes of matcher state for every layer it scans (cli_ac_initdata: 256
// bytes per logical signature, three times over) and frees it when the layer ends. An arena
// with jemalloc's default extent hooks zeroes a recycled extent for calloc by purging it
// (MADV_DONTNEED), so each scan faulted those pages in again: 659k page faults and 2 s of
// system time for 300 mails with a 560k-signature set, kensa-scan slower than clamscan. An
// arena whose hooks are jemalloc's own functions under another table is zeroed by memset
// instead (jemalloc's ehooks_zero), so the pages stay: 70-100k faults. Purging by decay works
// as before. Every automatic arena but arena 0 gets the table, and threads leave arena 0, so no
// thread keeps a pool apart from the others: one
// arena of its own for the scan threads cost ~70 MB more peak with 64 POP3 clients, and
// jemalloc's thp:always (the same zeroing for the whole process) made every arena huge-page
// backed (+57 MB).
#ifndef KENSA_CORE_ARENA_ZEROING_H_
#define KENSA_CORE_ARENA_ZEROING_H_

#include "absl/status/status.h"

namespace kensa {

// Call once, early (before the threads that scan start). A process without jemalloc
// (sanitizer builds) has nothing to do: OK.
absl::Status ZeroByMemsetInEveryArena();

// Arena 0 keeps jemalloc's own hooks (see arena_zeroing.cc): a thread that would scan there
// moves to another automatic arena. Every worker and reactor thread calls it as it starts.
absl::Status MoveThisThreadOffArenaZero();

}  // namespace kensa

#endif  // KENSA_CORE_ARENA_ZEROING_H_
