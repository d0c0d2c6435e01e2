// SPDX-License-Identifier: GPL-2.0-or-later
// One pass over the archive with libarchive, restricted to the tar formats and the gzip
// filter (nothing else is enabled, so no other parser ever sees feed bytes). Members are read
// in kChunkBytes pieces into SHA-256 and the sink; only manifest.toml and manifest.sig are
// kept in memory, each under its limit.
#include "feed/bundle_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "feed/staging_writer.h"

namespace kensa::feed {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

absl::Status Bad(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("bundle ", path, ": ", what));
}

// What kind of thing a member is, for the refusal of anything but a regular file.
absl::string_view EntryKind(archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) return "a hard link";
  if (archive_entry_symlink(e) != nullptr) return "a symbolic link";
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return "a regular file";
    case AE_IFDIR:
      return "a directory";
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "not a regular file";
  }
}

class Reader {
 public:
  Reader(std::string path, const BundleLimits& limits) : path_(std::move(path)), limits_(limits) {}
  ~Reader() {
    archive_.reset();
    if (fd_ >= 0) close(fd_);
  }

  // trusted == nullptr: the signature is not checked (tools only). head_only: stop after the
  // head. sink may be nullptr (hash only).
  absl::StatusOr<VerifiedManifest> Run(const TrustedKeys* trusted, bool head_only, MemberSink* sink,
                                       BundleHead* head_out) {
    if (absl::Status s = Open(); !s.ok()) return s;
    BundleHead head;
    archive_entry* entry = nullptr;
    absl::StatusOr<bool> more = Next(&entry);
    if (!more.ok()) return more.status();
    if (!*more) return Bad(path_, "empty archive (no manifest.toml)");
    if (absl::Status s = CheckRegular(entry); !s.ok()) return s;
    if (Name(entry) != kManifestName) {
      return Bad(path_,
                 absl::StrCat("the first member must be manifest.toml, not ", Quoted(Name(entry))));
    }
    absl::StatusOr<std::string> text =
        ReadSmall(entry, limits_.max_manifest_bytes, "max_manifest_bytes");
    if (!text.ok()) return text.status();
    head.manifest_text = *std::move(text);

    more = Next(&entry);
    if (!more.ok()) return more.status();
    bool pending = *more;  // an entry read but not yet handled
    if (pending && Name(entry) == kSignatureName) {
      if (absl::Status s = CheckRegular(entry); !s.ok()) return s;
      absl::StatusOr<std::string> sig_text =
          ReadSmall(entry, kMaxSignatureFileBytes, "the signature file's limit");
      if (!sig_text.ok()) return sig_text.status();
      absl::StatusOr<std::string> sig = DecodeSignatureFile(*sig_text);
      if (!sig.ok()) return Bad(path_, sig.status().message());
      head.signature = *std::move(sig);
      pending = false;
    }

    VerifiedManifest out;
    if (trusted != nullptr) {
      absl::StatusOr<std::string> key_id = CheckSignature(head, *trusted);
      if (!key_id.ok()) return key_id.status();
      out.key_id = *std::move(key_id);
    }
    if (head_only) {
      if (head_out != nullptr) *head_out = std::move(head);
      return out;
    }
    // Only now, signed (or explicitly unchecked), is the manifest read at all.
    absl::StatusOr<Manifest> manifest = ParseManifest(head.manifest_text);
    if (!manifest.ok()) return Bad(path_, manifest.status().message());
    if (absl::Status s = CheckManifestLimits(*manifest, trusted != nullptr); !s.ok()) return s;
    if (sink != nullptr) {
      if (absl::Status s = sink->Start(head, *manifest); !s.ok()) return s;
    }

    std::set<std::string> seen;
    for (;;) {
      if (!pending) {
        more = Next(&entry);
        if (!more.ok()) return more.status();
        if (!*more) break;
      }
      pending = false;
      absl::Status s = ReadMember(entry, *manifest, seen, sink);
      if (!s.ok()) return s;
    }
    std::vector<std::string> missing;
    for (const ManifestFile& f : manifest->files) {
      if (!seen.contains(f.name)) missing.push_back(f.name);
    }
    if (!missing.empty()) {
      return Bad(path_, absl::StrCat("missing member(s) the manifest lists: ",
                                     absl::StrJoin(missing, ", ")));
    }
    if (head_out != nullptr) *head_out = std::move(head);
    out.manifest = *std::move(manifest);
    return out;
  }

