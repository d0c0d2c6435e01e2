// SPDX-License-Identifier: GPL-2.0-or-later
// The manifest of a signature bundle (manifest.toml): what the bundle claims to hold. Its
// exact bytes are what manifest.sig signs. The parser is strict because the manifest comes
// from the network: an unknown key, a missing key, a wrong type, bad hex, a bad name, a
// duplicate file or totals that disagree with the files is an error naming the key.
//
//   format = 1
//   version = "2024.6.15.1"            # feed/bundle_version.h: total order, newer is larger
//   created = "2024-06-15T12:00:00Z"   # RFC 3339, UTC, whole seconds
//   min_kensa_version = "0.1.0"
//   [totals]                           # signatures per database kind (file extension)
//   ndb = 2
//   [[file]]                           # one per database file, sorted by name
//   name = "kensa-test.ndb"
//   size = 345
//   sha256 = "<64 lowercase hex digits>"
//   signatures = 2
#ifndef KENSA_FEED_MANIFEST_H_
#define KENSA_FEED_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feed/bundle_version.h"

namespace kensa::feed {

inline constexpr int kManifestFormat = 1;
inline constexpr char kManifestName[] = "manifest.toml";
inline constexpr char kSignatureName[] = "manifest.sig";
inline constexpr size_t kMaxMemberNameBytes = 255;

struct ManifestFile {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
  uint64_t signatures = 0;
};

struct Manifest {
  int format = kManifestFormat;
  BundleVersion version;
  std::string created;  // RFC 3339 UTC, e.g. "2024-06-15T12:00:00Z"
  BundleVersion min_kensa_version;
  std::vector<ManifestFile> files;
  std::map<std::string, uint64_t> totals;  // database kind -> signatures

  const ManifestFile* Find(std::string_view name) const;
  uint64_t TotalBytes() const;
};

// A database file's name inside a bundle: one that sigs::IsDatabaseFileName accepts, made of
// [A-Za-z0-9._+-], not starting with '.', at most kMaxMemberNameBytes. No '/', so no paths,
// no subdirectories and no "../" traversal.
absl::Status ValidateDatabaseFileName(std::string_view name);

// The database kind of a file name: its extension, lowercase, without the dot ("ndb").
std::string DatabaseKind(std::string_view name);

// Signatures per kind over files, as the manifest's [totals] must say.
std::map<std::string, uint64_t> ComputeTotals(const std::vector<ManifestFile>& files);

// "2024-06-15T12:00:00Z" for t, and the strict reverse (only that shape, a real date).
std::string FormatCreationTime(absl::Time t);
absl::StatusOr<absl::Time> ParseCreationTime(std::string_view text);

absl::StatusOr<Manifest> ParseManifest(std::string_view text);
// The manifest as TOML, files in the order given (the writer sorts them by name).
std::string FormatManifest(const Manifest& manifest);

}  // namespace kensa::feed

#endif  // KENSA_FEED_MANIFEST_H_
