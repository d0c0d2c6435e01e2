// SPDX-License-Identifier: GPL-2.0-or-later
// libxcrypt wrappers. struct crypt_data is about 32 KiB, so it lives on the heap per call
// (cheap next to the hash itself) and is wiped afterwards: it held the password.
#include "auth/crypt_hash.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <array>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kensa::auth {
namespace {

// The length of the final, hash part of each accepted scheme's output: a setting alone
// ("$6$salt") passes crypt_checksalt but is no password hash.
struct Scheme {
  const char* prefix;
  size_t hash_chars;
};
constexpr std::array<Scheme, 4> kAcceptedSchemes = {{
    {"$y$", 43}, {"$6$", 86}, {"$5$", 43}, {"$2b$", 53}}};

bool IsCryptBase64(char c) {
  return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

struct CryptScratch {
  crypt_data data{};
  ~CryptScratch() { OPENSSL_cleanse(&data, sizeof data); }
};

}  // namespace

bool IsAcceptedCryptHash(const std::string& hash) {
  const Scheme* scheme = nullptr;
  for (const Scheme& s : kAcceptedSchemes) {
    if (absl::StartsWith(hash, s.prefix)) scheme = &s;
  }
  if (scheme == nullptr) return false;
  size_t last = hash.rfind('$');
  std::string_view tail = std::string_view(hash).substr(last + 1);
  if (last < std::strlen(scheme->prefix) - 1 || tail.size() != scheme->hash_chars) return false;
  for (char c : tail) {
    if (!IsCryptBase64(c)) return false;
  }
  // Legacy (or, in later libcrypt versions, disabled) schemes are refused even when known.
  return crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK;
}

bool CryptMatches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), &scratch->data, sizeof scratch->data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  // libxcrypt returns NULL on failure, or a string starting with '*' from some entry points.
  if (out == nullptr || out[0] == '*') return false;
  size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

absl::StatusOr<std::string> CryptHash(std::string_view password, const std::string& prefix) {
  if (password.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("password contains NUL");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // count 0 and no random bytes: the scheme's default cost and libcrypt's own entropy.
  if (crypt_gensalt_rn(prefix.c_str(), 0, nullptr, 0, setting, sizeof setting) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("libcrypt cannot make a ", prefix, " salt"));
  }
  std::string phrase(password);
  auto scratch = std::make_unique<CryptScratch>();
  const char* out = crypt_rn(phrase.c_str(), setting, &scratch->data, sizeof scratch->data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  if (out == nullptr || out[0] == '*') {
    return absl::InternalError(absl::StrCat("crypt_rn failed for ", prefix));
  }
  return std::string(out);
}

}  // namespace kensa::auth
