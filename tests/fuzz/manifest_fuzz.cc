// SPDX-License-Identifier: GPL-2.0-or-later
// Manifests come from signature feeds: any bytes get a status, never a crash; a manifest that
// parses formats back to text that parses to the same manifest, and every name in it is one
// a bundle may hold.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "feed/manifest.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kensa::feed::Manifest> m = kensa::feed::ParseManifest(in);
  if (!m.ok()) {
    Check(!m.status().message().empty());
    return 0;
  }
  Check(!m->files.empty());
  for (const kensa::feed::ManifestFile& f : m->files) {
    Check(kensa::feed::ValidateDatabaseFileName(f.name).ok());
    Check(f.sha256.size() == 64);
  }
  Check(m->totals == kensa::feed::ComputeTotals(m->files));
  const std::string text = kensa::feed::FormatManifest(*m);
  absl::StatusOr<kensa::feed::Manifest> back = kensa::feed::ParseManifest(text);
  Check(back.ok());
  Check(kensa::feed::FormatManifest(*back) == text);
  return 0;
}