 private:
  absl::Status Open() {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::NotFoundError(absl::StrCat("bundle ", path_, ": ", std::strerror(errno)));
    }
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
      return absl::InternalError(absl::StrCat("bundle ", path_, ": ", std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode)) return Bad(path_, "not a regular file");
    if (static_cast<uint64_t>(st.st_size) > limits_.max_bundle_bytes) {
      return Bad(path_, absl::StrCat("the archive is ", st.st_size,
                                     " bytes, over max_bundle_bytes ", limits_.max_bundle_bytes));
    }
    archive_.reset(archive_read_new());
    if (archive_ == nullptr) return absl::ResourceExhaustedError("archive_read_new");
    archive* a = archive_.get();
    if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK) {
      return absl::InternalError(absl::StrCat("libarchive: ", archive_error_string(a)));
    }
    if (archive_read_open_fd(a, fd_, kChunkBytes) != ARCHIVE_OK) {
      return Bad(path_, absl::StrCat("not a readable tar or tar.gz archive: ", ArchiveError()));
    }
    return absl::OkStatus();
  }

  std::string ArchiveError() {
    const char* e = archive_error_string(archive_.get());
    return e != nullptr ? e : "unknown libarchive error";
  }

  // false at the archive's end. Warnings are errors: a bundle has nothing to be lenient about.
  absl::StatusOr<bool> Next(archive_entry** entry) {
    const int r = archive_read_next_header(archive_.get(), entry);
    if (r == ARCHIVE_EOF) return false;
    if (r != ARCHIVE_OK) {
      return Bad(path_, absl::StrCat("truncated or corrupt archive: ", ArchiveError()));
    }
    if (archive_entry_pathname(*entry) == nullptr) return Bad(path_, "a member without a name");
    return true;
  }

  static std::string Name(archive_entry* e) {
    const char* n = archive_entry_pathname(e);
    return n != nullptr ? n : "";
  }

  absl::Status CheckRegular(archive_entry* e) {
    const absl::string_view kind = EntryKind(e);
    if (kind != "a regular file") {
      return Bad(path_, absl::StrCat("member ", Quoted(Name(e)), " is ", kind,
                                     "; a bundle holds regular files only"));
    }
    if (archive_entry_sparse_count(e) > 0) {
      return Bad(path_, absl::StrCat("member ", Quoted(Name(e)), " is a sparse file"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadSmall(archive_entry* e, uint64_t limit,
                                        absl::string_view limit_name) {
    const std::string name = Name(e);
    auto over = [&] {
      return Bad(path_, absl::StrCat(name, " is over ", limit_name, " (", limit, " bytes)"));
    };
    if (archive_entry_size_is_set(e) && static_cast<uint64_t>(archive_entry_size(e)) > limit) {
      return over();
    }
    std::string out;
    std::array<char, kChunkBytes> buf;
    for (;;) {
      const la_ssize_t n = archive_read_data(archive_.get(), buf.data(), buf.size());
      if (n < 0) {
        return Bad(path_,
                   absl::StrCat("truncated or corrupt archive in ", name, ": ", ArchiveError()));
      }
      if (n == 0) break;
      if (out.size() + static_cast<size_t>(n) > limit) return over();
      out.append(buf.data(), static_cast<size_t>(n));
    }
    return out;
  }

  absl::StatusOr<std::string> CheckSignature(const BundleHead& head, const TrustedKeys& trusted) {
    if (!head.signature.has_value()) {
      return Bad(path_, "unsigned bundle (no manifest.sig after manifest.toml)");
    }
    if (trusted.empty()) return Bad(path_, "no trusted public key to verify it with");
    for (const Ed25519Key& key : trusted) {
      if (key.Verify(head.manifest_text, *head.signature)) return key.id();
    }
    std::vector<std::string> ids;
    for (const Ed25519Key& key : trusted) ids.push_back(key.id());
    return Bad(path_, absl::StrCat("manifest signature does not verify with any trusted key (",
                                   absl::StrJoin(ids, ", "), ")"));
  }

  absl::Status CheckManifestLimits(const Manifest& m, bool for_loading) {
    if (m.files.size() > limits_.max_files) {
      return Bad(path_, absl::StrCat("the manifest lists ", m.files.size(),
                                     " files, over max_files ", limits_.max_files));
    }
    if (m.TotalBytes() > limits_.max_unpacked_bytes) {
      return Bad(path_,
                 absl::StrCat("the manifest's files are ", m.TotalBytes(),
                              " bytes, over max_unpacked_bytes ", limits_.max_unpacked_bytes));
    }
    if (for_loading && m.min_kensa_version > KensaVersion()) {
      return Bad(path_, absl::StrCat("needs kensa ", m.min_kensa_version.ToString(),
                                     " or newer; this is ", KensaVersion().ToString()));
    }
    return absl::OkStatus();
  }

  absl::Status ReadMember(archive_entry* e, const Manifest& m, std::set<std::string>& seen,
                          MemberSink* sink) {
    const std::string name = Name(e);
    if (name == kManifestName || name == kSignatureName) {
      return Bad(path_, absl::StrCat("member ", Quoted(name), " appears out of place or twice"));
    }
    if (absl::Status s = ValidateDatabaseFileName(name); !s.ok()) {
      return Bad(path_, absl::StrCat("member name refused: ", s.message()));
    }
    if (absl::Status s = CheckRegular(e); !s.ok()) return s;
    const ManifestFile* f = m.Find(name);
    if (f == nullptr) {
      return Bad(path_, absl::StrCat("member ", Quoted(name), " is not in the manifest"));
    }
    if (!seen.insert(name).second) {
      return Bad(path_, absl::StrCat("member ", Quoted(name), " appears twice"));
    }
    if (archive_entry_size_is_set(e) && static_cast<uint64_t>(archive_entry_size(e)) != f->size) {
      return Bad(path_, absl::StrCat(name, " is ", archive_entry_size(e),
                                     " bytes; the manifest says ", f->size));
    }
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
      return absl::InternalError("EVP_DigestInit_ex(sha256)");
    }
    if (sink != nullptr) {
      if (absl::Status s = sink->Begin(*f); !s.ok()) return s;
    }
    uint64_t total = 0;
    std::vector<char> buf(kChunkBytes);
    for (;;) {
      const la_ssize_t n = archive_read_data(archive_.get(), buf.data(), buf.size());
      if (n < 0) {
        return Bad(path_,
                   absl::StrCat("truncated or corrupt archive in ", name, ": ", ArchiveError()));
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > f->size) {
        return Bad(path_, absl::StrCat(name, " is longer than the manifest's ", f->size, " bytes"));
      }
      if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
        return absl::InternalError("EVP_DigestUpdate");
      }
      if (sink != nullptr) {
        if (absl::Status s = sink->Write(std::string_view(buf.data(), static_cast<size_t>(n)));
            !s.ok()) {
          return s;
        }
      }
    }
    if (total != f->size) {
      return Bad(path_, absl::StrCat(name, " is ", total, " bytes; the manifest says ", f->size));
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &digest_len) != 1) {
      return absl::InternalError("EVP_DigestFinal_ex");
    }
    const std::string hex = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest.data()), digest_len));
    if (hex != f->sha256) {
      return Bad(path_,
                 absl::StrCat(name, " has SHA-256 ", hex, "; the manifest says ", f->sha256));
    }
    if (sink != nullptr) return sink->Finish(*f);
    return absl::OkStatus();
  }

  std::string path_;
  BundleLimits limits_;
  int fd_ = -1;
  std::unique_ptr<archive, ArchiveFree> archive_;
};

}  // namespace

