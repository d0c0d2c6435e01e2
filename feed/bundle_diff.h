// SPDX-License-Identifier: GPL-2.0-or-later
// What changed between two bundles, for a person reviewing a feed before it is signed or
// published: files added, removed and changed, signature counts per file and per kind, and
// the names of the signatures added or removed in each text database. Neither bundle's
// signature is checked (a reviewer diffs unsigned builds too); both are checked against their
// manifests while they are unpacked into a temporary directory, removed afterwards.
#ifndef KENSA_FEED_BUNDLE_DIFF_H_
#define KENSA_FEED_BUNDLE_DIFF_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "feed/bundle_reader.h"

namespace kensa::feed {

struct FileDiff {
  enum class Change { kAdded, kRemoved, kChanged };
  std::string name;
  Change change = Change::kChanged;
  uint64_t old_signatures = 0;
  uint64_t new_signatures = 0;
  std::vector<std::string> added_names;  // sorted; a name twice in a file counts twice
  std::vector<std::string> removed_names;
};

struct BundleDiff {
  std::string old_version;
  std::string new_version;
  std::vector<FileDiff> files;                                  // by name
  std::map<std::string, std::pair<uint64_t, uint64_t>> totals;  // kind -> (old, new)
};

absl::StatusOr<BundleDiff> DiffBundles(const std::string& old_path, const std::string& new_path,
                                       const BundleLimits& limits = {});

// One fact per line, keyword first, e.g. "file changed kensa.ndb signatures 2 -> 3 (+1)",
// "signature added kensa.ndb Kensa.New", "total ndb 2 -> 3 (+1)"; "no changes" when none.
std::string FormatBundleDiff(const BundleDiff& diff);

}  // namespace kensa::feed

#endif  // KENSA_FEED_BUNDLE_DIFF_H_
