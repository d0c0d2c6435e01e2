// SPDX-License-Identifier: GPL-2.0-or-later
// The jemalloc settings of every kensa program that scans (kensad, kensa-scan). Each program
// defines jemalloc's `malloc_conf` symbol from this one string; MALLOC_CONF in the environment
// still overrides it, and a build without jemalloc (sanitizers) ignores the symbol.
//
// background_thread, dirty_decay_ms:1000, muzzy_decay_ms:0: freed pages go back to the system
//   about a second after a peak. Without background threads decay advances only when a thread
//   allocates, so an idle kensad kept the peak of its last big messages (539 MB against 25 MB
//   idle).
// Every arena zeroes calloc'd memory by memset, not by purging (core/arena_zeroing.h), so
//   that libclamav's per-scan calloc does not fault pages in again and again.
#ifndef KENSA_APPLIANCE_MALLOC_CONF_H_
#define KENSA_APPLIANCE_MALLOC_CONF_H_

namespace kensa {

inline constexpr char kMallocConf[] =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

}  // namespace kensa

#endif  // KENSA_APPLIANCE_MALLOC_CONF_H_
