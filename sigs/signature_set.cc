// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureSet::Build: version the directory, load and compile it, run the canaries, and only
// then hand out the set. Version and engine read the same files: the updater renames a
// complete directory into place and never edits one that a build may be reading.
#include "sigs/signature_set.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/off_path_release.h"
#include "scan/prefilter.h"
#include "sigs/builtin_file_types.h"
#include "sigs/canaries.h"
#include "sigs/prefilter_inputs_cache.h"
#include "sigs/prefilter_spec.h"
#include "sigs/signature_version.h"

namespace kensa::sigs {
namespace {

// Bumped whenever the derivation's output for the same databases changes: it is part of the
// on-disk cache key.
// 2: the mail class; 3: required subsignatures only; 4: the PDF class; 5: signatures that
// look at a layer's container (mail_reading_unpredictable)
constexpr int kPrefilterDerivationVersion = 5;

// libclamav's file-type entries as the engine has them: its built-in table (used when a set
// brings no .ftm) and every line of the set's .ftm files, which the derivation copied into
// the probe's directory. Both, whichever the engine uses: more entries only type more objects.
absl::StatusOr<std::vector<std::string>> EngineFileTypes(const std::string& probe_dir) {
  std::vector<std::string> lines(BuiltinFileTypeEntries().begin(), BuiltinFileTypeEntries().end());
  if (probe_dir.empty()) return lines;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(probe_dir, ec)) {
    if (e.path().extension() != ".ftm") continue;
    std::ifstream in(e.path(), std::ios::binary);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", e.path().string()));
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", probe_dir, ": ", ec.message()));
  return lines;
}

absl::StatusOr<std::unique_ptr<const scan::PrefilterDatabase>> BuildPrefilter(
    const std::string& dir, const std::string& version, const scan::ClamLimits& limits,
    const std::string& cache_dir, SignatureSetInfo* info) {
  // Unpacked containers and the probe's files live here only while the build needs them.
  std::string templ = (std::filesystem::temp_directory_path() / "kensa-prefilter-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", std::strerror(errno)));
  }
  struct RemoveAll {
    std::string path;
    ~RemoveAll() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } cleanup{templ};
  const std::string key = absl::StrCat(version, "-d", kPrefilterDerivationVersion);
  const std::string inputs_cache =
      cache_dir.empty() ? "" : absl::StrCat(cache_dir, "/inputs-", key, ".cache");
  absl::StatusOr<PrefilterDerivation> derived = inputs_cache.empty()
                                                    ? absl::NotFoundError("no cache")
                                                    : ReadPrefilterInputsCache(inputs_cache, templ);
  info->prefilter_inputs_from_cache = derived.ok();
  if (!derived.ok()) {
    derived = DerivePrefilterInputs(dir, templ);
    if (!derived.ok()) return derived.status();
    // A cache that cannot be written costs the next start the derivation, nothing more.
    if (!inputs_cache.empty()) (void)WritePrefilterInputsCache(inputs_cache, *derived);
  }
  absl::StatusOr<std::shared_ptr<const scan::ClamEngine>> probe =
      scan::ClamEngine::LoadProbe(derived->probe_dir, limits);
  if (!probe.ok()) return probe.status();
  absl::StatusOr<std::vector<std::string>> file_types = EngineFileTypes(derived->probe_dir);
  if (!file_types.ok()) return file_types.status();
  derived->inputs.file_types = *std::move(file_types);
  info->prefilter_without_literal = derived->without_literal;
  info->prefilter_routing = derived->routing_examples;
  absl::StatusOr<std::unique_ptr<const scan::PrefilterDatabase>> db =
      scan::PrefilterDatabase::Build(std::move(derived->inputs), *std::move(probe), cache_dir, key);
  if (db.ok()) info->prefilter = (*db)->stats();
  return db;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const SignatureSet>> SignatureSet::Build(
    const std::string& dir, const scan::ClamLimits& limits, bool check_canaries,
    const PrefilterOptions& prefilter) {
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

  std::unique_ptr<SignatureSet> set(new SignatureSet());
  if (prefilter.enabled) {
    const absl::Time prefilter_start = absl::Now();
    // A small set's database serves the whole-message reading only and builds in
    // milliseconds: it is not kept on disk.
    const bool for_parts = (*engine)->signature_count() >= prefilter.min_signatures;
    absl::StatusOr<std::unique_ptr<const scan::PrefilterDatabase>> db = BuildPrefilter(
        dir, version->version, limits, for_parts ? prefilter.cache_dir : "", &set->info_);
    if (db.ok() && check_canaries) {
      // The canary virus must never take the fast path: a prefilter that would let it through
      // is broken, whatever the reason.
      bool canary_skips = false;
      {
        scan::PartPrefilter pf(**db);  // must be gone before *db may be replaced
        const std::string eicar = EicarTestFile();
        pf.Feed(eicar);
        canary_skips = pf.Decide(eicar) == scan::PartPrefilter::Decision::kSkipEngine;
      }
      if (canary_skips) db = absl::InternalError("the EICAR canary would skip the engine");
    }
    if (db.ok()) {
      set->prefilter_ = *std::move(db);
      set->prefilter_for_parts_ = for_parts;
    } else {
      // The engine alone still gives every verdict: a set whose prefilter cannot be built (a
      // database format the derivation does not read, a Hyperscan error) is scanned without.
      set->info_.prefilter_error = std::string(db.status().message());
    }
    set->info_.prefilter_time = absl::Now() - prefilter_start;
  }
  set->engine_ = *std::move(engine);
  set->info_.dir = dir;
  set->info_.version = std::move(version->version);
  set->info_.signatures = set->engine_->signature_count();
  set->info_.files = version->files;
  set->info_.loaded_at = absl::Now();
  set->info_.load_time = set->info_.loaded_at - start;
  // The last reference to a set is usually dropped by a scan worker, at the end of the last
  // scan that used it; freeing the engine of a real-sized set takes it 0.2-0.5 s.
  return std::shared_ptr<const SignatureSet>(
      set.release(), [](const SignatureSet* s) { core::ReleaseOffThePath([s] { delete s; }); });
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
