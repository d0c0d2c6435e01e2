// SPDX-License-Identifier: GPL-2.0-or-later
// Ed25519 keys for signing bundles, through OpenSSL's EVP interface, stored as PEM: the
// private key as PKCS#8 ("PRIVATE KEY", written mode 0600 and never over an existing file),
// the public key as SubjectPublicKeyInfo ("PUBLIC KEY"), which `openssl pkey` reads too.
// A key of any other type is refused when loaded.
#ifndef KENSA_FEED_ED25519_KEYS_H_
#define KENSA_FEED_ED25519_KEYS_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::feed {

inline constexpr size_t kEd25519SignatureBytes = 64;

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// One Ed25519 key (private or public). id() names it in logs and tool output: the first 16
// hex digits of SHA-256 over the raw 32-byte public key.
class Ed25519Key {
 public:
  static absl::StatusOr<Ed25519Key> Generate();
  static absl::StatusOr<Ed25519Key> LoadPrivatePem(const std::string& path);
  static absl::StatusOr<Ed25519Key> LoadPublicPem(const std::string& path);
  static absl::StatusOr<Ed25519Key> PublicFromPem(std::string_view pem);

  bool has_private() const { return has_private_; }
  const std::string& id() const { return id_; }

  // Writes the private key (mode 0600) and the public key; neither file may exist yet.
  absl::Status WritePrivatePem(const std::string& path) const;
  absl::Status WritePublicPem(const std::string& path) const;
  absl::StatusOr<std::string> PublicPem() const;

  absl::StatusOr<std::string> Sign(std::string_view message) const;  // 64 raw bytes
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  static absl::StatusOr<Ed25519Key> Adopt(EVP_PKEY* key, bool has_private);

  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key_;
  bool has_private_ = false;
  std::string id_;
};

using TrustedKeys = std::vector<Ed25519Key>;

}  // namespace kensa::feed

#endif  // KENSA_FEED_ED25519_KEYS_H_
