// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/ed25519_keys.h"

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include "feed/test_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kensa::feed {
namespace {

using ::kensa::feed::testing::TestDir;
using ::kensa::feed::testing::WriteFile;
using ::testing::HasSubstr;

TEST(Ed25519KeysTest, WrittenKeysLoadAndVerify) {
  TestDir dir;
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->WritePrivatePem(dir / "k.key").ok());
  ASSERT_TRUE(key->WritePublicPem(dir / "k.pub").ok());
  struct stat st {};
  ASSERT_EQ(stat((dir / "k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  absl::StatusOr<Ed25519Key> priv = Ed25519Key::LoadPrivatePem(dir / "k.key");
  absl::StatusOr<Ed25519Key> pub = Ed25519Key::LoadPublicPem(dir / "k.pub");
  ASSERT_TRUE(priv.ok()) << priv.status();
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(priv->id(), key->id());
  EXPECT_EQ(pub->id(), key->id());
  EXPECT_FALSE(pub->has_private());
  absl::StatusOr<std::string> sig = priv->Sign("manifest bytes");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), kEd25519SignatureBytes);
  EXPECT_TRUE(pub->Verify("manifest bytes", *sig));
  EXPECT_FALSE(pub->Verify("manifest bytes.", *sig));
  EXPECT_FALSE(pub->Verify("manifest bytes", sig->substr(1)));
  EXPECT_FALSE(pub->Sign("x").ok());
}

TEST(Ed25519KeysTest, NeverOverwritesAKeyFile) {
  TestDir dir;
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  ASSERT_TRUE(key.ok());
  WriteFile(dir / "k.key", "precious");
  EXPECT_FALSE(key->WritePrivatePem(dir / "k.key").ok());
  EXPECT_EQ(testing::ReadFile(dir / "k.key"), "precious");
}

TEST(Ed25519KeysTest, RefusesOtherKeyTypesAndJunk) {
  TestDir dir;
  EVP_PKEY* rsa = EVP_RSA_gen(1024);
  ASSERT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, rsa);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  WriteFile(dir / "rsa.pub", std::string(data, static_cast<size_t>(n)));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  EXPECT_THAT(Ed25519Key::LoadPublicPem(dir / "rsa.pub").status().message(),
              HasSubstr("not an Ed25519 key"));
  WriteFile(dir / "junk.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  EXPECT_THAT(Ed25519Key::LoadPublicPem(dir / "junk.pub").status().message(),
              HasSubstr("not a PEM public key"));
  EXPECT_FALSE(Ed25519Key::LoadPublicPem(dir / "missing.pub").ok());
}

}  // namespace
}  // namespace kensa::feed
