// SPDX-License-Identifier: GPL-2.0-or-later
// libclamav's temporary directory. libclamav makes a directory per scan under it and removes
// it when the scan ends, so a kensad killed during a scan leaves that directory behind, in a
// place (/dev/shm, /tmp) shared with other programs. kensad therefore gives libclamav a
// subdirectory of its own, "kensa-engine-<hash of the state directory>": stable across
// restarts, different for two kensads that share the base directory. It is emptied at start;
// nothing else in the base directory is ever touched.
#ifndef KENSA_APPLIANCE_ENGINE_TEMP_DIR_H_
#define KENSA_APPLIANCE_ENGINE_TEMP_DIR_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace kensa {

struct EngineTempDir {
  std::string path;
  size_t removed = 0;  // leftovers of an earlier run deleted at start
};

// base: [scan] engine_temp_dir, or $TMPDIR, or /tmp when empty. Creates the subdirectory
// (mode 0700) or empties the existing one; refuses one that is not a directory owned by this
// user (a symbolic link planted in a shared /tmp is never followed).
absl::StatusOr<EngineTempDir> PrepareEngineTempDir(const std::string& base,
                                                   const std::string& state_dir);

}  // namespace kensa

#endif  // KENSA_APPLIANCE_ENGINE_TEMP_DIR_H_
