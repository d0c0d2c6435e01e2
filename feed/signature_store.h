// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureStore: the updater's signature sets on disk, under one root directory:
//   sets/<version>/   a verified, extracted set (the bundle's database files and its
//                     manifest.toml, which libclamav does not load), named by its bundle
//                     version; only complete directories are ever renamed in here
//   staging/          downloads and extractions in progress; emptied when kensad starts
//                     (ClearStaging), so what a crash left there never matters
//   current           the last-known-good pointer: the version kensad runs, one line, written
//                     to a temporary file, fsync'd and renamed (never half-written)
//   refused           versions an operator rolled back, one per line (written the same way);
//                     the updater never takes them again
// Durability: a set is fsync'd (ExtractBundle) before Install renames it in, and sets/ is
// fsync'd after; the pointer moves only after that, so it never names a set that is not whole.
#ifndef KENSA_FEED_SIGNATURE_STORE_H_
#define KENSA_FEED_SIGNATURE_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "feed/bundle_version.h"
#include "feed/manifest.h"

namespace kensa::feed {

struct RollbackResult {
  BundleVersion from;  // now refused and removed
  BundleVersion to;    // the pointer's new value
};

class SignatureStore {
 public:
  // Creates root and sets/ as needed; fails only when they cannot be made.
  static absl::StatusOr<SignatureStore> Open(const std::string& root);
  // kensad at start, before any check: empties staging/ (creating it as needed). Whatever it
  // holds (a file, an unreadable tree) is removed or, failing that, set aside; problems are
  // returned as warnings, never an error: the sets already here still serve. Not for a
  // second process (the rollback command), which would cut a running check short.
  std::vector<std::string> ClearStaging() const;

  const std::string& root() const { return root_; }
  std::string SetDir(const BundleVersion& v) const;
  // A fresh path under staging/ for one download or extraction (not created).
  std::string StagingPath(std::string_view name) const;

  // The directories of sets/ whose names are versions, oldest first (anything else is ignored).
  std::vector<BundleVersion> Sets() const;
  // The last-known-good pointer; nullopt when there is none or it does not parse.
  std::optional<BundleVersion> Pointer() const;
  // The order kensad tries the sets at start: the pointer's set, then each older set, newest
  // first; without a usable pointer, every set newest first. Refused versions never appear.
  std::vector<BundleVersion> StartupOrder() const;

  // Renames a complete staged directory to sets/<v> (replacing a leftover of the same
  // version) and fsyncs sets/. The pointer does not move.
  absl::Status Install(const std::string& staged_dir, const BundleVersion& v);
  absl::Status SetPointer(const BundleVersion& v);
  absl::Status Discard(const BundleVersion& v);  // removes sets/<v>
  // Keeps the pointer's set and the keep-1 newest sets older than it; removes the rest
  // (older ones, and newer ones the pointer never reached). Without a pointer: nothing.
  absl::Status Prune(int keep);

  // The manifest kept in a set's directory (version, creation time, counts).
  absl::StatusOr<Manifest> SetManifest(const BundleVersion& v) const;
  // Writes manifest.toml into a staged set directory and fsyncs it (before Install).
  static absl::Status WriteSetManifest(const std::string& staged_dir, const Manifest& manifest);

  std::vector<BundleVersion> Refused() const;
  bool IsRefused(const BundleVersion& v) const;
  absl::Status AddRefused(const BundleVersion& v);

  // Moves the pointer to the newest set older than it, marks the old one refused and removes
  // it. FailedPrecondition when there is no pointer or no older set.
  absl::StatusOr<RollbackResult> Rollback();

 private:
  explicit SignatureStore(std::string root) : root_(std::move(root)) {}
  absl::Status WriteAtomically(const std::string& name, const std::string& content) const;

  std::string root_;
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_SIGNATURE_STORE_H_
