// SPDX-License-Identifier: GPL-2.0-or-later
// SignatureFeed: one configured source of signature sets. A check fetches what the feed
// serves now and, when it is new, leaves it verified and complete in a staging directory;
// everything after that (the version rules, installing, building, publishing, logging) is the
// updater's and the same for every kind. BundleFeed reads kensa's signed bundles;
// ClamavMirrorFeed reads an ISP's private ClamAV mirror (main/daily/bytecode .cvd).
#ifndef KENSA_FEED_SIGNATURE_FEED_H_
#define KENSA_FEED_SIGNATURE_FEED_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "feed/bundle_version.h"
#include "feed/cvd_file.h"
#include "feed/ed25519_keys.h"
#include "feed/fetcher.h"
#include "feed/manifest.h"
#include "feed/signature_store.h"
#include "feed/updater_settings.h"

namespace kensa::feed {

struct StagedSet {
  std::string dir;        // under the store's staging/, complete and fsync'd; the caller owns it
  Manifest manifest;      // version, creation time, counts (also kept in dir/manifest.toml)
  std::string signed_by;  // the key that verified it ("clamav": libclamav's own CVD key)
  // What the version stands for, when the feed's own spelling differs from the store's
  // ("main-62+daily-27400+bytecode-335" for a ClamAV mirror); logged as `content`.
  std::string content;
};

struct FeedCheck {
  bool not_modified = false;        // the server said 304: nothing new, nothing staged
  std::optional<StagedSet> staged;  // set unless not_modified
  uint64_t download_bytes = 0;
};

class SignatureFeed {
 public:
  virtual ~SignatureFeed() = default;
  virtual const std::string& name() const = 0;
  virtual const std::string& url() const = 0;
  // Fetches and verifies. An error names the stage ("download: HTTP 404", "verify: ...") and
  // leaves nothing in staging/.
  virtual absl::StatusOr<FeedCheck> Check(Fetcher& fetcher, const SignatureStore& store,
                                          const UpdaterSettings& settings,
                                          const std::atomic<bool>* cancel) = 0;
  // The last check's content was dealt with for good (published, already running, or refused
  // for its version): the next check asks the server only for something newer (ETag /
  // If-Modified-Since). Not called after a failure, which the next check retries.
  virtual void Settle() = 0;
};

// A feed of kensa bundles (feed/bundle_reader.h) signed by one of keys.
std::unique_ptr<SignatureFeed> MakeBundleFeed(const FeedSettings& settings, TrustedKeys keys);

// A feed of ClamAV CVDs at <url>/<database>.cvd, each checked with verify (null: VerifyCvd,
// libclamav's cl_cvdverify).
std::unique_ptr<SignatureFeed> MakeClamavMirrorFeed(const FeedSettings& settings,
                                                    CvdVerifier verify = nullptr);

// Loads the feed's public keys; an error names the feed and the file.
absl::StatusOr<TrustedKeys> LoadFeedKeys(const FeedSettings& settings);

}  // namespace kensa::feed

#endif  // KENSA_FEED_SIGNATURE_FEED_H_
