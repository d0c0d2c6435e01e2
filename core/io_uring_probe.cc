// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/io_uring_probe.h"

#include <liburing.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kensa {
namespace {

struct Needed {
  int opcode;
  const char* name;
};

// Multishot accept (5.19), multishot recv with provided-buffer rings (6.0), DEFER_TASKRUN (6.1).
constexpr int kMinMajor = 6;
constexpr int kMinMinor = 1;

}  // namespace

absl::Status CheckIoUringSupport() {
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < kMinMajor || (major == kMinMajor && minor < kMinMinor)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kensa needs Linux >= 6.1 (io_uring multishot recv, provided buffer rings, "
        "DEFER_TASKRUN); this kernel is ",
        u.release));
  }
  io_uring_probe* probe = io_uring_get_probe();
  if (probe == nullptr) {
    return absl::FailedPreconditionError(
        "io_uring is unavailable (disabled by kernel.io_uring_disabled, seccomp or a container "
        "policy); kensa cannot run without it");
  }
  const Needed needed[] = {
      {IORING_OP_ACCEPT, "ACCEPT"},       {IORING_OP_RECV, "RECV"},
      {IORING_OP_SEND, "SEND"},           {IORING_OP_READ, "READ"},
      {IORING_OP_WRITE, "WRITE"},         {IORING_OP_FSYNC, "FSYNC"},
      {IORING_OP_TIMEOUT, "TIMEOUT"},     {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE"},
      {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_CONNECT, "CONNECT"},
      {IORING_OP_PROVIDE_BUFFERS, "PROVIDE_BUFFERS"},
  };
  std::vector<std::string> missing;
  for (const Needed& n : needed) {
    if (!io_uring_opcode_supported(probe, n.opcode)) missing.push_back(n.name);
  }
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this kernel's io_uring lacks ", absl::StrJoin(missing, ", ")));
  }
  // The setup flags are checked by creating a ring with them.
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(8, &ring, &params);
  if (rc < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "io_uring rejects SINGLE_ISSUER|DEFER_TASKRUN: ", std::strerror(-rc)));
  }
  io_uring_queue_exit(&ring);
  return absl::OkStatus();
}

}  // namespace kensa
