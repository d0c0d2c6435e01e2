// SPDX-License-Identifier: GPL-2.0-or-later
// Check(ok): a harness's invariant. It names the harness and the broken invariant's line
// before the trap, so a crash input reproduces with a reason.
#ifndef KENSA_TESTS_FUZZ_FUZZ_CHECK_H_
#define KENSA_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>

#define Check(ok)                                                                         \
  do {                                                                                    \
    if (!(ok)) {                                                                          \
      std::fprintf(stderr, "%s: invariant at %s:%d\n", __func__, __FILE__, __LINE__);    \
      __builtin_trap();                                                                   \
    }                                                                                     \
  } while (0)

#endif  // KENSA_TESTS_FUZZ_FUZZ_CHECK_H_
