// SPDX-License-Identifier: GPL-2.0-or-later
// Canaries: the samples and the check that a freshly built engine classifies them right.
// A set that misses EICAR has lost its signatures; one that flags plain text would quarantine
// ordinary mail. Either must never be published.
#include "sigs/canaries.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sigs/signature_set.h"

namespace kensa::sigs {
namespace {

constexpr std::string_view kCanaryTextName = "canary.txt";
constexpr std::string_view kCanaryText = "kensa canary: a clean text file\n";
// zlib.crc32(kCanaryText); canaries_test checks the archive with Python's zipfile.
constexpr uint32_t kCanaryTextCrc32 = 0x4cae9bb1;

void PutLe16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}

void PutLe32(std::string& out, uint32_t v) {
  PutLe16(out, v & 0xffff);
  PutLe16(out, v >> 16);
}

}  // namespace

std::string EicarTestFile() {
  // Two halves, so this source file and the binary do not carry the signature itself.
  std::string eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
  eicar += "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  return eicar;
}

std::string StoredZip(std::string_view entry_name, std::string_view content, uint32_t crc32) {
  // PKWARE APPNOTE 4.3: local file header, data, central directory header, end record.
  constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50,
                     kEndOfCentralDirectory = 0x06054b50;
  constexpr uint32_t kVersionNeeded = 10;  // 1.0: stored entries
  constexpr uint32_t kMethodStored = 0;
  constexpr uint32_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, time 00:00
  const auto size = static_cast<uint32_t>(content.size());
  const auto name_size = static_cast<uint32_t>(entry_name.size());

  std::string zip;
  PutLe32(zip, kLocalHeader);
  PutLe16(zip, kVersionNeeded);
  PutLe16(zip, 0);  // flags
  PutLe16(zip, kMethodStored);
  PutLe16(zip, 0);  // time
  PutLe16(zip, kDosDate1980);
  PutLe32(zip, crc32);
  PutLe32(zip, size);  // compressed
  PutLe32(zip, size);  // uncompressed
  PutLe16(zip, name_size);
  PutLe16(zip, 0);  // extra field length
  zip.append(entry_name);
  zip.append(content);

  const auto central_offset = static_cast<uint32_t>(zip.size());
  PutLe32(zip, kCentralHeader);
  PutLe16(zip, kVersionNeeded);  // version made by
  PutLe16(zip, kVersionNeeded);
  PutLe16(zip, 0);  // flags
  PutLe16(zip, kMethodStored);
  PutLe16(zip, 0);  // time
  PutLe16(zip, kDosDate1980);
  PutLe32(zip, crc32);
  PutLe32(zip, size);
  PutLe32(zip, size);
  PutLe16(zip, name_size);
  PutLe16(zip, 0);  // extra field length
  PutLe16(zip, 0);  // comment length
  PutLe16(zip, 0);  // disk number
  PutLe16(zip, 0);  // internal attributes
  PutLe32(zip, 0);  // external attributes
  PutLe32(zip, 0);  // offset of the local header
  zip.append(entry_name);
  const auto central_size = static_cast<uint32_t>(zip.size()) - central_offset;

  PutLe32(zip, kEndOfCentralDirectory);
  PutLe16(zip, 0);  // this disk
  PutLe16(zip, 0);  // disk with the central directory
  PutLe16(zip, 1);  // entries on this disk
  PutLe16(zip, 1);  // entries in total
  PutLe32(zip, central_size);
  PutLe32(zip, central_offset);
  PutLe16(zip, 0);  // comment length
  return zip;
}

std::vector<CanarySample> CleanCanarySamples() {
  return {
      {"plain text", "Hello,\r\n\r\nthe meeting moves to 15:00 on Thursday.\r\n\r\nRegards\r\n"},
      {"HTML",
       "<!DOCTYPE html>\n<html><head><title>Newsletter</title></head>\n"
       "<body><p>Spring <b>sale</b>: <a href=\"https://example.com/\">see the offers</a>.</p>"
       "</body></html>\n"},
      {"zip of text", StoredZip(kCanaryTextName, kCanaryText, kCanaryTextCrc32)},
  };
}

absl::Status CheckCanaries(const scan::ClamEngine& engine) {
  const scan::ScanResult eicar = engine.ScanBuffer(EicarTestFile(), "canary-eicar");
  if (eicar.kind != scan::ScanResult::Kind::kInfected) {
    return absl::FailedPreconditionError(
        eicar.name.empty() ? "canary: EICAR not detected"
                           : absl::StrCat("canary: EICAR not detected (", eicar.name, ")"));
  }
  for (const CanarySample& sample : CleanCanarySamples()) {
    const scan::ScanResult r = engine.ScanBuffer(sample.data, sample.name);
    if (!r.clean()) {
      return absl::FailedPreconditionError(
          absl::StrCat("canary: clean ", sample.name, " sample flagged as ", r.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace kensa::sigs
