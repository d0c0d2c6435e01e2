// SPDX-License-Identifier: GPL-2.0-or-later
#include "metrics/process_stats.h"

#include <unistd.h>

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kensa::metrics {

absl::StatusOr<uint64_t> ReadResidentMemoryBytes(const std::string& statm) {
  std::ifstream in(statm);
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(in >> size_pages >> resident_pages)) {
    return absl::UnavailableError(absl::StrCat("cannot read the resident size from ", statm));
  }
  const long page = sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

}  // namespace kensa::metrics
