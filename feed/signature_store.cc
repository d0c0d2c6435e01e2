// SPDX-License-Identifier: GPL-2.0-or-later
// The on-disk signature store (signature_store.h): sets, staging, pointer and refusals.
#include "feed/signature_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace kensa::feed {
namespace {

namespace fs = std::filesystem;

constexpr char kSets[] = "sets";
constexpr char kStaging[] = "staging";
constexpr char kPointer[] = "current";
constexpr char kRefused[] = "refused";

absl::Status Errno(const char* what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno("fsync", dir, err);
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return absl::InternalError(
        absl::StrCat("mkdir ", dir, ": ", ec ? ec.message() : "not a directory"));
  }
  return absl::OkStatus();
}

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<SignatureStore> SignatureStore::Open(const std::string& root) {
  if (absl::Status s = MakeDir(root); !s.ok()) return s;
  if (absl::Status s = MakeDir(absl::StrCat(root, "/", kSets)); !s.ok()) return s;
  return SignatureStore(root);
}

std::vector<std::string> SignatureStore::ClearStaging() const {
  std::vector<std::string> warnings;
  const std::string staging = absl::StrCat(root_, "/", kStaging);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(staging, ec))) {
    // Nothing in staging/ is used after a restart: a download or extraction that was cut
    // short is simply redone.
    fs::remove_all(staging, ec);
    if (ec) {
      const std::string aside = absl::StrCat(staging, ".broken.", absl::ToUnixNanos(absl::Now()));
      std::error_code ec2;
      fs::rename(staging, aside, ec2);
      warnings.push_back(absl::StrCat("could not empty ", staging, " (", ec.message(), ")",
                                      ec2 ? absl::StrCat("; nor move it aside: ", ec2.message())
                                          : absl::StrCat("; moved aside to ", aside)));
    }
  }
  if (absl::Status s = MakeDir(staging); !s.ok()) warnings.push_back(std::string(s.message()));
  return warnings;
}

std::string SignatureStore::SetDir(const BundleVersion& v) const {
  return absl::StrCat(root_, "/", kSets, "/", v.ToString());
}

std::string SignatureStore::StagingPath(std::string_view name) const {
  return absl::StrCat(root_, "/", kStaging, "/", std::string(name));
}