std::string EncodeSignatureFile(std::string_view signature) {
  return absl::StrCat(absl::Base64Escape(absl::string_view(signature.data(), signature.size())),
                      "\n");
}

absl::StatusOr<std::string> DecodeSignatureFile(std::string_view text) {
  absl::string_view line(text.data(), text.size());
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string raw;
  // Re-encoding rejects every other spelling (missing padding, whitespace, URL alphabet).
  if (!absl::Base64Unescape(line, &raw) || raw.size() != kEd25519SignatureBytes ||
      absl::Base64Escape(raw) != line) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest.sig is not one line of base64 holding a ", kEd25519SignatureBytes,
                     "-byte Ed25519 signature"));
  }
  return raw;
}

absl::StatusOr<VerifiedManifest> VerifyBundle(const std::string& path, const TrustedKeys& keys,
                                              const BundleLimits& limits) {
  Reader reader(path, limits);
  return reader.Run(&keys, /*head_only=*/false, /*sink=*/nullptr, /*head_out=*/nullptr);
}

absl::StatusOr<VerifiedManifest> ExtractBundle(const std::string& path, const TrustedKeys& keys,
                                               const std::string& staging_dir,
                                               const BundleLimits& limits) {
  absl::StatusOr<std::unique_ptr<StagingWriter>> writer = StagingWriter::Open(staging_dir);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<VerifiedManifest> m = [&]() -> absl::StatusOr<VerifiedManifest> {
    Reader reader(path, limits);
    return reader.Run(&keys, /*head_only=*/false, writer->get(), nullptr);
  }();
  if (m.ok()) {
    if (absl::Status s = (*writer)->Commit(); !s.ok()) m = s;
  }
  if (!m.ok()) (*writer)->RemoveAll();
  return m;
}

absl::StatusOr<BundleHead> ReadBundleHead(const std::string& path, const BundleLimits& limits) {
  Reader reader(path, limits);
  BundleHead head;
  absl::StatusOr<VerifiedManifest> r = reader.Run(nullptr, /*head_only=*/true, nullptr, &head);
  if (!r.ok()) return r.status();
  return head;
}

absl::StatusOr<Manifest> ReadUnverifiedBundle(const std::string& path, MemberSink& sink,
                                              const BundleLimits& limits) {
  Reader reader(path, limits);
  absl::StatusOr<VerifiedManifest> r = reader.Run(nullptr, /*head_only=*/false, &sink, nullptr);
  if (!r.ok()) return r.status();
  return std::move(r->manifest);
}

absl::StatusOr<Manifest> ExtractUnverifiedBundle(const std::string& path, const std::string& dir,
                                                 const BundleLimits& limits) {
  absl::StatusOr<std::unique_ptr<StagingWriter>> writer = StagingWriter::Open(dir);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<Manifest> m = ReadUnverifiedBundle(path, **writer, limits);
  if (m.ok()) {
    if (absl::Status s = (*writer)->Commit(); !s.ok()) m = s;
  }
  if (!m.ok()) (*writer)->RemoveAll();
  return m;
}

}  // namespace kensa::feed
