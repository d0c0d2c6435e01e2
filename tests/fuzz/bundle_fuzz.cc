// SPDX-License-Identifier: GPL-2.0-or-later
// Bundles come from the network: the reader gets any archive bytes and must answer with a
// status, never a crash, never a file outside the staging directory, and never a partial
// staging directory. Each input is read three ways: with the signature unchecked (so the
// fuzzer reaches the member checks without forging Ed25519), verified with the fixed test
// key, and extracted. The seeds in corpus/bundle_fuzz are signed with that key's private half,
// tests/fuzz/bundle_fuzz_test_key.pem (a test key, trusted by nothing else):
//   kensa-sigtool build DIR --version 1 -o seed && kensa-sigtool sign seed --key
//   bundle_fuzz_test_key.pem
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "feed/bundle_reader.h"
#include "feed/ed25519_keys.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr char kTestPublicKey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAeO1vihG5upe3wpf32tRoa5riIvgxLZIS51b5PHtWG0w=\n"
    "-----END PUBLIC KEY-----\n";

kensa::feed::BundleLimits SmallLimits() {
  kensa::feed::BundleLimits l;
  l.max_bundle_bytes = 1 << 20;
  l.max_unpacked_bytes = 1 << 20;
  l.max_files = 16;
  l.max_manifest_bytes = 16 * 1024;
  return l;
}

// Checks what the reader hands a sink: only files the manifest lists, never past their size.
class CheckingSink : public kensa::feed::MemberSink {
 public:
  absl::Status Begin(const kensa::feed::ManifestFile& file) override {
    Check(kensa::feed::ValidateDatabaseFileName(file.name).ok());
    size_ = file.size;
    written_ = 0;
    return absl::OkStatus();
  }
  absl::Status Write(std::string_view chunk) override {
    written_ += chunk.size();
    Check(written_ <= size_);
    return absl::OkStatus();
  }
  absl::Status Finish(const kensa::feed::ManifestFile& file) override {
    Check(written_ == file.size);
    return absl::OkStatus();
  }

 private:
  uint64_t size_ = 0;
  uint64_t written_ = 0;
};

struct Fixture {
  Fixture() {
    absl::StatusOr<kensa::feed::Ed25519Key> key =
        kensa::feed::Ed25519Key::PublicFromPem(kTestPublicKey);
    Check(key.ok());
    keys.push_back(*std::move(key));
    const char* tmp = getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kensa-bundle-fuzz.XXXXXX";
    Check(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    fd = memfd_create("bundle", MFD_CLOEXEC);
    Check(fd >= 0);
    path = absl::StrCat("/proc/self/fd/", fd);
  }
  ~Fixture() {  // libFuzzer ends with exit(), which runs this: no directory is left behind
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    close(fd);
  }
  kensa::feed::TrustedKeys keys;
  std::string dir;
  int fd = -1;
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  Fixture* const f = &fixture;
  Check(ftruncate(f->fd, 0) == 0);
  Check(pwrite(f->fd, data, size, 0) == static_cast<ssize_t>(size));
  const kensa::feed::BundleLimits limits = SmallLimits();

  CheckingSink sink;
  (void)kensa::feed::ReadUnverifiedBundle(f->path, sink, limits);
  (void)kensa::feed::ReadBundleHead(f->path, limits);
  absl::StatusOr<kensa::feed::VerifiedManifest> verified =
      kensa::feed::VerifyBundle(f->path, f->keys, limits);

  const std::string staging = f->dir + "/staging";
  absl::StatusOr<kensa::feed::VerifiedManifest> extracted =
      kensa::feed::ExtractBundle(f->path, f->keys, staging, limits);
  Check(extracted.ok() == verified.ok());
  std::error_code ec;
  if (!extracted.ok()) {
    Check(!std::filesystem::exists(staging, ec));  // nothing partial is left behind
  } else {
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(staging, ec)) {
      Check(e.is_regular_file() && extracted->manifest.Find(e.path().filename().string()));
      ++files;
    }
    Check(files == extracted->manifest.files.size());
    std::filesystem::remove_all(staging, ec);
  }
  // Nothing ever lands beside the staging directory (a "../x" escaping it, say).
  Check(std::filesystem::is_empty(f->dir, ec));
  return 0;
}
