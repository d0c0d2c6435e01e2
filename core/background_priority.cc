// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/background_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace kensa {
namespace {

// PRIO_PROCESS with a thread id names that one thread on Linux.
id_t ThisThread() { return static_cast<id_t>(syscall(SYS_gettid)); }

}  // namespace

BackgroundPriority::BackgroundPriority() {
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, ThisThread());
  if (errno != 0 || now >= kBackgroundNice) return;
  before_ = now;
  lowered_ = setpriority(PRIO_PROCESS, ThisThread(), kBackgroundNice) == 0;
}

BackgroundPriority::~BackgroundPriority() {
  if (lowered_) (void)setpriority(PRIO_PROCESS, ThisThread(), before_);
}

void LowerThisThreadForBackgroundWork() {
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, ThisThread());
  if (errno == 0 && now < kBackgroundNice) {
    (void)setpriority(PRIO_PROCESS, ThisThread(), kBackgroundNice);
  }
}

}  // namespace kensa
