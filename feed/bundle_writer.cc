// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/bundle_writer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "feed/archive_writer.h"
#include "feed/database_text.h"
#include "sigs/signature_version.h"

namespace kensa::feed {
namespace {

constexpr size_t kReadChunkBytes = 64 * 1024;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

absl::StatusOr<ManifestFile> DescribeFile(const std::filesystem::path& path) {
  ManifestFile f;
  f.name = path.filename().string();
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("EVP_DigestInit_ex(sha256)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::vector<char> buf(kReadChunkBytes);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    if (EVP_DigestUpdate(ctx.get(), buf.data(), got) != 1) {
      return absl::InternalError("EVP_DigestUpdate");
    }
    f.size += got;
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) {
    return absl::InternalError("EVP_DigestFinal_ex");
  }
  f.sha256 =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), len));
  absl::StatusOr<uint64_t> sigs = CountSignatures(path.string());
  if (!sigs.ok()) return sigs.status();
  f.signatures = *sigs;
  return f;
}

// Copies a bundle's files into a new archive, after writing its head signed with key_.
class SigningSink : public MemberSink {
 public:
  SigningSink(const Ed25519Key& key, const std::string& out) : key_(key), out_(out) {}

  absl::Status Start(const BundleHead& head, const Manifest& manifest) override {
    absl::StatusOr<absl::Time> created = ParseCreationTime(manifest.created);
    if (!created.ok()) return created.status();
    absl::StatusOr<std::unique_ptr<ArchiveWriter>> w =
        ArchiveWriter::Create(out_, absl::ToTimeT(*created));
    if (!w.ok()) return w.status();
    writer_ = *std::move(w);
    absl::StatusOr<std::string> sig = key_.Sign(head.manifest_text);
    if (!sig.ok()) return sig.status();
    if (absl::Status s = writer_->AddFile(kManifestName, head.manifest_text); !s.ok()) return s;
    return writer_->AddFile(kSignatureName, EncodeSignatureFile(*sig));
  }
  absl::Status Begin(const ManifestFile& file) override {
    return writer_->Begin(file.name, file.size);
  }
  absl::Status Write(std::string_view chunk) override { return writer_->Write(chunk); }
  absl::Status Finish(const ManifestFile&) override { return absl::OkStatus(); }
  absl::Status Commit() { return writer_->Commit(); }

 private:
  const Ed25519Key& key_;
  std::string out_;
  std::unique_ptr<ArchiveWriter> writer_;
};

}  // namespace

absl::StatusOr<Manifest> BuildBundle(const BuildOptions& options, const std::string& out) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options.database_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !sigs::IsDatabaseFileName(name)) continue;
    if (absl::Status s = ValidateDatabaseFileName(name); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.database_dir, ": a bundle cannot hold it: ", s.message()));
    }
    paths.push_back(entry.path());
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat(options.database_dir, ": ", ec.message()));
  }
  if (paths.empty()) {
    return absl::NotFoundError(absl::StrCat("no ClamAV database files in ", options.database_dir));
  }
  std::sort(paths.begin(), paths.end());
  Manifest m;
  m.version = options.version;
  m.min_kensa_version = options.min_kensa_version;
  m.created = FormatCreationTime(options.created);
  for (const std::filesystem::path& p : paths) {
    absl::StatusOr<ManifestFile> f = DescribeFile(p);
    if (!f.ok()) return f.status();
    m.files.push_back(*std::move(f));
  }
  m.totals = ComputeTotals(m.files);
  if (m.files.size() > options.limits.max_files) {
    return absl::InvalidArgumentError(
        absl::StrCat(m.files.size(), " files, over max_files ", options.limits.max_files));
  }
  if (m.TotalBytes() > options.limits.max_unpacked_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(m.TotalBytes(),
                                                   " bytes of databases, over max_unpacked_bytes ",
                                                   options.limits.max_unpacked_bytes));
  }
  const std::string text = FormatManifest(m);
  absl::StatusOr<absl::Time> created = ParseCreationTime(m.created);
  if (!created.ok()) return created.status();
  absl::StatusOr<std::unique_ptr<ArchiveWriter>> w =
      ArchiveWriter::Create(out, absl::ToTimeT(*created));
  if (!w.ok()) return w.status();
  if (absl::Status s = (*w)->AddFile(kManifestName, text); !s.ok()) return s;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (absl::Status s = (*w)->AddFileFrom(m.files[i].name, paths[i].string(), m.files[i].size);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = (*w)->Commit(); !s.ok()) return s;
  // A file changed between hashing and copying would make a bundle that never verifies.
  class Discard : public MemberSink {
    absl::Status Begin(const ManifestFile&) override { return absl::OkStatus(); }
    absl::Status Write(std::string_view) override { return absl::OkStatus(); }
    absl::Status Finish(const ManifestFile&) override { return absl::OkStatus(); }
  } discard;
  if (absl::StatusOr<Manifest> back = ReadUnverifiedBundle(out, discard, options.limits);
      !back.ok()) {
    return absl::DataLossError(
        absl::StrCat("the bundle written does not read back: ", back.status().message()));
  }
  return m;
}

absl::StatusOr<Manifest> SignBundle(const std::string& in, const Ed25519Key& key,
                                    const std::string& out, const BundleLimits& limits) {
  if (!key.has_private()) return absl::InvalidArgumentError("signing needs a private key");
  SigningSink sink(key, out);
  absl::StatusOr<Manifest> m = ReadUnverifiedBundle(in, sink, limits);
  if (!m.ok()) return m.status();
  if (absl::Status s = sink.Commit(); !s.ok()) return s;
  return m;
}

}  // namespace kensa::feed
