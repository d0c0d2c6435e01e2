// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/self_signed_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "net/openssl_errors.h"

namespace kensa::net {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::Status ErrnoError(const std::string& what, const std::string& file) {
  return absl::InternalError(absl::StrCat(what, " ", file, ": ", strerror(errno)));
}

absl::Status MakeParentDirs(const std::string& file) {
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create directory ", parent.string(), " for ", file, ": ",
                     ec.message()));
  }
  return absl::OkStatus();
}

void SyncParentDir(const std::string& file) {
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (parent.empty()) parent = ".";
  int dfd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
}

// Writes `file` atomically: a fresh temp file next to it (mkstemp: O_CREAT|O_EXCL, mode
// 0600, so the key is never readable by others, not even briefly, and a planted symlink is
// not followed), fsync, rename. A crash leaves either no file or a whole one, never a
// truncated PEM that the next start would trip over.
absl::Status WriteAtomically(const std::string& file, mode_t mode,
                             const std::function<bool(BIO*)>& write) {
  std::string tmp = file + ".tmpXXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return ErrnoError("cannot create temporary file for", file);
  bool ok = fchmod(fd, mode) == 0;
  if (!ok) {
    absl::Status s = ErrnoError("cannot chmod", tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  BIO* bio = BIO_new_fd(fd, BIO_NOCLOSE);
  ok = bio != nullptr && write(bio) && BIO_flush(bio) == 1;
  BIO_free(bio);
  if (!ok) {
    close(fd);
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", file, ": ", DescribeOpenSslFailure()));
  }
  if (fsync(fd) != 0) {
    absl::Status s = ErrnoError("cannot fsync", tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  if (close(fd) != 0) {
    absl::Status s = ErrnoError("cannot close", tmp);
    unlink(tmp.c_str());
    return s;
  }
  if (rename(tmp.c_str(), file.c_str()) != 0) {
    absl::Status s = ErrnoError("cannot rename temporary file to", file);
    unlink(tmp.c_str());
    return s;
  }
  SyncParentDir(file);
  return absl::OkStatus();
}

// An existing key without a certificate is what a crash between the two renames leaves
// (or an operator-supplied key): reuse it rather than fail every start from then on.
absl::StatusOr<PkeyPtr> LoadOrCreateKey(const std::string& key_file, bool* created) {
  *created = false;
  struct stat st;
  if (stat(key_file.c_str(), &st) == 0) {
    BIO* b = BIO_new_file(key_file.c_str(), "r");
    EVP_PKEY* k = b != nullptr ? PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(b);
    if (k == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TLS key ", key_file, " exists but cannot be read as a PEM private key: ",
          DescribeOpenSslFailure()));
    }
    return PkeyPtr(k);
  }
  if (errno != ENOENT) return ErrnoError("cannot stat", key_file);
  PkeyPtr k(EVP_EC_gen("P-256"));
  if (k == nullptr) {
    return absl::InternalError("cannot generate an EC P-256 key: " + DescribeOpenSslFailure());
  }
  if (absl::Status s = MakeParentDirs(key_file); !s.ok()) return s;
  absl::Status s = WriteAtomically(key_file, 0600, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, k.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!s.ok()) return s;
  *created = true;
  return k;
}

absl::StatusOr<X509Ptr> BuildCertificate(EVP_PKEY* key, const std::string& hostname) {
  auto fail = [](const std::string& what) {
    return absl::InternalError(absl::StrCat("cannot build certificate (", what, "): ",
                                            DescribeOpenSslFailure()));
  };
  X509Ptr x(X509_new());
  if (x == nullptr || X509_set_version(x.get(), X509_VERSION_3) != 1) return fail("version");

  // A random positive serial (RFC 5280: at most 20 octets): browsers and some MTAs reject
  // reuse of issuer+serial, and every installation is its own issuer.
  BIGNUM* bn = BN_new();
  bool ok = bn != nullptr && BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get())) != nullptr;
  BN_free(bn);
  if (!ok) return fail("serial");

  // An hour of slack for clients whose clocks run behind.
  if (X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(x.get()), 3650, 0, nullptr) == nullptr) {
    return fail("validity");
  }

  // CN is limited to 64 characters; the SAN is what clients match anyway.
  std::string cn = hostname.size() <= 64 ? hostname : hostname.substr(0, 64);
  X509_NAME* name = X509_get_subject_name(x.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1 ||
      X509_set_issuer_name(x.get(), name) != 1) {
    return fail("name");
  }
  if (X509_set_pubkey(x.get(), key) != 1) return fail("public key");

  // subjectAltName built as a structure, not a config string, so no hostname character
  // can inject another entry.
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* gn = GENERAL_NAME_new();
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  ok = names != nullptr && gn != nullptr && ia5 != nullptr &&
       ASN1_STRING_set(ia5, hostname.data(), static_cast<int>(hostname.size())) == 1;
  if (ok) {
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    ia5 = nullptr;
    ok = sk_GENERAL_NAME_push(names, gn) > 0;
    if (ok) gn = nullptr;
  }
  unsigned char ip[16];
  int iplen = inet_pton(AF_INET, hostname.c_str(), ip) == 1    ? 4
              : inet_pton(AF_INET6, hostname.c_str(), ip) == 1 ? 16
                                                               : 0;
  if (ok && iplen > 0) {
    GENERAL_NAME* ipn = GENERAL_NAME_new();
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    ok = ipn != nullptr && os != nullptr && ASN1_OCTET_STRING_set(os, ip, iplen) == 1;
    if (ok) {
      GENERAL_NAME_set0_value(ipn, GEN_IPADD, os);
      ok = sk_GENERAL_NAME_push(names, ipn) > 0;
      if (!ok) GENERAL_NAME_free(ipn);
    } else {
      GENERAL_NAME_free(ipn);
      ASN1_OCTET_STRING_free(os);
    }
  }
  if (ok) ok = X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names, 0, 0) == 1;
  ASN1_IA5STRING_free(ia5);
  GENERAL_NAME_free(gn);
  sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
  if (!ok) return fail("subjectAltName");

  // A leaf, not a CA: nobody should be able to chain other certificates to it.
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_ext_key_usage, "serverAuth,clientAuth"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    ok = ext != nullptr && X509_add_ext(x.get(), ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!ok) return fail(OBJ_nid2sn(nid));
  }

  if (X509_sign(x.get(), key, EVP_sha256()) <= 0) return fail("sign");
  return x;
}

}  // namespace

absl::Status EnsureSelfSignedCertificate(const std::string& cert_file,
                                         const std::string& key_file,
                                         const std::string& hostname) {
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError("TLS cert_file and key_file must be set");
  }
  struct stat st;
  if (stat(cert_file.c_str(), &st) == 0) return absl::OkStatus();  // never overwrite
  if (errno != ENOENT) return ErrnoError("cannot stat", cert_file);
  if (hostname.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create ", cert_file, ": hostname is empty"));
  }
  ERR_clear_error();

  bool key_created = false;
  absl::StatusOr<PkeyPtr> key = LoadOrCreateKey(key_file, &key_created);
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert = BuildCertificate(key->get(), hostname);
  if (!cert.ok()) {
    return absl::Status(cert.status().code(),
                        absl::StrCat(cert_file, ": ", cert.status().message()));
  }
  if (absl::Status s = MakeParentDirs(cert_file); !s.ok()) return s;
  // The key goes first: the certificate's existence is what says "done" on the next start.
  absl::Status s = WriteAtomically(cert_file, 0644, [&](BIO* b) {
    return PEM_write_bio_X509(b, cert->get()) == 1;
  });
  ERR_clear_error();
  return s;
}

}  // namespace kensa::net
