// SPDX-License-Identifier: GPL-2.0-or-later
// Unlinked temporary files in the configured temporary directory ([scan] temp_dir): a decoded
// part's spill file and a POP3 response being scanned. Unlinked from the start, so nothing is
// left behind whatever happens to the process.
#ifndef KENSA_SCAN_TEMP_FILE_H_
#define KENSA_SCAN_TEMP_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::scan {

// A read-write descriptor (O_CLOEXEC) of a new file with no name in `dir`: O_TMPFILE, or
// mkostemp and unlink where the filesystem has no O_TMPFILE. The caller closes it.
absl::StatusOr<int> OpenUnlinkedTempFile(const std::string& dir);

// Writes all of `bytes` to `fd`; an error (ENOSPC, ...) names the temporary directory.
absl::Status WriteAllToTempFile(int fd, std::string_view bytes, const std::string& dir);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_TEMP_FILE_H_
