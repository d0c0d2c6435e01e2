// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureSet::Build: version the directory, load and compile it, run the canaries, and only
// then hand out the set. Version and engine read the same files: the updater renames a
// complete directory into place and never edits one that a build may be reading.
#include "sigs/signature_set.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sigs/signature_version.h"

namespace kensa::sigs {

absl::StatusOr<std::shared_ptr<const SignatureSet>> SignatureSet::Build(
    const std::string& dir, const scan::ClamLimits& limits, bool check_canaries) {
  const absl::Time start = absl::Now();
  absl::StatusOr<DatabaseDirVersion> version = DescribeDatabaseDir(dir);
  if (!version.ok()) return version.status();

  absl::StatusOr<std::shared_ptr<const scan::ClamEngine>> engine =
      scan::ClamEngine::Load(dir, limits);
  if (!engine.ok()) return engine.status();

  if (check_canaries) {
    if (absl::Status s = CheckCanaries(**engine); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), " by ", dir));
    }
  }

  std::shared_ptr<SignatureSet> set(new SignatureSet());
  set->engine_ = *std::move(engine);
  set->info_.dir = dir;
  set->info_.version = std::move(version->version);
  set->info_.signatures = set->engine_->signature_count();
  set->info_.files = version->files;
  set->info_.loaded_at = absl::Now();
  set->info_.load_time = set->info_.loaded_at - start;
  return std::shared_ptr<const SignatureSet>(std::move(set));
}

std::string BundledSignatureDir() {
  // The source tree's sigs/test while developing (set by sigs/CMakeLists.txt); an installed
  // binary whose build tree is gone falls back to the packaged copy.
  constexpr const char* kInstalledDir = "/usr/share/kensa/sigs";
#ifdef KENSA_BUNDLED_SIGS_DIR
  std::error_code ec;
  if (std::filesystem::is_directory(KENSA_BUNDLED_SIGS_DIR, ec)) return KENSA_BUNDLED_SIGS_DIR;
#endif
  return kInstalledDir;
}

}  // namespace kensa::sigs
