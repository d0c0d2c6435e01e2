// SPDX-License-Identifier: GPL-2.0-or-later
// ReleaseOffThePath: runs a release (a delete, a free) on a thread of its own, in the order
// given. For objects whose last reference is dropped on the data path but whose destruction is
// slow: a retired signature set's libclamav engine and prefilter take 0.2-0.5 s to free, and
// the scan worker that ends the last scan using it would hold its next message that long.
// During process exit (after the thread is gone) the release runs on the caller.
#ifndef KENSA_CORE_OFF_PATH_RELEASE_H_
#define KENSA_CORE_OFF_PATH_RELEASE_H_

#include <functional>

namespace kensa::core {

void ReleaseOffThePath(std::function<void()> release);

}  // namespace kensa::core

#endif  // KENSA_CORE_OFF_PATH_RELEASE_H_
