// SPDX-License-Identifier: GPL-2.0-or-later
// Test helpers for feed/: raw archives written member by member (so a
// test can make every kind of hostile bundle: links, paths, duplicates, wrong order), and a
// small valid signed bundle whose parts a test can spoil one at a time.
#ifndef KENSA_FEED_TEST_BUNDLE_H_
#define KENSA_FEED_TEST_BUNDLE_H_

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/test_dir.h"
#include "feed/bundle_reader.h"
#include "feed/ed25519_keys.h"
#include "feed/manifest.h"

namespace kensa::feed::testing {

using ::kensa::TestDir;  // core/test_dir.h

inline std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), len));
}

inline void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream(path, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RawMember {
  enum class Type { kFile, kSymlink, kHardlink, kDirectory };
  RawMember(std::string n, std::string d, Type t = Type::kFile, std::string link = "")
      : name(std::move(n)), data(std::move(d)), type(t), link_target(std::move(link)) {}
  std::string name;
  std::string data;
  Type type = Type::kFile;
  std::string link_target;
};

// Writes members as given into a tar archive (gzip'd when gzip), with no checks at all.
inline bool WriteRawArchive(const std::string& path, const std::vector<RawMember>& members,
                            bool gzip = true) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) {
    archive_write_free(a);
    return false;
  }
  bool ok = true;
  for (const RawMember& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, 0644);
    switch (m.type) {
      case RawMember::Type::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
        break;
      case RawMember::Type::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, m.link_target.c_str());
        break;
      case RawMember::Type::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, m.link_target.c_str());
        archive_entry_set_size(e, 0);
        break;
      case RawMember::Type::kDirectory:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
    }
    ok = ok && archive_write_header(a, e) == ARCHIVE_OK;
    if (ok && m.type == RawMember::Type::kFile && !m.data.empty()) {
      ok = archive_write_data(a, m.data.data(), m.data.size()) ==
           static_cast<la_ssize_t>(m.data.size());
    }
    archive_entry_free(e);
  }
  ok = archive_write_close(a) == ARCHIVE_OK && ok;
  archive_write_free(a);
  return ok;
}

// Two small databases, a manifest describing them, and its signature by key: the parts of a
// valid bundle, for a test to spoil one at a time before Members() writes them.
struct BundleParts {
  std::vector<RawMember> files = {
      {"a.ndb", "# comment\nKensa.A:0:*:414141\n\nKensa.B:0:*:424242\n"},
      {"b.hdb", "aa15bcf478d165efd2065190eb473bcb:544:Kensa.C\n"},
  };
  Manifest manifest;
  std::string manifest_text;
  std::string signature_file;

  // Describes files in the manifest and signs it with key.
  void Seal(const Ed25519Key& key, const std::string& version = "7") {
    manifest = Manifest{};
    manifest.version = *ParseBundleVersion(version);
    manifest.created = "2024-06-15T12:00:00Z";
    manifest.min_kensa_version = *ParseBundleVersion("0.1");
    for (const RawMember& f : files) {
      uint64_t sigs = 0;
      std::istringstream in(f.data);
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line[0] != '#') ++sigs;
      }
      manifest.files.push_back({f.name, f.data.size(), Sha256Hex(f.data), sigs});
    }
    manifest.totals = ComputeTotals(manifest.files);
    manifest_text = FormatManifest(manifest);
    signature_file = EncodeSignatureFile(*key.Sign(manifest_text));
  }

  std::vector<RawMember> Members() const {
    std::vector<RawMember> m = {{kManifestName, manifest_text}, {kSignatureName, signature_file}};
    m.insert(m.end(), files.begin(), files.end());
    return m;
  }
};

}  // namespace kensa::feed::testing

#endif  // KENSA_FEED_TEST_BUNDLE_H_
