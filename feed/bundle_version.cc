// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/bundle_version.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#ifndef KENSA_VERSION_STRING
#error "KENSA_VERSION_STRING comes from feed/CMakeLists.txt"
#endif

namespace kensa::feed {

std::string BundleVersion::ToString() const { return absl::StrJoin(parts, "."); }

absl::StatusOr<BundleVersion> ParseBundleVersion(std::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad version \"",
                     absl::CHexEscape(absl::string_view(text.data(), text.size())), "\": ", why));
  };
  if (text.empty()) return bad("empty");
  BundleVersion v;
  for (absl::string_view part : absl::StrSplit(absl::string_view(text.data(), text.size()), '.')) {
    if (static_cast<int>(v.parts.size()) == kMaxVersionComponents) {
      return bad(absl::StrCat("more than ", kMaxVersionComponents, " components"));
    }
    if (part.empty()) return bad("empty component");
    if (part.size() > static_cast<size_t>(kMaxVersionComponentDigits)) {
      return bad(absl::StrCat("a component longer than ", kMaxVersionComponentDigits, " digits"));
    }
    if (part.size() > 1 && part[0] == '0') return bad("a component with a leading zero");
    uint64_t n = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return bad("components are decimal digits");
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    v.parts.push_back(n);
  }
  return v;
}

int CompareBundleVersions(const BundleVersion& a, const BundleVersion& b) {
  const std::strong_ordering o = a <=> b;
  return o < 0 ? -1 : o > 0 ? 1 : 0;
}

const BundleVersion& KensaVersion() {
  static const BundleVersion* const version = [] {
    absl::StatusOr<BundleVersion> v = ParseBundleVersion(KENSA_VERSION_STRING);
    if (!v.ok()) std::abort();  // the build's own version is a build invariant
    return new BundleVersion(*std::move(v));
  }();
  return *version;
}

}  // namespace kensa::feed
