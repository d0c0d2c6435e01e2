// SPDX-License-Identifier: GPL-2.0-or-later
// The prefilter's cache files (compiled databases, derived inputs): written whole to a
// temporary name and renamed, so a reader never sees half a file, and not fsync'd, since a
// lost or damaged cache costs a rebuild, never a verdict.
#ifndef KENSA_SCAN_CACHE_FILE_H_
#define KENSA_SCAN_CACHE_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::scan {

// Makes the parent directory when missing.
absl::Status WriteCacheFile(const std::string& path, std::string_view bytes);
// NotFound when there is none.
absl::StatusOr<std::string> ReadCacheFile(const std::string& path);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_CACHE_FILE_H_
