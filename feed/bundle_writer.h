// SPDX-License-Identifier: GPL-2.0-or-later
// Writes bundles: BuildBundle makes an unsigned one from a directory of ClamAV databases
// (manifest first, then the files by name), SignBundle makes the signed one from it (manifest,
// manifest.sig, files). Both write beside the target and rename it into place. BuildBundle
// reads its output back through the reader (a file that changed while it was copied makes a
// bundle that would never verify); SignBundle copies through the reader, which checks every
// file against the manifest it signs.
#ifndef KENSA_FEED_BUNDLE_WRITER_H_
#define KENSA_FEED_BUNDLE_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feed/bundle_reader.h"
#include "feed/bundle_version.h"
#include "feed/ed25519_keys.h"
#include "feed/manifest.h"

namespace kensa::feed {

struct BuildOptions {
  std::string database_dir;  // its regular files that sigs::IsDatabaseFileName accepts
  BundleVersion version;
  BundleVersion min_kensa_version = KensaVersion();
  absl::Time created = absl::Now();
  BundleLimits limits;  // a bundle the reader would refuse is not written
};

// The manifest of the database files in options.database_dir (other files are ignored; a
// database file whose name a bundle cannot hold is an error), and the unsigned bundle at out.
absl::StatusOr<Manifest> BuildBundle(const BuildOptions& options, const std::string& out);

// Signs the bundle at in (signed or not; an old signature is replaced) with key into out
// (which may be in). in's files are checked against its manifest while they are copied.
absl::StatusOr<Manifest> SignBundle(const std::string& in, const Ed25519Key& key,
                                    const std::string& out, const BundleLimits& limits = {});

}  // namespace kensa::feed

#endif  // KENSA_FEED_BUNDLE_WRITER_H_