std::vector<BundleVersion> SignatureStore::Sets() const {
  std::vector<BundleVersion> out;
  std::error_code ec;
  for (fs::directory_iterator it(absl::StrCat(root_, "/", kSets), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    absl::StatusOr<BundleVersion> v = ParseBundleVersion(it->path().filename().string());
    if (v.ok()) out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<BundleVersion> SignatureStore::Pointer() const {
  std::optional<std::string> text = ReadSmallFile(absl::StrCat(root_, "/", kPointer));
  if (!text.has_value() || text->size() > 256) return std::nullopt;
  std::string_view line(*text);
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  absl::StatusOr<BundleVersion> v = ParseBundleVersion(line);
  if (!v.ok()) return std::nullopt;
  return *v;
}

std::vector<BundleVersion> SignatureStore::StartupOrder() const {
  std::vector<BundleVersion> sets = Sets();
  std::reverse(sets.begin(), sets.end());
  std::optional<BundleVersion> pointer = Pointer();
  std::vector<BundleVersion> out;
  const bool pointer_usable =
      pointer.has_value() && std::find(sets.begin(), sets.end(), *pointer) != sets.end();
  for (const BundleVersion& v : sets) {
    if (!IsRefused(v) && (!pointer_usable || v <= *pointer)) out.push_back(v);
  }
  return out;
}

absl::Status SignatureStore::Install(const std::string& staged_dir, const BundleVersion& v) {
  const std::string target = SetDir(v);
  std::error_code ec;
  fs::remove_all(target, ec);  // a leftover the pointer never reached
  if (ec) return absl::InternalError(absl::StrCat("remove ", target, ": ", ec.message()));
  if (rename(staged_dir.c_str(), target.c_str()) != 0) return Errno("rename to", target, errno);
  return FsyncDir(absl::StrCat(root_, "/", kSets));
}

absl::Status SignatureStore::WriteAtomically(const std::string& name,
                                             const std::string& content) const {
  const std::string path = absl::StrCat(root_, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      unlink(tmp.c_str());
      return Errno("write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return Errno("fsync", tmp, err);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Errno("rename to", path, err);
  }
  return FsyncDir(root_);
}

absl::Status SignatureStore::SetPointer(const BundleVersion& v) {
  return WriteAtomically(kPointer, absl::StrCat(v.ToString(), "\n"));
}

absl::Status SignatureStore::Discard(const BundleVersion& v) {
  std::error_code ec;
  fs::remove_all(SetDir(v), ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", SetDir(v), ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status SignatureStore::Prune(int keep) {
  std::optional<BundleVersion> pointer = Pointer();
  if (!pointer.has_value()) return absl::OkStatus();
  std::vector<BundleVersion> sets = Sets();
  std::reverse(sets.begin(), sets.end());
  int kept = 0;
  for (const BundleVersion& v : sets) {
    if (v <= *pointer && kept < keep) {
      ++kept;
      continue;
    }
    if (absl::Status s = Discard(v); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Manifest> SignatureStore::SetManifest(const BundleVersion& v) const {
  const std::string path = absl::StrCat(SetDir(v), "/", kManifestName);
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text.has_value()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  absl::StatusOr<Manifest> m = ParseManifest(*text);
  if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", m.status().message()));
  return m;
}

absl::Status SignatureStore::WriteSetManifest(const std::string& staged_dir,
                                              const Manifest& manifest) {
  const std::string path = absl::StrCat(staged_dir, "/", kManifestName);
  const std::string text = FormatManifest(manifest);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path, errno);
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = written ? 0 : (errno != 0 ? errno : EIO);
  if (written && fsync(fd) != 0) err = errno;
  close(fd);
  if (err != 0) return Errno("write", path, err);
  return FsyncDir(staged_dir);
}

std::vector<BundleVersion> SignatureStore::Refused() const {
  std::vector<BundleVersion> out;
  std::optional<std::string> text = ReadSmallFile(absl::StrCat(root_, "/", kRefused));
  if (!text.has_value()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    absl::StatusOr<BundleVersion> v =
        ParseBundleVersion(std::string_view(line.data(), line.size()));
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

bool SignatureStore::IsRefused(const BundleVersion& v) const {
  std::vector<BundleVersion> refused = Refused();
  return std::find(refused.begin(), refused.end(), v) != refused.end();
}

absl::Status SignatureStore::AddRefused(const BundleVersion& v) {
  std::vector<BundleVersion> refused = Refused();
  if (std::find(refused.begin(), refused.end(), v) != refused.end()) return absl::OkStatus();
  refused.push_back(v);
  std::string text;
  for (const BundleVersion& r : refused) absl::StrAppend(&text, r.ToString(), "\n");
  return WriteAtomically(kRefused, text);
}

absl::StatusOr<RollbackResult> SignatureStore::Rollback() {
  std::optional<BundleVersion> pointer = Pointer();
  if (!pointer.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no last-known-good set in ", root_, " to roll back from"));
  }
  std::vector<BundleVersion> sets = Sets();
  std::optional<BundleVersion> older;
  for (const BundleVersion& v : sets) {
    if (v < *pointer) older = v;
  }
  if (!older.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no set older than ", pointer->ToString(), " in ", root_, " to roll back to"));
  }
  // Refused first: a crash after it leaves the old pointer, which startup and the updater
  // then treat as refused, so the rollback is never half undone.
  if (absl::Status s = AddRefused(*pointer); !s.ok()) return s;
  if (absl::Status s = SetPointer(*older); !s.ok()) return s;
  if (absl::Status s = Discard(*pointer); !s.ok()) return s;
  return RollbackResult{*pointer, *older};
}

}  // namespace kensa::feed
