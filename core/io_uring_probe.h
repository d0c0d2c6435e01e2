// SPDX-License-Identifier: GPL-2.0-or-later
// Checks at start-up that the kernel has every io_uring feature the reactors use (the appliance
// runs Debian 12's 6.1 kernel), and refuses with one clear message naming what is missing.
#ifndef KENSA_CORE_IO_URING_PROBE_H_
#define KENSA_CORE_IO_URING_PROBE_H_

#include "absl/status/status.h"

namespace kensa {

absl::Status CheckIoUringSupport();

}  // namespace kensa

#endif  // KENSA_CORE_IO_URING_PROBE_H_
