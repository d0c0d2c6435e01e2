// SPDX-License-Identifier: GPL-2.0-or-later
// DescribeDatabaseDir: lists the database files the way libclamav's directory loader picks
// them, reads the CVD headers of official databases with cl_cvdhead, and digests the rest with
// OpenSSL's SHA-256, streaming (a local database can be hundreds of megabytes).
#include "sigs/signature_version.h"

#include <clamav.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kensa::sigs {
namespace {

// libclamav 1.4's CLI_DBEXT (libclamav/readdb.h), which it matches case-insensitively.
constexpr std::string_view kDatabaseExtensions[] = {
    ".db",  ".hdb", ".hdu", ".fp",   ".mdb",  ".mdu", ".hsb",  ".hsu", ".sfp", ".msb",
    ".msu", ".ndb", ".ndu", ".ldb",  ".ldu",  ".sdb", ".zmd",  ".rmd", ".pdb", ".gdb",
    ".wdb", ".cbc", ".ftm", ".cfg",  ".cvd",  ".cld", ".cud",  ".cdb", ".cat", ".crb",
    ".idb", ".ioc", ".yar", ".yara", ".pwdb", ".ign", ".ign2", ".imp"};
constexpr std::string_view kOfficialExtensions[] = {".cvd", ".cld", ".cud"};
constexpr int kDigestHexDigits = 16;
constexpr size_t kReadChunkBytes = 1 << 20;

bool EndsWithAny(std::string_view name, const auto& extensions) {
  return std::any_of(std::begin(extensions), std::end(extensions), [&](std::string_view ext) {
    return absl::EndsWithIgnoreCase(absl::string_view(name.data(), name.size()),
                                    absl::string_view(ext.data(), ext.size()));
  });
}

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

absl::Status DigestUpdate(EVP_MD_CTX* ctx, const void* data, size_t size) {
  if (EVP_DigestUpdate(ctx, data, size) != 1) return absl::InternalError("EVP_DigestUpdate");
  return absl::OkStatus();
}

// Each field is length-prefixed so that ("ab", "c") and ("a", "bc") digest differently.
absl::Status DigestField(EVP_MD_CTX* ctx, const std::string& field) {
  const uint64_t size = field.size();
  if (absl::Status s = DigestUpdate(ctx, &size, sizeof size); !s.ok()) return s;
  return DigestUpdate(ctx, field.data(), field.size());
}

absl::Status DigestFile(EVP_MD_CTX* ctx, const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("stat ", path.string(), ": ", ec.message()));
  if (absl::Status s = DigestUpdate(ctx, &size, sizeof size); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", path.string()));
  std::vector<char> buffer(kReadChunkBytes);
  uint64_t total = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    if (absl::Status s = DigestUpdate(ctx, buffer.data(), got); !s.ok()) return s;
    total += got;
  }
  if (in.bad() || total != size) {
    return absl::InternalError(absl::StrCat("cannot read ", path.string(), " (it changed?)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DigestFiles(const std::filesystem::path& dir,
                                        const std::vector<std::string>& names) {
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("EVP_DigestInit_ex(sha256)");
  }
  for (const std::string& name : names) {
    if (absl::Status s = DigestField(ctx.get(), name); !s.ok()) return s;
    if (absl::Status s = DigestFile(ctx.get(), dir / name); !s.ok()) return s;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &digest_size) != 1) {
    return absl::InternalError("EVP_DigestFinal_ex");
  }
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest_size));
  return absl::StrCat("sha256-", hex.substr(0, kDigestHexDigits));
}

struct OfficialVersion {
  std::string name;
  unsigned int version = 0;
};

absl::StatusOr<OfficialVersion> ReadCvdVersion(const std::filesystem::path& path) {
  cl_cvd* head = cl_cvdhead(path.c_str());
  if (head == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the CVD header of ", path.string()));
  }
  OfficialVersion v{path.stem().string(), head->version};
  cl_cvdfree(head);
  return v;
}

}  // namespace

bool IsDatabaseFileName(std::string_view name) { return EndsWithAny(name, kDatabaseExtensions); }

absl::StatusOr<DatabaseDirVersion> DescribeDatabaseDir(const std::string& dir) {
  std::vector<std::string> official, local;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !IsDatabaseFileName(name)) continue;
    (EndsWithAny(name, kOfficialExtensions) ? official : local).push_back(name);
  }
  if (ec) return absl::NotFoundError(absl::StrCat("signature directory ", dir, ": ", ec.message()));
  if (official.empty() && local.empty()) {
    return absl::NotFoundError(absl::StrCat("no signature database files in ", dir));
  }

  DatabaseDirVersion out;
  out.files = static_cast<int>(official.size() + local.size());
  if (!official.empty()) {
    OfficialVersion newest;
    for (const std::string& name : official) {
      absl::StatusOr<OfficialVersion> v = ReadCvdVersion(std::filesystem::path(dir) / name);
      if (!v.ok()) return v.status();
      if (v->version > newest.version) newest = *v;
    }
    out.version = absl::StrCat(newest.name, "-", newest.version);
  }
  if (!local.empty()) {
    std::sort(local.begin(), local.end());
    absl::StatusOr<std::string> digest = DigestFiles(dir, local);
    if (!digest.ok()) return digest.status();
    out.version = out.version.empty() ? *digest : absl::StrCat(out.version, "+", *digest);
  }
  return out;
}

}  // namespace kensa::sigs
