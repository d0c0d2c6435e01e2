// SPDX-License-Identifier: GPL-2.0-or-later
// The version of a signature directory: a name for its exact database content, so that equal
// versions mean equal verdicts (the verdict cache keys on it). Official ClamAV databases carry
// their own version in the CVD header; anything else is named by a digest of the files.
#ifndef KENSA_SIGS_SIGNATURE_VERSION_H_
#define KENSA_SIGS_SIGNATURE_VERSION_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kensa::sigs {

struct DatabaseDirVersion {
  std::string version;
  int files = 0;  // database files libclamav loads from the directory
};

// True for the file name extensions libclamav loads from a directory (its CLI_DBEXT list).
bool IsDatabaseFileName(std::string_view name);

// Official databases only (main/daily/bytecode .cvd/.cld/.cud): "<name>-<version>" of the one
// with the highest version, e.g. "daily-27432" (daily is bumped with every release).
// No official database: "sha256-<16 hex digits>" of SHA-256 over the files' names and
// contents in name order. Both kinds: "daily-27432+sha256-<...>" of the local files, so a
// changed local signature changes the version. A directory without database files is an error.
absl::StatusOr<DatabaseDirVersion> DescribeDatabaseDir(const std::string& dir);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_SIGNATURE_VERSION_H_
