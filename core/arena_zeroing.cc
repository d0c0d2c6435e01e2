// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/arena_zeroing.h"

#include <jemalloc/jemalloc.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

// Weak: the library links into programs with jemalloc (kensad, kensa-scan) and without it
// (the sanitizer tree), where the symbol stays null.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace kensa {
namespace {

// jemalloc keeps the table's address for the arenas' lifetime: static storage.
extent_hooks_t memset_zeroing_hooks;

absl::Status Ctl(const std::string& name, void* oldp, size_t* oldlen, void* newp,
                 size_t newlen) {
  if (int e = mallctl(name.c_str(), oldp, oldlen, newp, newlen); e != 0) {
    return absl::InternalError(absl::StrCat("jemalloc ", name, ": error ", e));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ZeroByMemsetInEveryArena() {
  if (mallctl == nullptr) return absl::OkStatus();
  extent_hooks_t* defaults = nullptr;
  size_t len = sizeof(defaults);
  if (absl::Status s = Ctl("arena.0.extent_hooks", &defaults, &len, nullptr, 0); !s.ok()) {
    return s;
  }
  // The automatic arenas that threads are spread over (arenas.narenas also counts the one
  // for allocations over oversize_threshold, 8 MiB, whose hooks cannot be replaced; a calloc
  // that big is rare enough to purge).
  unsigned narenas = 0;
  len = sizeof(narenas);
  if (absl::Status s = Ctl("opt.narenas", &narenas, &len, nullptr, 0); !s.ok()) return s;
  if (narenas < 2) return absl::OkStatus();  // arena 0 alone: it keeps jemalloc's hooks
  extent_hooks_t* first = nullptr;
  len = sizeof(first);
  if (absl::Status s = Ctl("arena.1.extent_hooks", &first, &len, nullptr, 0); !s.ok()) return s;
  if (first == &memset_zeroing_hooks) return absl::OkStatus();  // called before
  memset_zeroing_hooks = *defaults;  // the same functions; only the table differs
  // Writing an arena's hooks also creates an automatic arena that no thread has used yet.
  // Not arena 0: jemalloc does not support hooks other than its own there (allocations made
  // while a hook runs go to arena 0, and with arena 0's lock held that is a self-deadlock;
  // kensad hung that way freeing a retired signature set). Threads that scan move off it.
  extent_hooks_t* hooks = &memset_zeroing_hooks;
  for (unsigned i = 1; i < narenas; ++i) {
    if (absl::Status s = Ctl(absl::StrCat("arena.", i, ".extent_hooks"), nullptr, nullptr,
                             &hooks, sizeof(hooks));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status MoveThisThreadOffArenaZero() {
  if (mallctl == nullptr) return absl::OkStatus();
  unsigned current = 0, narenas = 0;
  size_t len = sizeof(current);
  if (absl::Status s = Ctl("thread.arena", &current, &len, nullptr, 0); !s.ok()) return s;
  len = sizeof(narenas);
  if (absl::Status s = Ctl("opt.narenas", &narenas, &len, nullptr, 0); !s.ok()) return s;
  if (current != 0 || narenas < 2) return absl::OkStatus();
  static std::atomic<unsigned> next{0};
  unsigned target = 1 + next.fetch_add(1) % (narenas - 1);
  return Ctl("thread.arena", nullptr, nullptr, &target, sizeof(target));
}

}  // namespace kensa
