// SPDX-License-Identifier: GPL-2.0-or-later
// Bundle versions and kensa versions: 1 to 8 dot-separated decimal components without leading
// zeros ("27432", "2024.6.15.2", "0.1.0"). Each version has exactly one spelling, and versions
// compare component by component as numbers; a version that is a prefix of another is the
// older ("1.2" < "1.2.0"). That is a total order on the spellings, so "newer" is never
// ambiguous when the updater refuses a replayed older bundle.
#ifndef KENSA_FEED_BUNDLE_VERSION_H_
#define KENSA_FEED_BUNDLE_VERSION_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kensa::feed {

inline constexpr int kMaxVersionComponents = 8;
inline constexpr int kMaxVersionComponentDigits = 18;  // fits int64 and TOML integers

struct BundleVersion {
  std::vector<uint64_t> parts;

  std::string ToString() const;
  // Lexicographic over the numeric components: std::vector's ordering is exactly the rule above.
  friend std::strong_ordering operator<=>(const BundleVersion& a, const BundleVersion& b) {
    return a.parts <=> b.parts;
  }
  friend bool operator==(const BundleVersion& a, const BundleVersion& b) = default;
};

absl::StatusOr<BundleVersion> ParseBundleVersion(std::string_view text);

// <0 when a is older than b, 0 when equal, >0 when newer.
int CompareBundleVersions(const BundleVersion& a, const BundleVersion& b);

// The version of this build of kensa (the top CMakeLists' project version).
const BundleVersion& KensaVersion();

}  // namespace kensa::feed

#endif  // KENSA_FEED_BUNDLE_VERSION_H_
