// SPDX-License-Identifier: GPL-2.0-or-later
// BundleFeed: a feed of kensa's signed bundles. The bundle is downloaded whole into staging/
// (fsync'd, renamed), then ExtractBundle checks the signature against the feed's keys and
// every file against the manifest while it writes them into a staging set directory; the
// download is removed either way.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "feed/bundle_reader.h"
#include "feed/signature_feed.h"

namespace kensa::feed {
namespace {

class BundleFeed : public SignatureFeed {
 public:
  BundleFeed(FeedSettings settings, TrustedKeys keys)
      : settings_(std::move(settings)), keys_(std::move(keys)) {}

  const std::string& name() const override { return settings_.name; }
  const std::string& url() const override { return settings_.url; }

  absl::StatusOr<FeedCheck> Check(Fetcher& fetcher, const SignatureStore& store,
                                  const UpdaterSettings& s,
                                  const std::atomic<bool>* cancel) override {
    const std::string download = store.StagingPath(absl::StrCat(settings_.name, ".download"));
    const std::string set_dir = store.StagingPath(absl::StrCat(settings_.name, ".set"));
    std::error_code ec;
    std::filesystem::remove_all(set_dir, ec);  // an earlier check's leftovers
    FetchRequest req;
    req.url = settings_.url;
    req.dest_path = download;
    req.etag = settled_etag_;
    req.last_modified = settled_last_modified_;
    req.max_bytes = s.max_download_bytes;
    req.connect_timeout = s.connect_timeout;
    req.transfer_timeout = s.transfer_timeout;
    req.cancel = cancel;
    absl::StatusOr<FetchResult> got = fetcher.Fetch(req);
    if (!got.ok()) {
      return absl::Status(got.status().code(), absl::StrCat("download: ", got.status().message()));
    }
    FeedCheck check;
    if (got->not_modified) {
      check.not_modified = true;
      return check;
    }
    check.download_bytes = got->bytes;
    pending_etag_ = got->etag;
    pending_last_modified_ = got->last_modified;
    BundleLimits limits;
    limits.max_bundle_bytes = s.max_download_bytes;
    absl::StatusOr<VerifiedManifest> verified = ExtractBundle(download, keys_, set_dir, limits);
    std::filesystem::remove(download, ec);
    if (!verified.ok()) {
      return absl::Status(verified.status().code(),
                          absl::StrCat("verify: ", verified.status().message()));
    }
    if (absl::Status w = SignatureStore::WriteSetManifest(set_dir, verified->manifest); !w.ok()) {
      std::filesystem::remove_all(set_dir, ec);
      return absl::Status(w.code(), absl::StrCat("stage: ", w.message()));
    }
    check.staged = StagedSet{set_dir, std::move(verified->manifest), verified->key_id, ""};
    return check;
  }

  void Settle() override {
    settled_etag_ = pending_etag_;
    settled_last_modified_ = pending_last_modified_;
  }

 private:
  FeedSettings settings_;
  TrustedKeys keys_;
  // Validators of the last response dealt with for good, sent with the next request; those
  // of the response being checked wait in pending_ until Settle.
  std::string settled_etag_, settled_last_modified_;
  std::string pending_etag_, pending_last_modified_;
};

}  // namespace

std::unique_ptr<SignatureFeed> MakeBundleFeed(const FeedSettings& settings, TrustedKeys keys) {
  return std::make_unique<BundleFeed>(settings, std::move(keys));
}

absl::StatusOr<TrustedKeys> LoadFeedKeys(const FeedSettings& settings) {
  TrustedKeys keys;
  for (const std::string& path : settings.public_keys) {
    absl::StatusOr<Ed25519Key> key = Ed25519Key::LoadPublicPem(path);
    if (!key.ok()) {
      return absl::Status(key.status().code(),
                          absl::StrCat("feed \"", settings.name, "\": public key ", path, ": ",
                                       key.status().message()));
    }
    keys.push_back(std::move(*key));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("feed \"", settings.name, "\": no public_keys"));
  }
  return keys;
}

}  // namespace kensa::feed
