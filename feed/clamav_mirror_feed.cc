// SPDX-License-Identifier: GPL-2.0-or-later
// ClamavMirrorFeed: an ISP's private ClamAV mirror, as freshclam's PrivateMirror uses one:
// <url>/<database>.cvd for each configured database, each a conditional GET of its own.
// Every file is staged in one set directory and checked by libclamav (cl_cvdhead for the
// version, cl_cvdverify for the signature and the body); a database older than the same
// database in the store's current set is a replay and refuses the whole set. The set's
// version for the store is the CVD versions in the configured order ("62.27400.335" for
// main, daily, bytecode): a set in which no database went back is newer exactly when one
// went forward, so the updater's own replay and equality rules hold for it unchanged.
// A database the server answers 304 for is taken from the current set (and verified again);
// when that set lacks it, it is fetched again without validators.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "feed/cvd_file.h"
#include "feed/signature_feed.h"

namespace kensa::feed {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat(path, ": cannot open"));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx, buf, static_cast<size_t>(in.gcount()));
  }
  const bool failed = in.bad();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  if (failed) return absl::InternalError(absl::StrCat(path, ": read error"));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), len));
}

absl::Status Fsync(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    const int e = errno;
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat(path, ": fsync: ", std::strerror(e)));
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status WithStage(std::string_view stage, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(std::string(stage), ": ", s.message()));
}

class ClamavMirrorFeed : public SignatureFeed {
 public:
  ClamavMirrorFeed(FeedSettings settings, CvdVerifier verify)
      : settings_(std::move(settings)), verify_(std::move(verify)) {
    while (!settings_.url.empty() && settings_.url.back() == '/') settings_.url.pop_back();
  }

  const std::string& name() const override { return settings_.name; }
  const std::string& url() const override { return settings_.url; }

  absl::StatusOr<FeedCheck> Check(Fetcher& fetcher, const SignatureStore& store,
                                  const UpdaterSettings& s,
                                  const std::atomic<bool>* cancel) override {
    const std::string set_dir = store.StagingPath(absl::StrCat(settings_.name, ".set"));
    std::error_code ec;
    fs::remove_all(set_dir, ec);  // an earlier check's leftovers
    fs::create_directories(set_dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("stage: ", set_dir, ": ", ec.message()));
    fs::permissions(set_dir, fs::perms::owner_all, ec);
    absl::StatusOr<FeedCheck> check = Stage(fetcher, store, s, cancel, set_dir);
    if (!check.ok() || check->not_modified) fs::remove_all(set_dir, ec);
    return check;
  }

  void Settle() override { settled_ = pending_; }

 private:
  struct Validators {
    std::string etag, last_modified;
  };

  absl::StatusOr<FeedCheck> Stage(Fetcher& fetcher, const SignatureStore& store,
                                  const UpdaterSettings& s, const std::atomic<bool>* cancel,
                                  const std::string& set_dir) {
    const std::optional<BundleVersion> current = store.Pointer();
    const std::string current_dir = current.has_value() ? store.SetDir(*current) : "";
    FeedCheck check;
    pending_ = settled_;
    bool any_new = false;
    Manifest manifest;
    manifest.min_kensa_version = KensaVersion();
    std::vector<std::string> described;
    int64_t newest_build = 0;
    for (const std::string& db : settings_.databases) {
      const std::string file = absl::StrCat(db, ".cvd");
      const std::string dest = absl::StrCat(set_dir, "/", file);
      const std::string kept = current_dir.empty() ? "" : absl::StrCat(current_dir, "/", file);
      FetchRequest req;
      req.url = absl::StrCat(settings_.url, "/", file);
      req.dest_path = dest;
      if (auto it = settled_.find(db); it != settled_.end() && !kept.empty() && fs::exists(kept)) {
        req.etag = it->second.etag;
        req.last_modified = it->second.last_modified;
      }
      if (check.download_bytes >= s.max_download_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "download: ", req.url, ": the set exceeds max_download_bytes (", s.max_download_bytes,
            ")"));
      }
      req.max_bytes = s.max_download_bytes - check.download_bytes;
      req.connect_timeout = s.connect_timeout;
      req.transfer_timeout = s.transfer_timeout;
      req.cancel = cancel;
      absl::StatusOr<FetchResult> got = fetcher.Fetch(req);
      if (!got.ok()) return WithStage(absl::StrCat("download: ", req.url), got.status());
      if (got->not_modified) {
        std::error_code ec;
        fs::copy_file(kept, dest, ec);
        if (ec) return absl::InternalError(absl::StrCat("stage: ", dest, ": ", ec.message()));
        if (absl::Status f = Fsync(dest, O_RDONLY); !f.ok()) return WithStage("stage", f);
      } else {
        any_new = true;
        check.download_bytes += got->bytes;
        pending_[db] = Validators{got->etag, got->last_modified};
      }
      absl::StatusOr<CvdHeader> head = ReadCvdHeader(dest);
      if (!head.ok()) return WithStage(absl::StrCat("verify: ", file), head.status());
      if (absl::Status v = verify_(dest); !v.ok()) {
        return WithStage(absl::StrCat("verify: ", file), v);
      }
      if (!kept.empty() && fs::exists(kept)) {
        absl::StatusOr<CvdHeader> running = ReadCvdHeader(kept);
        if (running.ok() && head->version < running->version) {
          return absl::FailedPreconditionError(
              absl::StrCat("replay: ", file, " version ", head->version,
                           " is older than the running ", running->version));
        }
      }
      absl::StatusOr<std::string> sha = FileSha256(dest);
      if (!sha.ok()) return WithStage("stage", sha.status());
      manifest.files.push_back(
          {file, static_cast<uint64_t>(fs::file_size(dest)), *sha, head->signatures});
      manifest.version.parts.push_back(head->version);
      described.push_back(absl::StrCat(db, "-", head->version));
      newest_build = std::max(newest_build, head->build_time);
    }
    if (!any_new) {
      check.not_modified = true;
      return check;
    }
    std::sort(manifest.files.begin(), manifest.files.end(),
              [](const ManifestFile& a, const ManifestFile& b) { return a.name < b.name; });
    manifest.totals = ComputeTotals(manifest.files);
    manifest.created = FormatCreationTime(newest_build > 0 ? absl::FromUnixSeconds(newest_build)
                                                           : absl::Now());
    if (absl::Status w = SignatureStore::WriteSetManifest(set_dir, manifest); !w.ok()) {
      return WithStage("stage", w);
    }
    if (absl::Status f = Fsync(set_dir, O_RDONLY | O_DIRECTORY); !f.ok()) {
      return WithStage("stage", f);
    }
    check.staged = StagedSet{set_dir, std::move(manifest), "clamav",
                             absl::StrJoin(described, "+")};
    return check;
  }

  FeedSettings settings_;
  CvdVerifier verify_;
  // Per database: validators of the last response dealt with for good, sent with the next
  // request; those of the check in progress wait in pending_ until Settle.
  std::map<std::string, Validators> settled_, pending_;
};

}  // namespace

std::unique_ptr<SignatureFeed> MakeClamavMirrorFeed(const FeedSettings& settings,
                                                    CvdVerifier verify) {
  return std::make_unique<ClamavMirrorFeed>(settings, verify ? std::move(verify) : VerifyCvd);
}

}  // namespace kensa::feed
