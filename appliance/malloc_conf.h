// SPDX-License-Identifier: GPL-2.0-or-later
// The jemalloc settings of every kensa program that scans (kensad, kensa-scan). Each program
// defines jemalloc's `malloc_conf` symbol from this one string; MALLOC_CONF in the environment
// still overrides it, and a build without jemalloc (sanitizers) ignores the symbol.
//
// background_thread, dirty_decay_ms:1000, muzzy_decay_ms:0: freed pages go back to the system
//   about a second after a peak. Without background threads decay advances only when a thread
//   allocates, so an idle kensad kept the peak of its last big messages (539 MB against 25 MB
//   idle).
// thp:always: libclamav callocs megabytes of matcher state per scanned layer (cli_ac_initdata,
//   256 bytes per logical signature three times over) and frees it at the end of the layer.
//   jemalloc zeroes a reused extent for calloc by purging it (MADV_DONTNEED), so every scan
//   faulted those pages in again: 659k page faults for 300 mails with a 560k-signature set,
//   2 s of system time, kensa-scan slower than clamscan. With thp:always jemalloc zeroes by
//   memset instead (ehooks_default_zero_impl), and the pages stay: 69k faults. Decay settings
//   (dirty_decay_ms:-1, oversize_threshold:0) did not change the count; see BENCHMARKS.md.
#ifndef KENSA_APPLIANCE_MALLOC_CONF_H_
#define KENSA_APPLIANCE_MALLOC_CONF_H_

namespace kensa {

inline constexpr char kMallocConf[] =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,thp:always";

}  // namespace kensa

#endif  // KENSA_APPLIANCE_MALLOC_CONF_H_
