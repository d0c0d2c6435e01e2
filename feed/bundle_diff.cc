// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/bundle_diff.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "feed/database_text.h"

namespace kensa::feed {
namespace {

// A temporary directory removed with everything in it when the diff is done.
class TempDir {
 public:
  TempDir() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kensa-sigtool-diff.XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::StatusOr<std::vector<std::string>> SortedNames(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> names = SignatureNames(path);
  if (names.ok()) std::sort(names->begin(), names->end());
  return names;
}

std::string Delta(uint64_t a, uint64_t b) {
  const int64_t d = static_cast<int64_t>(b) - static_cast<int64_t>(a);
  return absl::StrCat(a, " -> ", b, " (", d >= 0 ? "+" : "", d, ")");
}

}  // namespace

absl::StatusOr<BundleDiff> DiffBundles(const std::string& old_path, const std::string& new_path,
                                       const BundleLimits& limits) {
  TempDir tmp;
  if (tmp.path().empty()) return absl::InternalError("cannot create a temporary directory");
  const std::string old_dir = tmp.path() + "/old", new_dir = tmp.path() + "/new";
  absl::StatusOr<Manifest> old_m = ExtractUnverifiedBundle(old_path, old_dir, limits);
  if (!old_m.ok()) return old_m.status();
  absl::StatusOr<Manifest> new_m = ExtractUnverifiedBundle(new_path, new_dir, limits);
  if (!new_m.ok()) return new_m.status();

  BundleDiff diff;
  diff.old_version = old_m->version.ToString();
  diff.new_version = new_m->version.ToString();
  std::set<std::string> names;
  for (const ManifestFile& f : old_m->files) names.insert(f.name);
  for (const ManifestFile& f : new_m->files) names.insert(f.name);
  for (const std::string& name : names) {
    const ManifestFile* a = old_m->Find(name);
    const ManifestFile* b = new_m->Find(name);
    if (a != nullptr && b != nullptr && a->sha256 == b->sha256) continue;
    FileDiff d;
    d.name = name;
    d.change = a == nullptr   ? FileDiff::Change::kAdded
               : b == nullptr ? FileDiff::Change::kRemoved
                              : FileDiff::Change::kChanged;
    d.old_signatures = a != nullptr ? a->signatures : 0;
    d.new_signatures = b != nullptr ? b->signatures : 0;
    std::vector<std::string> before, after;
    if (a != nullptr) {
      absl::StatusOr<std::vector<std::string>> n = SortedNames(old_dir + "/" + name);
      if (!n.ok()) return n.status();
      before = *std::move(n);
    }
    if (b != nullptr) {
      absl::StatusOr<std::vector<std::string>> n = SortedNames(new_dir + "/" + name);
      if (!n.ok()) return n.status();
      after = *std::move(n);
    }
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(d.added_names));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(d.removed_names));
    diff.files.push_back(std::move(d));
  }
  for (const auto& [kind, n] : old_m->totals) diff.totals[kind].first = n;
  for (const auto& [kind, n] : new_m->totals) diff.totals[kind].second = n;
  return diff;
}

std::string FormatBundleDiff(const BundleDiff& diff) {
  std::ostringstream out;
  out << "version " << diff.old_version << " -> " << diff.new_version << "\n";
  for (const FileDiff& f : diff.files) {
    switch (f.change) {
      case FileDiff::Change::kAdded:
        out << "file added " << f.name << " signatures " << f.new_signatures << "\n";
        break;
      case FileDiff::Change::kRemoved:
        out << "file removed " << f.name << " signatures " << f.old_signatures << "\n";
        break;
      case FileDiff::Change::kChanged:
        out << "file changed " << f.name << " signatures "
            << Delta(f.old_signatures, f.new_signatures) << "\n";
        break;
    }
    for (const std::string& n : f.added_names) {
      out << "signature added " << f.name << " " << n << "\n";
    }
    for (const std::string& n : f.removed_names) {
      out << "signature removed " << f.name << " " << n << "\n";
    }
  }
  bool totals_changed = false;
  for (const auto& [kind, counts] : diff.totals) {
    if (counts.first == counts.second) continue;
    totals_changed = true;
    out << "total " << kind << " " << Delta(counts.first, counts.second) << "\n";
  }
  if (diff.files.empty() && !totals_changed) out << "no changes\n";
  return out.str();
}

}  // namespace kensa::feed
