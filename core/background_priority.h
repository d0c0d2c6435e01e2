// SPDX-License-Identifier: GPL-2.0-or-later
// Work that must not compete with the data path on a busy machine (building a signature set
// while the old one serves, freeing a retired one) runs at a lower CPU priority: the kernel
// then gives the reactors and scan workers the cores first and the build takes what is left,
// so replies do not slow down while it runs (a set of 566k signatures keeps a core busy for
// 5-12 s). Linux keeps a nice value per thread, so only the calling thread is lowered.
#ifndef KENSA_CORE_BACKGROUND_PRIORITY_H_
#define KENSA_CORE_BACKGROUND_PRIORITY_H_

namespace kensa {

// The nice value background work runs at (CFS gives a nice 10 thread about a tenth of a core
// beside a busy nice 0 one, and a whole idle core).
inline constexpr int kBackgroundNice = 10;

// Lowers the calling thread to kBackgroundNice for the scope, then puts it back where the
// process may (raising a priority again needs CAP_SYS_NICE or RLIMIT_NICE; without them the
// thread stays low, which suits the threads that build and free sets). Best effort: a failure
// only costs the data path some CPU.
class BackgroundPriority {
 public:
  BackgroundPriority();
  ~BackgroundPriority();
  BackgroundPriority(const BackgroundPriority&) = delete;
  BackgroundPriority& operator=(const BackgroundPriority&) = delete;

 private:
  int before_ = 0;
  bool lowered_ = false;
};

// For a thread that does nothing but background work: lowered for good.
void LowerThisThreadForBackgroundWork();

}  // namespace kensa

#endif  // KENSA_CORE_BACKGROUND_PRIORITY_H_
