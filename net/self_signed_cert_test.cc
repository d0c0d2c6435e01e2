// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/self_signed_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/tls_context.h"

namespace kensa::net {
namespace {

using ::testing::HasSubstr;

class SelfSignedCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/kensa_cert_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Slurp(const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

TEST_F(SelfSignedCertTest, CreatesParentDirsKeyModeAndUsableCertificate) {
  const std::string cert = dir_ + "/a/b/tls/cert.pem";
  const std::string key = dir_ + "/a/b/tls/key.pem";
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, key, "mx.example.org").ok());

  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(cert.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // public, but not writable by others
  // No temp files left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_ + "/a/b/tls")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2);

  FILE* f = fopen(cert.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "mx.example.org");
  EXPECT_EQ(X509_check_host(x, "mx.example.org", 0, 0, nullptr), 1);  // via the DNS SAN
  EXPECT_EQ(X509_check_host(x, "other.example.org", 0, 0, nullptr), 0);
  EVP_PKEY* pub = X509_get0_pubkey(x);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  EXPECT_EQ(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
  // Valid now, and for about ten years.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
  time_t nine_years = time(nullptr) + 9L * 365 * 86400;
  time_t eleven_years = time(nullptr) + 11L * 365 * 86400;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(x), &nine_years), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(x), &eleven_years), 0);
  EXPECT_EQ(X509_check_ca(x), 0);  // a leaf
  X509_free(x);

  // The pair works for a server context (key matches).
  TlsServerOptions o;
  o.cert_file = cert;
  o.key_file = key;
  EXPECT_TRUE(TlsContext::CreateServer(o).ok());
}

TEST_F(SelfSignedCertTest, SecondCallLeavesFilesUnchanged) {
  const std::string cert = dir_ + "/cert.pem";
  const std::string key = dir_ + "/key.pem";
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, key, "mx.example.org").ok());
  const std::string c1 = Slurp(cert), k1 = Slurp(key);
  struct stat s1, s2;
  ASSERT_EQ(stat(cert.c_str(), &s1), 0);
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, key, "other.example.org").ok());
  ASSERT_EQ(stat(cert.c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  EXPECT_EQ(Slurp(cert), c1);
  EXPECT_EQ(Slurp(key), k1);
}

TEST_F(SelfSignedCertTest, ExistingCertificateIsNotTouchedEvenWithoutKey) {
  const std::string cert = dir_ + "/cert.pem";
  std::ofstream(cert) << "operator's certificate";
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, dir_ + "/key.pem", "mx.example.org").ok());
  EXPECT_EQ(Slurp(cert), "operator's certificate");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/key.pem"));
}

TEST_F(SelfSignedCertTest, KeyLeftByAnInterruptedRunIsReused) {
  const std::string cert = dir_ + "/cert.pem";
  const std::string key = dir_ + "/key.pem";
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, key, "mx.example.org").ok());
  const std::string k1 = Slurp(key);
  std::filesystem::remove(cert);
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert, key, "mx.example.org").ok());
  EXPECT_EQ(Slurp(key), k1);
  TlsServerOptions o;
  o.cert_file = cert;
  o.key_file = key;
  EXPECT_TRUE(TlsContext::CreateServer(o).ok());
}

TEST_F(SelfSignedCertTest, UnreadableExistingKeyIsAnErrorNamingIt) {
  const std::string key = dir_ + "/key.pem";
  std::ofstream(key) << "-----BEGIN PRIVATE KEY-----\ntrunc";
  absl::Status s = EnsureSelfSignedCertificate(dir_ + "/cert.pem", key, "mx.example.org");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(key));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cert.pem"));
}

TEST_F(SelfSignedCertTest, UnwritableDirectoryIsAnErrorNamingTheFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string ro = dir_ + "/ro";
  std::filesystem::create_directory(ro);
  chmod(ro.c_str(), 0500);
  absl::Status s = EnsureSelfSignedCertificate(ro + "/cert.pem", ro + "/key.pem", "mx");
  chmod(ro.c_str(), 0700);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(ro + "/key.pem"));
}

TEST_F(SelfSignedCertTest, EmptyHostnameIsRejected) {
  EXPECT_FALSE(EnsureSelfSignedCertificate(dir_ + "/c.pem", dir_ + "/k.pem", "").ok());
}

TEST_F(SelfSignedCertTest, MismatchedKeyGivesAClearCreateServerError) {
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir_ + "/a.crt", dir_ + "/a.key", "a.example").ok());
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir_ + "/b.crt", dir_ + "/b.key", "b.example").ok());
  TlsServerOptions o;
  o.cert_file = dir_ + "/a.crt";
  o.key_file = dir_ + "/b.key";
  absl::StatusOr<std::shared_ptr<TlsContext>> ctx = TlsContext::CreateServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr(dir_ + "/b.key"));
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("does not match"));
}

TEST_F(SelfSignedCertTest, MismatchedKeyTypeGivesAClearCreateServerError) {
  ASSERT_TRUE(EnsureSelfSignedCertificate(dir_ + "/a.crt", dir_ + "/a.key", "a.example").ok());
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr);
  FILE* f = fopen((dir_ + "/rsa.key").c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  EVP_PKEY_free(rsa);
  TlsServerOptions o;
  o.cert_file = dir_ + "/a.crt";
  o.key_file = dir_ + "/rsa.key";
  absl::StatusOr<std::shared_ptr<TlsContext>> ctx = TlsContext::CreateServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("does not match"));
}

TEST_F(SelfSignedCertTest, CreateServerErrorsNameTheFile) {
  TlsServerOptions o;
  o.cert_file = dir_ + "/missing.crt";
  o.key_file = dir_ + "/missing.key";
  absl::StatusOr<std::shared_ptr<TlsContext>> ctx = TlsContext::CreateServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr(o.cert_file));

  ASSERT_TRUE(EnsureSelfSignedCertificate(dir_ + "/a.crt", dir_ + "/a.key", "a.example").ok());
  o.cert_file = dir_ + "/a.crt";
  ctx = TlsContext::CreateServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr(o.key_file));

  o.key_file = dir_ + "/a.key";
  o.min_version = "SSLv3";
  ctx = TlsContext::CreateServer(o);
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("SSLv3"));
}

}  // namespace
}  // namespace kensa::net
