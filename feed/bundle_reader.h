// SPDX-License-Identifier: GPL-2.0-or-later
// Reads signature bundles: one tar archive (pax/ustar, optionally gzip-compressed) whose
// members are, in this order, manifest.toml, manifest.sig (the base64 Ed25519 signature of
// manifest.toml's exact bytes, one line) and the database files the manifest lists, each once,
// as plain regular files with plain names. The order lets one pass check the signature before
// anything the manifest says is used, and then check each file against it while it streams.
//
// The reader is strict and bounded: anything else in the archive (a path, a link, a directory,
// a duplicate, a member the manifest does not list, a listed file that is missing, a size or
// SHA-256 that differs, a member over its limit) is an error naming the member, and no member
// is ever held in memory except the manifest and its signature (BundleLimits bounds both).
#ifndef KENSA_FEED_BUNDLE_READER_H_
#define KENSA_FEED_BUNDLE_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "feed/ed25519_keys.h"
#include "feed/manifest.h"

namespace kensa::feed {

// Every limit is checked where the bytes enter, before they are used.
struct BundleLimits {
  uint64_t max_bundle_bytes = uint64_t{1} << 30;    // the archive file as stored (1 GiB)
  uint64_t max_unpacked_bytes = uint64_t{4} << 30;  // the database files together (4 GiB)
  uint64_t max_files = 1024;                        // database files in one bundle
  uint64_t max_manifest_bytes = uint64_t{1} << 20;  // manifest.toml (1 MiB)
};

// manifest.sig holds one line of base64; anything longer is not a signature.
inline constexpr size_t kMaxSignatureFileBytes = 1024;

struct VerifiedManifest {
  Manifest manifest;
  std::string key_id;  // the trusted key whose signature verified (Ed25519Key::id)
};

// Checks the signature against the trusted keys, then every file against the manifest
// (streamed through SHA-256, nothing written), and that this kensa is at least the manifest's
// min_kensa_version. A bundle without manifest.sig is refused as unsigned.
absl::StatusOr<VerifiedManifest> VerifyBundle(const std::string& path, const TrustedKeys& keys,
                                              const BundleLimits& limits = {});

// VerifyBundle, writing the database files into staging_dir as they stream. staging_dir is
// created mode 0700 (its parent fsync'd) or must be an empty directory; each file is fsync'd
// and, after the last, the directory. On any failure every file written is removed again (and
// the directory, if this call created it), so a staging directory never holds a partial set.
absl::StatusOr<VerifiedManifest> ExtractBundle(const std::string& path, const TrustedKeys& keys,
                                               const std::string& staging_dir,
                                               const BundleLimits& limits = {});

// For tools (inspect, sign, diff), never for loading signatures: these do NOT check the
// signature. ReadBundleHead reads manifest.toml and manifest.sig only.
struct BundleHead {
  std::string manifest_text;             // the exact signed bytes
  std::optional<std::string> signature;  // 64 raw bytes; nullopt when the bundle is unsigned
};
absl::StatusOr<BundleHead> ReadBundleHead(const std::string& path, const BundleLimits& limits = {});

// Receives the database files as the reader streams them (signature not checked, sizes and
// hashes are). Finish is called only after a file's size and SHA-256 matched the manifest.
class MemberSink {
 public:
  virtual ~MemberSink() = default;
  virtual absl::Status Start(const BundleHead& head, const Manifest& manifest) {
    return absl::OkStatus();
  }
  virtual absl::Status Begin(const ManifestFile& file) = 0;
  virtual absl::Status Write(std::string_view chunk) = 0;
  virtual absl::Status Finish(const ManifestFile& file) = 0;
};
absl::StatusOr<Manifest> ReadUnverifiedBundle(const std::string& path, MemberSink& sink,
                                              const BundleLimits& limits = {});

// ReadUnverifiedBundle into dir (as ExtractBundle writes): for `kensa-sigtool diff`.
absl::StatusOr<Manifest> ExtractUnverifiedBundle(const std::string& path, const std::string& dir,
                                                 const BundleLimits& limits = {});

// The signature file's bytes for a 64-byte signature, and the strict reverse.
std::string EncodeSignatureFile(std::string_view signature);
absl::StatusOr<std::string> DecodeSignatureFile(std::string_view text);

}  // namespace kensa::feed

#endif  // KENSA_FEED_BUNDLE_READER_H_
