// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/ed25519_keys.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kensa::feed {
namespace {

constexpr size_t kRawPublicKeyBytes = 32;
constexpr size_t kKeyIdHexDigits = 16;
constexpr long kMaxPemBytes = 16 * 1024;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

std::string OpensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      close(fd);
      return absl::InternalError(absl::StrCat(path, ": ", std::strerror(e)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than a PEM key"));
    }
  }
  close(fd);
  return text;
}

// Writes data to a new file (never over an existing one) with mode, fsync'd.
absl::Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::AlreadyExistsError(absl::StrCat(path, ": ", std::strerror(errno)));
  // The mode given to open is masked by the umask; a private key must be 0600 whatever it is.
  bool ok = fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  const int e = errno;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Ed25519Key> Ed25519Key::Adopt(EVP_PKEY* key, bool has_private) {
  Ed25519Key k;
  k.key_.reset(key);
  if (key == nullptr) return absl::InternalError(OpensslError());
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("not an Ed25519 key");
  }
  std::array<unsigned char, kRawPublicKeyBytes> raw{};
  size_t raw_len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &raw_len) != 1 || raw_len != raw.size()) {
    return absl::InternalError(absl::StrCat("raw public key: ", OpensslError()));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(raw.data(), raw.size(), digest.data(), &digest_len, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError(absl::StrCat("key id: ", OpensslError()));
  }
  k.id_ = absl::BytesToHexString(
              absl::string_view(reinterpret_cast<const char*>(digest.data()), digest_len))
              .substr(0, kKeyIdHexDigits);
  k.has_private_ = has_private;
  return k;
}

absl::StatusOr<Ed25519Key> Ed25519Key::Generate() {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return absl::InternalError(absl::StrCat("Ed25519 key generation: ", OpensslError()));
  }
  return Adopt(key, true);
}

absl::StatusOr<Ed25519Key> Ed25519Key::LoadPrivatePem(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path);
  if (!pem.ok()) return pem.status();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PEM private key"));
  }
  absl::StatusOr<Ed25519Key> k = Adopt(key, true);
  if (!k.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", k.status().message()));
  return k;
}

absl::StatusOr<Ed25519Key> Ed25519Key::PublicFromPem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM public key");
  }
  return Adopt(key, false);
}

absl::StatusOr<Ed25519Key> Ed25519Key::LoadPublicPem(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<Ed25519Key> k = PublicFromPem(*pem);
  if (!k.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", k.status().message()));
  return k;
}

absl::StatusOr<std::string> Ed25519Key::PublicPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return absl::InternalError(absl::StrCat("PEM_write_bio_PUBKEY: ", OpensslError()));
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::Status Ed25519Key::WritePrivatePem(const std::string& path) const {
  if (!has_private_) return absl::FailedPreconditionError("a public key has no private part");
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("PEM_write_bio_PrivateKey: ", OpensslError()));
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  const absl::Status s = WriteNewFile(path, std::string_view(data, static_cast<size_t>(n)), 0600);
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return s;
}

absl::Status Ed25519Key::WritePublicPem(const std::string& path) const {
  absl::StatusOr<std::string> pem = PublicPem();
  if (!pem.ok()) return pem.status();
  return WriteNewFile(path, *pem, 0644);
}

absl::StatusOr<std::string> Ed25519Key::Sign(std::string_view message) const {
  if (!has_private_) return absl::FailedPreconditionError("signing needs the private key");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t sig_len = sig.size();
  // Ed25519 is a one-shot signature over the whole message: no digest is named.
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      sig_len != kEd25519SignatureBytes) {
    return absl::InternalError(absl::StrCat("Ed25519 signing: ", OpensslError()));
  }
  return sig;
}

bool Ed25519Key::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace kensa::feed
