// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/scan_arena.h"

#include <jemalloc/jemalloc.h>


#include "absl/strings/str_cat.h"

// Weak: the library links into programs with jemalloc (kensad, kensa-scan) and without it
// (the sanitizer tree), where the symbol stays null.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace kensa {
namespace {

struct ScanArena {
  absl::Status status;
  unsigned index = 0;
};

// jemalloc keeps the table's address for the arena's lifetime: static storage.
extent_hooks_t scan_arena_hooks;

ScanArena CreateScanArena() {
  ScanArena a;
  extent_hooks_t* defaults = nullptr;
  size_t len = sizeof(defaults);
  if (int e = mallctl("arena.0.extent_hooks", &defaults, &len, nullptr, 0); e != 0) {
    a.status = absl::InternalError(absl::StrCat("jemalloc arena.0.extent_hooks: error ", e));
    return a;
  }
  scan_arena_hooks = *defaults;  // the same functions; only the table differs
  extent_hooks_t* hooks = &scan_arena_hooks;
  len = sizeof(a.index);
  if (int e = mallctl("arenas.create", &a.index, &len, &hooks, sizeof(hooks)); e != 0) {
    a.status = absl::InternalError(absl::StrCat("jemalloc arenas.create: error ", e));
  }
  return a;
}

}  // namespace

absl::Status UseScanArena() {
  if (mallctl == nullptr) return absl::OkStatus();
  static const ScanArena arena = CreateScanArena();
  if (!arena.status.ok()) return arena.status;
  unsigned index = arena.index;
  if (int e = mallctl("thread.arena", nullptr, nullptr, &index, sizeof(index)); e != 0) {
    return absl::InternalError(absl::StrCat("jemalloc thread.arena: error ", e));
  }
  return absl::OkStatus();
}

}  // namespace kensa
