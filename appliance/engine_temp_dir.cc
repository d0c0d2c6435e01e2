// SPDX-License-Identifier: GPL-2.0-or-later
#include "appliance/engine_temp_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kensa {
namespace {

// FNV-1a: a name that stays the same from one build and run to the next (absl::Hash is
// seeded per process).
uint64_t StableHash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

absl::StatusOr<EngineTempDir> PrepareEngineTempDir(const std::string& base,
                                                   const std::string& state_dir) {
  std::string root = base;
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::error_code ec;
  const std::string state = std::filesystem::absolute(state_dir, ec).lexically_normal().string();
  EngineTempDir out;
  out.path = absl::StrCat(root, "/kensa-engine-", absl::StrFormat("%016x", StableHash(state)));
  if (mkdir(out.path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("scan.engine_temp_dir: mkdir ", out.path, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (lstat(out.path.c_str(), &st) != 0) {
    return absl::InternalError(
        absl::StrCat("scan.engine_temp_dir: ", out.path, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scan.engine_temp_dir: ", out.path, " is not a directory owned by kensad's user"));
  }
  std::vector<std::filesystem::path> leftovers;
  for (auto it = std::filesystem::directory_iterator(out.path, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    leftovers.push_back(it->path());
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("scan.engine_temp_dir: listing ", out.path, ": ", ec.message()));
  }
  for (const std::filesystem::path& p : leftovers) {
    // remove_all deletes a symbolic link itself, never what it points to.
    std::filesystem::remove_all(p, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("scan.engine_temp_dir: removing ", p.string(), ": ", ec.message()));
    }
    ++out.removed;
  }
  return out;
}

}  // namespace kensa
